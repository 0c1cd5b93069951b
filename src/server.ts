// The serving core, independent of configuration loading: given services, a log, a spawner and
// admission, it listens, serves, reaps servers (EXIT lines, admission accounting) and can be
// reconciled with a new table (reload) or stopped. The daemon (daemon.ts) wraps it with
// config loading, the pid file and signals; tests use it directly.

import type * as net from 'node:net';
import { allowAll, type Admission } from './admission-types.js';
import { daemonUmaskFrom, NO_ADDRESS, type ChildContext, type Environment } from './child-env.js';
import { serveAccepted, serveStream } from './connection.js';
import { finished, type Refusal, type RunningServer, type ServeContext } from './serve-context.js';
import { serveDatagram } from './serve-datagram.js';
import { serveWait } from './serve-wait.js';
import type { Peer } from './peer.js';
import { bindErrorText, bindRetryDelayMs, DEFAULT_BIND_RETRY_MS, MAX_BIND_RETRY_MS, shouldLogBindRetry } from './bind-retry.js';
import type { BindRetryOutcome, Listener, ListenerEvents, ListenerState } from './listener.js';
import { ListenerSet } from './listeners.js';
import type { ServeMetrics } from './metrics.js';
import type { DaemonLevel, EventLog, LogEvent } from './log-types.js';
import { FailLogLimiter } from './fail-log-limiter.js';
import { DEFAULT_LOGPROCS, IDENT_PORT, IDENT_TIMEOUT_MS, IdentLimiter, lookupIdent, type IdentContext, type IdentRequest, type IdentResult } from './ident.js';
import { suppressedEvent } from './log-format.js';
import { RedirectResolver } from './redirect.js';
import type { ChildStdio, ExitInfo, SpawnSpec, Spawner } from './spawn-types.js';
import { systemDb, type SysDb } from './sysdb.js';
import { systemResolver } from './acl.js';
import { acceptPaused, runsCountedServer } from './limits.js';
import type { Service, ServiceTable } from './table.js';

export interface ServerDeps {
  log: EventLog;
  spawner: Spawner;
  /** Default: admit everyone (allowAll). */
  admission?: Admission;
  /** The environment servers inherit (default process.env). */
  env?: Environment;
  db?: SysDb;
  /** The daemon's effective uid (default process.geteuid()). */
  uid?: number;
  /** The umask servers get when their service sets none (default: the current one ORed with 022). */
  umask?: number;
  now?: () => Date;
  /** Counts accepted and refused clients and server starts (the metrics endpoint). */
  metrics?: ServeMetrics;
  /** USERID lookups (ident.ts): -logprocs and the identd port; defaults as xinetd's. */
  ident?: IdentOptions;
  /**
   * First pause before binding again a socket that could not be bound (bind-retry.ts); null
   * gives such a service up until the next reload. Default DEFAULT_BIND_RETRY_MS.
   */
  bindRetryMs?: number | null;
}

export interface IdentOptions {
  /** -logprocs N: lookups for refused clients at a time (default 15). */
  logprocs?: number | null;
  /** The identd port asked (default 113). */
  port?: number;
  successTimeoutMs?: number;
  failureTimeoutMs?: number;
  lookup?: (req: IdentRequest) => Promise<IdentResult>;
}

/** What a consistency check (consistency.ts) is given about serving. */
export interface ServingState {
  /** `socket`: the listener's key (a service may have one socket per address family). */
  listeners: Array<{ id: string; socket?: string; state: ListenerState; hasSocket: boolean }>;
  /** Server programs believed to be running. */
  servers: Array<{ pid: number; id: string }>;
  /** In-process connections (internal services, redirects) by service id. */
  inProcess: Map<string, number>;
  /** Program starts asked of the spawner and not confirmed yet. */
  startsInFlight: number;
}

export interface ReloadSummary {
  /** Services started by the reload. */
  added: number;
  /** Services that kept their socket (settings replaced). */
  kept: number;
  /** Services no longer served. */
  dropped: number;
}

