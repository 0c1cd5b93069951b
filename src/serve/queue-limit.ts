// FreeBSD inetd's max-child (`instances` whose limit queues): at the limit the listening socket
// stops accepting without being closed, clients wait in the kernel's listen queue, and a
// connection accepted before the pause took effect waits on its listener, unserved, until a
// server ends (FreeBSD's addchild()/reapchild()). limits.ts acceptPaused() decides; this applies
// it to the listeners, for the daemon's own accepting and the helper's alike.

import { acceptPaused, runsCountedServer } from '../admission/limits.js';
import type { Listener } from './listener.js';
import type { ListenerSet } from './listeners.js';
import type { Say } from '../message-codes.js';
import type { Service } from '../table.js';
import { present } from '../util/invariant.js';

export class QueueingLimits {
  /** Running servers per service id for the queueing limits (countServer()). */
  private readonly counted = new Map<string, number>();
  /** Ids of the services whose limit queues (as of the last reload): those rebalance() looks after. */
  private queueing = new Set<string>();
  /** Ids rebalance() still has to look at (a pass can ask for another, see there). */
  private readonly toRebalance = new Set<string>();
  private rebalancing = false;

  /** `guard`: runs the serving of one client so that a bug in it cannot take the daemon down. */
  constructor(
    private readonly listeners: ListenerSet,
    private readonly daemon: Say,
    private readonly guard: (l: Listener, work: Promise<void>) => void,
  ) {}

  /** The listeners were reconciled with a new table: limits may have changed, new sockets accept. */
  reloaded(): void {
    this.queueing = new Set(this.listeners.all.filter((l) => l.service.instances_at_limit === 'queue').map((l) => l.service.id));
    for (const l of this.listeners.all) if (this.queueing.has(l.service.id) || l.heldCount > 0) this.rebalance(l.service.id);
  }

  /**
   * Serves a connection a stream listener accepted, unless its service is at a queueing limit
   * (acceptPaused, FreeBSD max-child): then the connection was accepted before the pause took
   * effect, and waits on the listener, unserved, until a server ends (rebalance()).
   */
  gate(l: Listener, serve: () => Promise<void>, drop: () => void): void {
    const run = (): void => {
      const work = serve();
      // A client refused, or a server that could not start, frees what it held: look again.
      if (l.service.instances_at_limit === 'queue') void work.finally(() => this.rebalance(l.service.id)).catch(() => {});
      this.guard(l, work);
    };
    // Behind connections already waiting, in order (they were accepted first).
    if (l.heldCount > 0 || acceptPaused(l.service, this.counted.get(l.service.id) ?? 0)) {
      l.hold({ serve: run, drop });
      this.rebalance(l.service.id);
    } else {
      run();
    }
  }

  /** Running servers per service id, as admission counts them (runsCountedServer), kept across reloads. */
  countServer(service: Service, delta: 1 | -1): void {
    if (!runsCountedServer(service)) return;
    const n = Math.max(0, (this.counted.get(service.id) ?? 0) + delta);
    if (n === 0) this.counted.delete(service.id);
    else this.counted.set(service.id, n);
    // The listener's service, not this one: a reload may have made the limit queue since.
    if (this.queueing.has(service.id)) this.rebalance(service.id);
  }

  /**
   * FreeBSD's addchild()/reapchild() for the service with this id: below its limit, the
   * connections held on its listener are served, oldest first (at most as many as there is
   * room for); then the listener accepts exactly while the service is below the limit.
   * Re-entered (a served connection's start counts a server), it only queues one more pass.
   */
  private rebalance(id: string): void {
    this.toRebalance.add(id);
    if (this.rebalancing) return;
    this.rebalancing = true;
    try {
      for (let next = this.firstToRebalance(); next !== undefined; next = this.firstToRebalance()) this.rebalanceOnce(next);
    } finally {
      this.rebalancing = false;
    }
  }

  private firstToRebalance(): string | undefined {
    const id = this.toRebalance.values().next().value;
    if (id !== undefined) this.toRebalance.delete(id);
    return id;
  }

  private rebalanceOnce(id: string): void {
    const l = this.listeners.byService(id);
    if (l === undefined) return;
    const service = l.service;
    const running = (): number => this.counted.get(id) ?? 0;
    // A limit that no longer queues (reload) lets every held connection go.
    let room = service.instances === null || service.instances_at_limit !== 'queue' ? l.heldCount : Math.max(0, service.instances - running());
    for (; room > 0 && l.heldCount > 0 && !acceptPaused(service, running()); room--) present(l.takeHeld(), 'a held connection, heldCount being > 0').serve();
    const on = !acceptPaused(service, running()) && l.heldCount === 0;
    // FreeBSD says nothing at the limit (only its debug mode does): a debug line here too.
    if (l.setAccepting(on)) {
      this.daemon(
        'max-child',
        'debug',
        `service ${id}: ${running()} server(s) running, max-child ${service.instances ?? 'none'}: ${on ? 'accepting again' : 'not accepting'}`,
        on ? 'svc_resume' : 'svc_suspend',
      );
    }
  }
}
