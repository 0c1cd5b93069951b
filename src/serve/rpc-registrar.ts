// Keeps rpcbind's table in step with the RPC services being served: the mappings wanted (from
// the bound sockets, rpc-plan.ts wantedOf) are made, those no longer wanted removed, one sync at
// a time. Stateful around the pure planSync(); the calls are rpcbind-client.ts's.
//
// rpcbind absent or not answering: one error line, the services are served meanwhile (a client
// that knows the port reaches them), and the sync is tried again in the background, pausing as
// bind-retry.ts does for ports (1 s doubling to 60 s), with a line when it works again.
//
// rpcbind restarted: it forgets every mapping (unless started with -w, which restores them).
// Every `checkMs` the registrar asks for rpcbind's table (one DUMP over the unix socket, a few
// hundred bytes) and makes again any of its mappings that is missing. That is cheaper and surer
// than watching the socket file: under systemd's rpcbind.socket the socket, and its inode, stay
// the same across a restart of rpcbind.

import { bindRetryDelayMs, DEFAULT_BIND_RETRY_MS } from './bind-retry.js';
import type { Say } from '../message-codes.js';
import { mappingKey, planSync, type Wanted } from './rpc-plan.js';
import type { RpcbindCalls } from './rpcbind-client.js';
import type { Rpcb } from './rpc-xdr.js';

/** How often rpcbind's table is checked for lost mappings; TSINETD_RPCBIND_CHECK_MS changes it. */
export const DEFAULT_RPCBIND_CHECK_MS = 10_000;

export type DaemonLog = Say;

export interface RegistrarOptions {
  checkMs?: number;
  /** The first pause after rpcbind could not be reached (then doubling, bind-retry.ts). */
  retryBaseMs?: number;
}

export class RpcRegistrar {
  private wanted: Wanted[] = [];
  /** The mappings this daemon made and has not removed, by mappingKey. */
  private readonly ours = new Map<string, Rpcb>();
  private running: Promise<void> | null = null;
  private again = false;
  /** Failed syncs in a row (0: rpcbind answered last time). */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly checkTimer: NodeJS.Timeout;
  private readonly retryBaseMs: number;
  /** Conflicts already logged (mappingKey → address held), so that each is logged once. */
  private readonly conflictsLogged = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly calls: RpcbindCalls,
    private readonly log: DaemonLog,
    opts: RegistrarOptions = {},
  ) {
    this.retryBaseMs = opts.retryBaseMs ?? DEFAULT_BIND_RETRY_MS;
    this.checkTimer = setInterval(
      () => {
        if (this.failures === 0 && (this.wanted.length > 0 || this.ours.size > 0)) void this.sync();
      },
      Math.max(10, opts.checkMs ?? DEFAULT_RPCBIND_CHECK_MS),
    );
    this.checkTimer.unref();
  }

  /** The mappings made now (for --dump and the state dump). */
  registered(): Rpcb[] {
    return [...this.ours.values()];
  }

  /** Wants exactly `wanted` registered; resolves once rpcbind has been asked (or could not be). */
  want(wanted: readonly Wanted[]): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.wanted = [...wanted];
    return this.sync();
  }

  /** Removes every mapping made (the daemon stops), and stops checking. */
  async stop(): Promise<void> {
    this.wanted = [];
    clearInterval(this.checkTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ours.size > 0 || this.running !== null) await this.sync();
    this.stopped = true;
  }

  /** Runs a sync now, or once more after the one running. */
  sync(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      this.again = false;
      do await this.syncOnce();
      while (this.takeAgain());
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Whether a sync was asked for while one ran (and forgets it). */
  private takeAgain(): boolean {
    const again = this.again;
    this.again = false;
    return again;
  }

  private async syncOnce(): Promise<void> {
    const where = this.calls.where;
    try {
      const table = await this.calls.dump();
      const plan = planSync(this.wanted, this.ours, table);
      for (const r of plan.unset) {
        await this.calls.unset(r);
        this.ours.delete(mappingKey(r));
      }
      // Ours and still wanted at the same address: kept; those no longer wanted are forgotten.
      const wantedKeys = new Set(this.wanted.map((w) => mappingKey(w.rpcb)));
      for (const key of [...this.ours.keys()]) if (!wantedKeys.has(key)) this.ours.delete(key);
      for (const r of table) {
        const w = this.wanted.find((x) => mappingKey(x.rpcb) === mappingKey(r));
        if (w !== undefined && w.rpcb.addr === r.addr) this.ours.set(mappingKey(r), w.rpcb);
      }
      if (plan.lost.length > 0) {
        const ids = [...new Set(plan.lost.map((w) => w.serviceId))].join(', ');
        this.log(
          'rpcbind-lost',
          'notice',
          `rpcbind at ${where} lost ${plan.lost.length} mapping${plan.lost.length === 1 ? '' : 's'} (restarted?): registering ${ids} again`,
          'rpc_register',
        );
      }
      const counts = new Map<string, number>();
      for (const w of plan.set) {
        const key = mappingKey(w.rpcb);
        this.ours.delete(key);
        if (await this.calls.set(w.rpcb)) {
          this.ours.set(key, w.rpcb);
          counts.set(w.serviceId, (counts.get(w.serviceId) ?? 0) + 1);
        } else {
          // xinetd's words (activate_rpc), for a SET that rpcbind refused.
          this.log('pmap-set-failed', 'error', `pmap_set failed. service=${w.serviceId} program=${w.rpcb.prog} version=${w.rpcb.vers}`, 'activate_rpc');
        }
      }
      for (const [id, n] of counts) this.log('rpc-registered', 'debug', `Registered ${n} versions of ${id}`, 'activate_rpc');
      for (const c of plan.conflicts) {
        const key = mappingKey(c.wanted.rpcb);
        if (this.conflictsLogged.get(key) === c.held.addr) continue;
        this.conflictsLogged.set(key, c.held.addr);
        this.log(
          'pmap-set-failed',
          'error',
          `pmap_set failed. service=${c.wanted.serviceId} program=${c.wanted.rpcb.prog} version=${c.wanted.rpcb.vers} (rpcbind already maps it for ${c.held.netid} to ${c.held.addr}, owner ${c.held.owner})`,
          'activate_rpc',
        );
      }
      for (const key of [...this.conflictsLogged.keys()]) if (!plan.conflicts.some((c) => mappingKey(c.wanted.rpcb) === key)) this.conflictsLogged.delete(key);
      if (this.failures > 0) {
        this.log(
          'rpcbind-back',
          'notice',
          `rpcbind at ${where} answers again after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'}: ${this.ours.size} mapping${this.ours.size === 1 ? '' : 's'} registered`,
          'rpc_register',
        );
        this.failures = 0;
      }
    } catch (err) {
      if (this.stopped || (this.wanted.length === 0 && this.retryTimer === null && this.failures === 0 && this.ours.size === 0)) return;
      this.failures++;
      const e = err as NodeJS.ErrnoException;
      const why = e.code !== undefined ? `${e.code}: ${e.message}` : e.message;
      const next = bindRetryDelayMs(this.failures, this.retryBaseMs);
      if (this.failures === 1) {
        this.log(
          'rpcbind-unreachable',
          'error',
          `rpcbind at ${where} cannot be reached (${why}): RPC services are served but not registered; trying again in ${next / 1000} s, then less often`,
          'rpc_register',
        );
      }
      if (this.wanted.length === 0) return; // stopping: nothing more to remove with rpcbind gone
      if (this.retryTimer !== null) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.sync();
      }, next);
      this.retryTimer.unref();
    }
  }
}