export interface ServerHandle {
  /** Services listening now (xinetd's "available services"). */
  readonly available: number;
  /** Services whose socket could not be bound yet and that keep trying (bind-retry.ts). */
  readonly pending: number;
  /** The services listening now. */
  activeServices(): Service[];
  /** Running servers: programs, plus in-process internal services and redirects. */
  runningServers(service?: Service): number;
  /** pids of the running server programs. */
  serverPids(): number[];
  /** The port a service (by id) listens on now, or null (useful with `port = 0` in tests). */
  portOf(id: string): number | null;
  /** The state of each service with a socket now (listening, or suspended for a while), by id. */
  listenerStates(): Map<string, ListenerState>;
  /** Serves exactly the servable services of `table` from now on (see ListenerSet.apply). */
  reload(table: ServiceTable | readonly Service[]): Promise<ReloadSummary>;
  /**
   * Sends `signal` to every running server program, including those whose start is still
   * being confirmed (waited for up to `settleMs`); resolves with how many were signalled.
   */
  killServers(signal?: NodeJS.Signals, settleMs?: number): Promise<number>;
  /**
   * Ends the servers of the services with these ids (a reload removed them): programs get
   * `signal`, in-process connections (internal services, redirects) are closed. Returns the
   * programs signalled and how many in-process connections were closed.
   */
  endServersOf(ids: ReadonlySet<string>, signal?: NodeJS.Signals, settleMs?: number): Promise<{ programs: Array<{ id: string; pid: number }>; inProcess: number }>;
  /** What the consistency check looks at (see consistency.ts). */
  servingState(): ServingState;
  /** Stops listening and ends in-process connections; server programs are left alone. */
  close(): Promise<void>;
}

/** The services of a table that the daemon tries to serve: enabled and without problems. */
export function servableServices(table: ServiceTable | readonly Service[]): Service[] {
  const services = 'services' in table ? table.services : table;
  return services.filter((s) => s.enabled && s.problems.length === 0);
}

function currentUmask(): number {
  const old = process.umask(0o022);
  process.umask(old);
  return old;
}

/** The cause xinetd gives when it deactivates a service. */
function deactivationCause(decision: Refusal): string {
  return decision.reason === 'connections per second' ? 'excessive incoming connections' : decision.reason;
}

/** Exits reported before their spawn() resolved, kept at most this many. */
const MAX_EARLY_EXITS = 1024;

class Server implements ServerHandle {
  private readonly listeners: ListenerSet;
  private readonly bindRetryMs: number | null;
  private readonly servers = new Map<number, RunningServer>();
  private readonly earlyExits = new Map<number, ExitInfo>();
  private readonly inProcess = new Map<net.Socket, Service>();
  private readonly ctx: ServeContext;
  private stopping = false;
  /** Bounds the FAIL lines a flood can write (the counts of held-back lines are logged). */
  private readonly failLimiter = new FailLogLimiter(() => performance.now());
  private readonly failServices = new Map<string, Service>();
  private readonly failFlush: NodeJS.Timeout;
  /** Running servers per service id for the queueing limits (countServer()). */
  private readonly counted = new Map<string, number>();
  /** Ids of the services whose limit queues (as of the last reload): those rebalance() looks after. */
  private queueing = new Set<string>();
  /** Ids rebalance() still has to look at (a pass can ask for another, see there). */
  private readonly toRebalance = new Set<string>();
  private rebalancing = false;
  /** Starts asked of the spawner and not confirmed yet (a stop must wait for them to kill them). */
  private readonly inFlight = new Set<Promise<number>>();
  /** Ends USERID lookups in progress when the server closes. */
  private readonly identAbort = new AbortController();

