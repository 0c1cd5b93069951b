// All listening sockets of a daemon (ListenerSet), kept so that a reload can reconcile old and
// new tables: a service whose sockets are unchanged (listen-plan.ts socketKey) keeps its
// Listener (only its settings are replaced, listener.ts), others are closed or opened.

import type { Acceptor, HelperSockets } from '../spawn/spawn-types.js';
import type { Service } from '../table.js';
import { helperAccepts, listenPlans, socketKey, unservedHere } from './listen-plan.js';
import { Listener, type ListenerEvents, type ListenerState } from './listener.js';

export interface ApplyResult {
  /** Listeners opened for services new to this set. */
  opened: Listener[];
  /** Listeners kept (same plan) with their service replaced. */
  kept: Listener[];
  /** Listeners closed because no service wants them any more. */
  closed: Listener[];
  /**
   * Services that could not be served, and why. With `error` (the socket could not be bound),
   * `retrying` tells whether the listener stays in the set and keeps trying.
   */
  failed: Array<{ service: Service; reason: string; error?: NodeJS.ErrnoException; retrying?: boolean }>;
}

export interface ListenerSetOptions {
  /** First pause before binding again after a bind error; null: give the service up (xinetd). */
  bindRetryMs: number | null;
  /** The spawner's helper, to accept for the services it can (helperAccepts()); null: none. */
  acceptor?: Acceptor | null;
  /** The spawner's helper sockets, which hold unix-domain datagram sockets; null or absent: none. */
  helperSockets?: HelperSockets | null;
}

/** The first pause before a unix-domain datagram socket lost with its spawn helper is bound again, when bind retries are off. */
const LOST_SOCKET_RETRY_MS = 1000;

/** All listening sockets of a daemon. */
export class ListenerSet {
  private listeners: Listener[] = [];

  private readonly byId = new Map<number, Listener>();

  constructor(
    private readonly events: ListenerEvents,
    private readonly opts: ListenerSetOptions = { bindRetryMs: null },
  ) {
    opts.acceptor?.setEvents({
      connection: (lid, conn) => {
        const l = this.byId.get(lid);
        if (l === undefined) conn.drop();
        else events.accepted(l, conn);
      },
      error: (lid, err) => {
        const l = this.byId.get(lid);
        if (l !== undefined) events.error(l, err);
      },
    });
    opts.helperSockets?.onLost((id) => {
      const l = this.byId.get(id);
      if (l === undefined) return;
      const err: NodeJS.ErrnoException = new Error('the spawn helper holding the socket exited; it is bound again');
      err.code = 'EPIPE';
      events.error(l, err);
      void l.heldSocketLost(opts.bindRetryMs ?? LOST_SOCKET_RETRY_MS);
    });
  }

  get all(): readonly Listener[] {
    return this.listeners;
  }

  /** Listening now (not suspended, not failed). */
  get active(): Listener[] {
    return this.listeners.filter((l) => l.state === 'active');
  }

  /** The (first) listener serving the service with this id, if any. */
  byService(id: string): Listener | undefined {
    return this.listeners.find((l) => l.service.id === id);
  }

  /** The services with at least one socket listening now, each once. */
  get activeServices(): Service[] {
    const seen = new Map<string, Service>();
    for (const l of this.active) if (!seen.has(l.service.id)) seen.set(l.service.id, l.service);
    return [...seen.values()];
  }

  /**
   * Each service's listening state: that of its most available socket (active, then
   * suspended, retrying, new, closed), for a service with one socket per family.
   */
  get states(): Map<string, ListenerState> {
    const rank: ListenerState[] = ['active', 'suspended', 'retrying', 'new', 'closed'];
    const out = new Map<string, ListenerState>();
    for (const l of this.listeners) {
      const was = out.get(l.service.id);
      if (was === undefined || rank.indexOf(l.state) < rank.indexOf(was)) out.set(l.service.id, l.state);
    }
    return out;
  }

  /** Waiting for their socket to be bound (bind errors, retried in the background). */
  get retrying(): Listener[] {
    return this.listeners.filter((l) => l.state === 'retrying');
  }

  /**
   * Makes the set serve exactly `services`: unchanged plans keep their socket, the rest is
   * closed first (so that an address can move between services) and then opened.
   */
  async apply(services: readonly Service[]): Promise<ApplyResult> {
    const result: ApplyResult = { opened: [], kept: [], closed: [], failed: [] };
    const pool = new Map<string, Listener[]>();
    for (const l of this.listeners) {
      const list = pool.get(l.key) ?? [];
      list.push(l);
      pool.set(l.key, list);
    }
    const toOpen: Listener[] = [];
    const next: Listener[] = [];
    for (const service of services) {
      const r = listenPlans(service);
      if (!r.ok) {
        result.failed.push({ service, reason: r.reason });
        continue;
      }
      const unserved = unservedHere(r.plans[0], this.opts.helperSockets != null);
      if (unserved !== null) {
        result.failed.push({ service, reason: unserved });
        continue;
      }
      const acceptor = this.opts.acceptor != null && helperAccepts(service) ? this.opts.acceptor : null;
      for (const plan of r.plans) {
        const reuse = pool.get(socketKey(plan))?.shift();
        if (reuse !== undefined) {
          await reuse.reassign(service, acceptor);
          result.kept.push(reuse);
          next.push(reuse);
        } else {
          const l = new Listener(service, plan, this.events, acceptor, this.opts.helperSockets ?? null);
          // Known at once: the helper may report a connection before apply() is over.
          this.byId.set(l.id, l);
          toOpen.push(l);
        }
      }
    }
    for (const list of pool.values()) {
      for (const l of list) {
        await l.close();
        result.closed.push(l);
      }
    }
    for (const l of toOpen) {
      try {
        await l.open();
        result.opened.push(l);
        next.push(l);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOTSUP') {
          // This process cannot make such a socket at all (listener.ts): not a bind error, and not retried.
          await l.close();
          result.failed.push({ service: l.service, reason: e.message });
        } else if (this.opts.bindRetryMs !== null) {
          l.retryBind(this.opts.bindRetryMs);
          next.push(l);
          result.failed.push({ service: l.service, reason: e.message, error: e, retrying: true });
        } else {
          await l.close();
          result.failed.push({ service: l.service, reason: e.message, error: e, retrying: false });
        }
      }
    }
    this.listeners = next;
    this.byId.clear();
    for (const l of next) this.byId.set(l.id, l);
    return result;
  }

  async close(): Promise<void> {
    const all = this.listeners;
    this.listeners = [];
    this.byId.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}