  constructor(private readonly deps: ServerDeps) {
    const child: ChildContext = {
      env: deps.env ?? process.env,
      db: deps.db ?? systemDb,
      uid: deps.uid ?? (typeof process.geteuid === 'function' ? process.geteuid() : 0),
      umask: deps.umask ?? daemonUmaskFrom(currentUmask()),
    };
    const self = this;
    const admission = deps.admission ?? allowAll;
    this.failFlush = setInterval(() => this.flushFails(), 5000);
    this.failFlush.unref();
    this.ctx = {
      log: (e: LogEvent) => this.logEvent(e),
      daemon: (level: DaemonLevel, message: string, func?: string) =>
        deps.log.log(func === undefined ? { kind: 'daemon', level, message } : { kind: 'daemon', level, message, func }),
      // Servers are counted here too, for the queueing limits (FreeBSD max-child): see rebalance().
      admission: {
        admit: (service, peer, local) => admission.admit(service, peer, local),
        needsAddress: (service) => admission.needsAddress(service),
        started: (service, peer) => {
          admission.started(service, peer);
          this.countServer(service, 1);
        },
        finished: (service, peer) => {
          admission.finished(service, peer);
          this.countServer(service, -1);
        },
      },
      spawn: (spec, stdio) => this.spawn(spec, stdio),
      child,
      redirects: new RedirectResolver(),
      wrapResolver: systemResolver(),
      track: (s) => this.track(s),
      hold: (socket, service) => this.hold(socket, service),
      refused: (listener, service, peer, decision, report) => this.refused(listener, service, peer, decision, report ?? true),
      now: deps.now ?? (() => new Date()),
      ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {}),
      ident: this.identContext(deps.ident ?? {}),
      ...(deps.spawner.peekSender !== undefined ? { peekSender: (fd: number) => deps.spawner.peekSender!(fd) } : {}),
      get stopping() {
        return self.stopping;
      },
    };
    const events: ListenerEvents = {
      stream: (l, socket) => {
        socket.on('error', () => {}); // a socket held by gate() must not throw either
        this.gate(
          l,
          () => serveStream(this.ctx, l, socket),
          () => socket.destroy(),
        );
      },
      accepted: (l, conn) =>
        this.gate(
          l,
          () =>
            serveAccepted(this.ctx, l, conn).catch((err: unknown) => {
              conn.drop(); // never leave the client waiting in the helper (no-op once decided)
              throw err;
            }),
          () => conn.drop(),
        ),
      datagram: (l, msg, remote) => this.guard(l, serveDatagram(this.ctx, l, msg, remote)),
      waitReady: (l) => this.guard(l, serveWait(this.ctx, l)),
      error: (l, err) => this.listenerError(l, err),
      bindRetried: (l, outcome) => this.bindRetried(l, outcome),
    };
    this.bindRetryMs = deps.bindRetryMs === undefined ? DEFAULT_BIND_RETRY_MS : deps.bindRetryMs;
    this.listeners = new ListenerSet(events, { bindRetryMs: this.bindRetryMs, acceptor: deps.spawner.acceptor ?? null });
    deps.spawner.onExit((info) => this.exited(info));
  }

  private identContext(o: IdentOptions): IdentContext {
    return {
      log: (e) => this.logEvent(e),
      daemon: (level, message, func) => this.deps.log.log(func === undefined ? { kind: 'daemon', level, message } : { kind: 'daemon', level, message, func }),
      lookup: o.lookup ?? lookupIdent,
      limiter: new IdentLimiter(o.logprocs ?? DEFAULT_LOGPROCS),
      identPort: o.port ?? IDENT_PORT,
      successTimeoutMs: o.successTimeoutMs ?? IDENT_TIMEOUT_MS,
      failureTimeoutMs: o.failureTimeoutMs ?? IDENT_TIMEOUT_MS,
      signal: this.identAbort.signal,
    };
  }

  private logEvent(e: LogEvent): void {
    if (e.kind === 'FAIL') this.logFail(e);
    else this.deps.log.log(e);
  }

  /** Writes a FAIL line unless the flood limiter holds it back; true when written. */
  private logFail(e: Extract<LogEvent, { kind: 'FAIL' }>): boolean {
    this.failServices.set(e.service.id, e.service);
    const v = this.failLimiter.decide({ serviceId: e.service.id, source: e.peer?.address ?? NO_ADDRESS, reason: e.reason });
    if (!v.write) return false;
    if (v.suppressed > 0) this.deps.log.log(suppressedEvent(e.service, v.suppressed));
    this.deps.log.log(e);
    return true;
  }

  private refused(l: Listener, service: Service, peer: Peer | null, decision: Refusal, report: boolean): void {
    this.deps.metrics?.refused(service, decision.reason);
    if (report) {
      const written = this.logFail({ kind: 'FAIL', service, reason: decision.reason, peer });
      // The detail is for the daemon log; xinetd itself writes one for an excessive load.
      if (written && decision.detail !== undefined && decision.suspendSeconds === undefined) {
        this.ctx.daemon(decision.level ?? (decision.reason === 'load' ? 'error' : 'info'), decision.detail, decision.reason === 'libwrap' ? 'libwrap' : 'access_control');
      }
    }
    if (decision.suspendSeconds !== undefined) {
      const message =
        decision.reason === 'connections per second' || decision.detail === undefined
          ? `Deactivating service ${l.service.name} due to ${deactivationCause(decision)}.  Restarting in ${decision.suspendSeconds} seconds.`
          : decision.detail;
      const wasActive = l.state === 'active';
      this.deactivate(l, message, decision.suspendSeconds);
      // inetd's own line ("server failing (looping), service terminated") does not say for how long.
      if (wasActive && message === decision.detail) {
        this.ctx.daemon('notice', `service ${l.service.id} is off; restarting in ${decision.suspendSeconds} seconds`, 'service_stop');
      }
    }
  }

  private flushFails(all = false): void {
    for (const r of this.failLimiter.flush(all)) {
      const service = this.failServices.get(r.serviceId);
      if (service !== undefined) this.deps.log.log(suppressedEvent(service, r.count));
    }
  }

  /**
   * Serves a connection a stream listener accepted, unless its service is at a queueing limit
   * (acceptPaused, FreeBSD max-child): then the connection was accepted before the pause took
   * effect, and waits on the listener, unserved, until a server ends (rebalance()).
   */
  private gate(l: Listener, serve: () => Promise<void>, drop: () => void): void {
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
  private countServer(service: Service, delta: 1 | -1): void {
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
    const id = this.toRebalance.values().next().value as string | undefined;
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
    for (; room > 0 && l.heldCount > 0 && !acceptPaused(service, running()); room--) l.takeHeld()!.serve();
    const on = !acceptPaused(service, running()) && l.heldCount === 0;
    // FreeBSD says nothing at the limit (only its debug mode does): a debug line here too.
    if (l.setAccepting(on)) {
      this.ctx.daemon('debug', `service ${id}: ${running()} server(s) running, max-child ${service.instances ?? 'none'}: ${on ? 'accepting again' : 'not accepting'}`, on ? 'svc_resume' : 'svc_suspend');
    }
  }

  /** A bug in serving one client must not take the daemon down. */
  private guard(l: Listener, work: Promise<void>): void {
    work.catch((err: unknown) => {
      this.ctx.daemon('error', `service ${l.service.id}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    });
  }

  private listenerError(l: Listener, err: NodeJS.ErrnoException): void {
    if (err.code === 'EMFILE' || err.code === 'ENFILE') {
      const seconds = Math.max(1, l.service.cps[1]);
      this.deactivate(l, `Deactivating service ${l.service.name} due to no available descriptors.  Restarting in ${seconds} seconds.`, seconds);
      return;
    }
    this.ctx.daemon('error', `service ${l.service.id}, ${err.syscall ?? 'socket'}: ${err.message}`);
  }

  private bindRetried(l: Listener, outcome: BindRetryOutcome): void {
    const id = l.service.id;
    if (outcome.ok) {
      this.ctx.daemon('notice', `Activating service ${id} (bound after ${outcome.attempts} failed attempt${outcome.attempts === 1 ? '' : 's'})`, 'activate_normal');
      return;
    }
    if (!shouldLogBindRetry(outcome.attempt, this.bindRetryMs ?? undefined)) return;
    const next = formatPause(outcome.nextMs);
    this.ctx.daemon('error', `bind retry attempt ${outcome.attempt} failed (${bindErrorText(outcome.error)}). service = ${id}; next attempt in ${next}`, 'activate_normal');
  }

  /**
   * Closes the listener for `seconds` (xinetd's cps_service_stop), then reopens it; an address
   * taken meanwhile is retried in the background (bind-retry.ts), as a bind failure at start.
   */
  private deactivate(l: Listener, message: string, seconds: number): void {
    if (l.state !== 'active') return;
    const name = l.service.name;
    this.ctx.daemon('error', message, 'service_stop');
    void l.suspend(
      seconds,
      (ok, err) => {
        if (ok) {
          this.ctx.daemon('error', `Activating service ${name}`, 'cps_service_restart');
          return;
        }
        this.ctx.daemon('error', `Error activating service ${name}${err !== undefined ? ` (${err.message})` : ''}`, 'cps_service_restart');
        // The address was taken meanwhile: retried in the background, as a bind failure at start.
        if (l.state === 'retrying') this.retryNotice(l.service.id);
      },
      this.bindRetryMs,
    );
  }

  /** Says that a service whose socket could not be bound is retried in the background. */
  private retryNotice(id: string): void {
    if (this.bindRetryMs === null) return;
    const first = formatPause(bindRetryDelayMs(1, this.bindRetryMs));
    const last = formatPause(MAX_BIND_RETRY_MS);
    this.ctx.daemon('notice', `service ${id} will try to bind again in ${first}, then less often (at most every ${last}) until it can`, 'activate_normal');
  }

  private spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number> {
    const p = this.deps.spawner.spawn(spec, stdio);
    this.inFlight.add(p);
    const forget = (): void => {
      this.inFlight.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  private track(s: RunningServer): void {
    const early = this.earlyExits.get(s.pid);
    this.servers.set(s.pid, s);
    if (early !== undefined) {
      this.earlyExits.delete(s.pid);
      this.exited(early);
    }
  }

  private exited(info: ExitInfo): void {
    const s = this.servers.get(info.pid);
    if (s === undefined) {
      // The exit can be reported before spawn() resolved; keep it for track().
      if (this.earlyExits.size >= MAX_EARLY_EXITS) this.earlyExits.delete(this.earlyExits.keys().next().value as number);
      this.earlyExits.set(info.pid, info);
      return;
    }
    this.servers.delete(info.pid);
    this.ctx.daemon('debug', `server ${info.pid} of service ${s.service.id} exited (${info.signal !== null ? `signal ${info.signal}` : `status ${info.code}`})`, 'child_exit');
    this.ctx.log({
      kind: 'EXIT',
      service: s.service,
      pid: info.pid,
      status: info.code,
      signal: info.signal,
      durationSeconds: (performance.now() - s.startedAt) / 1000,
    });
    finished(this.ctx, s.service, s.peer);
    s.onExit?.(info);
  }

  private hold(socket: net.Socket, service: Service): () => void {
    this.inProcess.set(socket, service);
    return () => {
      this.inProcess.delete(socket);
    };
  }

  get available(): number {
    return this.listeners.activeServices.length;
  }

  get pending(): number {
    return this.listeners.retrying.length;
  }

  activeServices(): Service[] {
    return this.listeners.activeServices;
  }

  runningServers(service?: Service): number {
    let n = 0;
    for (const s of this.servers.values()) if (service === undefined || s.service.id === service.id) n++;
    for (const s of this.inProcess.values()) if (service === undefined || s.id === service.id) n++;
    return n;
  }

  serverPids(): number[] {
    return [...this.servers.keys()];
  }

  portOf(id: string): number | null {
    return this.listeners.active.find((l) => l.service.id === id)?.port ?? null;
  }

  listenerStates(): Map<string, ListenerState> {
    return this.listeners.states;
  }

  async start(services: readonly Service[]): Promise<void> {
    await this.reload(services);
  }

  async reload(table: ServiceTable | readonly Service[]): Promise<ReloadSummary> {
    const r = await this.listeners.apply(servableServices(table));
    // Limits may have changed, and a new socket starts accepting: pause it if already at the limit.
    this.queueing = new Set(this.listeners.all.filter((l) => l.service.instances_at_limit === 'queue').map((l) => l.service.id));
    for (const l of this.listeners.all) if (this.queueing.has(l.service.id) || l.heldCount > 0) this.rebalance(l.service.id);
    for (const f of r.failed) {
      if (f.error !== undefined) {
        this.ctx.daemon('error', `bind failed (${bindErrorText(f.error)}). service = ${f.service.id}`, 'activate_normal');
        if (f.retrying === true) this.retryNotice(f.service.id);
      } else {
        this.ctx.daemon('error', `service ${f.service.id} not started: ${f.reason}`, 'svc_activate');
      }
    }
    return { added: r.opened.length, kept: r.kept.length, dropped: r.closed.length };
  }

  /** Waits (at most `settleMs`) for the starts asked of the spawner to be confirmed and tracked. */
  private async settleStarts(settleMs: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((r) => {
        timer = setTimeout(r, settleMs);
      }),
    ]);
    clearTimeout(timer);
    // Let the tracking of just-confirmed starts run.
    await new Promise<void>((r) => setImmediate(r));
  }

  async killServers(signal: NodeJS.Signals = 'SIGTERM', settleMs = 2000): Promise<number> {
    // Servers whose start is not confirmed yet are running already: wait for their pids.
    await this.settleStarts(settleMs);
    const pids = this.serverPids();
    for (const pid of pids) this.deps.spawner.kill(pid, signal);
    return pids.length;
  }

  async endServersOf(
    ids: ReadonlySet<string>,
    signal: NodeJS.Signals = 'SIGKILL',
    settleMs = 2000,
  ): Promise<{ programs: Array<{ id: string; pid: number }>; inProcess: number }> {
    const programs: Array<{ id: string; pid: number }> = [];
    const signalled = new Set<number>();
    const kill = (): void => {
      for (const [pid, s] of this.servers) {
        if (!ids.has(s.service.id) || signalled.has(pid)) continue;
        this.deps.spawner.kill(pid, signal);
        signalled.add(pid);
        programs.push({ id: s.service.id, pid });
      }
    };
    kill();
    // A start of one of these services may still be in flight: it is killed once confirmed.
    if (this.inFlight.size > 0) {
      await this.settleStarts(settleMs);
      kill();
    }
    let inProcess = 0;
    for (const [socket, service] of this.inProcess) {
      if (!ids.has(service.id)) continue;
      socket.destroy();
      inProcess++;
    }
    return { programs, inProcess };
  }

  servingState(): ServingState {
    const inProcess = new Map<string, number>();
    for (const s of this.inProcess.values()) inProcess.set(s.id, (inProcess.get(s.id) ?? 0) + 1);
    return {
      listeners: this.listeners.all.map((l) => ({ id: l.service.id, socket: l.key, state: l.state, hasSocket: l.hasSocket })),
      servers: [...this.servers.values()].map((s) => ({ pid: s.pid, id: s.service.id })),
      inProcess,
      startsInFlight: this.inFlight.size,
    };
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.identAbort.abort();
    clearInterval(this.failFlush);
    // Every count held back is reported, even those of a flood still going on.
    this.flushFails(true);
    await this.listeners.close();
    for (const socket of this.inProcess.keys()) socket.destroy();
    this.inProcess.clear();
  }
}

/** "1 s", "0.2 s", "60 s". */
function formatPause(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Listens for the servable services of `table` and serves them; resolves once every socket is bound (or failed). */
export async function startServer(table: ServiceTable | readonly Service[], deps: ServerDeps): Promise<ServerHandle> {
  const server = new Server(deps);
  await server.start(servableServices(table));
  return server;
}
