// The serving core, independent of configuration loading: given services, a log, a spawner and
// admission, it listens, serves, reaps servers (EXIT lines, admission accounting) and can be
// reconciled with a new table (reload) or stopped. The daemon (daemon.ts) wraps it with
// config loading, the pid file and signals; tests use it directly. Its contract is
// server-types.ts; the servers it started are kept in running-servers.ts.

import { allowAll } from '../admission/admission-types.js';
import { daemonUmaskFrom, NO_ADDRESS, type ChildContext } from '../spawn/child-env.js';
import { serveAccepted, serveStream } from './connection.js';
import { finished, logRefusalDetail, type Refusal, type RunningServer, type ServeContext } from './serve-context.js';
import { serveDatagram } from './serve-datagram.js';
import { serveWait } from './serve-wait.js';
import type { Peer } from '../peer.js';
import { bindErrorText, bindRetryDelayMs, DEFAULT_BIND_RETRY_MS, MAX_BIND_RETRY_MS, shouldLogBindRetry } from './bind-retry.js';
import type { BindRetryOutcome, Listener, ListenerEvents, ListenerState } from './listener.js';
import { ListenerSet } from './listeners.js';
import type { LogEvent } from '../log/log-types.js';
import { daemonMessage, type Say } from '../message-codes.js';
import { FailLogLimiter } from '../log/fail-log-limiter.js';
import { DEFAULT_LOGPROCS, IDENT_PORT, IDENT_TIMEOUT_MS, IdentLimiter, lookupIdent, type IdentContext } from './ident.js';
import { suppressedEvent } from '../log/log-format.js';
import { RedirectResolver } from './redirect.js';
import type { ExitInfo } from '../spawn/spawn-types.js';
import { systemDb } from '../sys/sysdb.js';
import { muxClient } from '../service-kind.js';
import { systemResolver } from '../admission/acl-resolver.js';
import type { Service, ServiceTable } from '../table.js';
import { RunningServers } from './running-servers.js';
import { QueueingLimits } from './queue-limit.js';
import { RpcRegistrar } from './rpc-registrar.js';
import { mappingKey, rpcLosses, wantedOf, type RpcSocket, type Wanted } from './rpc-plan.js';
import type { Rpcb } from './rpc-xdr.js';
import { rpcbindClient } from './rpcbind-client.js';
import { servableServices, type IdentOptions, type ReloadSummary, type ServerDeps, type ServerHandle, type ServingState } from './server-types.js';

function currentUmask(): number {
  const old = process.umask(0o022);
  process.umask(old);
  return old;
}

/** The cause xinetd gives when it deactivates a service. */
function deactivationCause(decision: Refusal): string {
  return decision.reason === 'connections per second' ? 'excessive incoming connections' : decision.reason;
}

class Server implements ServerHandle {
  private readonly listeners: ListenerSet;
  private readonly bindRetryMs: number | null;
  private readonly running: RunningServers;
  private readonly ctx: ServeContext;
  private stopping = false;
  /** The TCPMUX services of the table served now: tcpmux hands them connections, they have no listener. */
  private muxClients: readonly Service[] = [];
  /** Bounds the FAIL lines a flood can write (the counts of held-back lines are logged). */
  private readonly failLimiter = new FailLogLimiter(() => performance.now());
  private readonly failServices = new Map<string, Service>();
  private readonly failFlush: NodeJS.Timeout;
  private readonly queue: QueueingLimits;
  /** Ends USERID lookups in progress when the server closes. */
  private readonly identAbort = new AbortController();
  /** Registers the RPC services with rpcbind; made when the first one is served. */
  private registrar: RpcRegistrar | null = null;
  private rpcWanted: Wanted[] = [];
  /** The versions lost to an earlier service (`ID PROG/VERS/TRANSPORT`) whose line is written. */
  private rpcLostLogged = new Set<string>();

  /** Logs a daemon message (message-codes.ts). */
  private readonly say: Say = (code, level, message, func, diagnostic) => this.deps.log.log(daemonMessage(code, level, message, func, diagnostic));

  constructor(private readonly deps: ServerDeps) {
    const child: ChildContext = {
      env: deps.env ?? process.env,
      db: deps.db ?? systemDb,
      uid: deps.uid ?? (typeof process.geteuid === 'function' ? process.geteuid() : 0),
      umask: deps.umask ?? daemonUmaskFrom(currentUmask()),
    };
    const self = this;
    this.running = new RunningServers(deps.spawner, (s, info) => this.serverEnded(s, info));
    const admission = deps.admission ?? allowAll;
    this.failFlush = setInterval(() => this.flushFails(), 5000);
    this.failFlush.unref();
    this.ctx = {
      log: (e: LogEvent) => this.logEvent(e),
      daemon: this.say,
      // Servers are counted here too, for the queueing limits (FreeBSD max-child): see queue-limit.ts.
      admission: {
        admit: (service, peer, local) => admission.admit(service, peer, local),
        handedOver: (service, peer, local) => admission.handedOver(service, peer, local),
        needsAddress: (service) => admission.needsAddress(service),
        started: (service, peer) => {
          admission.started(service, peer);
          this.queue.countServer(service, 1);
        },
        finished: (service, peer) => {
          admission.finished(service, peer);
          this.queue.countServer(service, -1);
        },
      },
      spawn: (spec, stdio) => this.running.spawn(spec, stdio),
      child,
      redirects: new RedirectResolver(),
      wrapResolver: systemResolver(),
      track: (s) => this.running.track(s),
      hold: (socket, service) => this.running.hold(socket, service),
      refused: (listener, service, peer, decision, report) => this.refused(listener, service, peer, decision, report ?? true),
      now: deps.now ?? (() => new Date()),
      ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {}),
      ident: this.identContext(deps.ident ?? {}),
      ...(deps.spawner.peekSender !== undefined ? { peekSender: deps.spawner.peekSender.bind(deps.spawner) } : {}),
      muxServices: () => this.muxClients,
      get stopping() {
        return self.stopping;
      },
    };
    const events: ListenerEvents = {
      stream: (l, socket) => {
        socket.on('error', () => {}); // a socket held by queue.gate() must not throw either
        this.queue.gate(
          l,
          () => serveStream(this.ctx, l, socket),
          () => socket.destroy(),
        );
      },
      accepted: (l, conn) =>
        this.queue.gate(
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
    this.listeners = new ListenerSet(events, {
      bindRetryMs: this.bindRetryMs,
      acceptor: deps.spawner.acceptor ?? null,
      helperSockets: deps.spawner.helperSockets ?? null,
    });
    this.queue = new QueueingLimits(
      this.listeners,
      (code, level, message, func) => this.ctx.daemon(code, level, message, func),
      (l, work) => this.guard(l, work),
    );
  }

  private identContext(o: IdentOptions): IdentContext {
    return {
      log: (e) => this.logEvent(e),
      daemon: this.say,
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
        logRefusalDetail(this.ctx, decision, decision.detail);
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
        this.ctx.daemon('service-off', 'notice', `service ${l.service.id} is off; restarting in ${decision.suspendSeconds} seconds`, 'service_stop');
      }
    }
  }

  private flushFails(all = false): void {
    for (const r of this.failLimiter.flush(all)) {
      const service = this.failServices.get(r.serviceId);
      if (service !== undefined) this.deps.log.log(suppressedEvent(service, r.count));
    }
  }

  /** A bug in serving one client must not take the daemon down. */
  private guard(l: Listener, work: Promise<void>): void {
    work.catch((err: unknown) => {
      this.ctx.daemon('internal-error', 'error', `service ${l.service.id}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    });
  }

  private listenerError(l: Listener, err: NodeJS.ErrnoException): void {
    if (err.code === 'EMFILE' || err.code === 'ENFILE') {
      const seconds = Math.max(1, l.service.cps[1]);
      this.deactivate(l, `Deactivating service ${l.service.name} due to no available descriptors.  Restarting in ${seconds} seconds.`, seconds);
      return;
    }
    this.ctx.daemon('listener-error', 'error', `service ${l.service.id}, ${err.syscall ?? 'socket'}: ${err.message}`);
  }

  private bindRetried(l: Listener, outcome: BindRetryOutcome): void {
    const id = l.service.id;
    if (outcome.ok) {
      this.ctx.daemon(
        'bound-after-retry',
        'notice',
        `Activating service ${id} (bound after ${outcome.attempts} failed attempt${outcome.attempts === 1 ? '' : 's'})`,
        'activate_normal',
      );
      void this.syncRpc();
      return;
    }
    if (!shouldLogBindRetry(outcome.attempt, this.bindRetryMs ?? undefined)) return;
    const next = formatPause(outcome.nextMs);
    this.ctx.daemon(
      'bind-retry',
      'error',
      `bind retry attempt ${outcome.attempt} failed (${bindErrorText(outcome.error)}). service = ${id}; next attempt in ${next}`,
      'activate_normal',
    );
  }

  /**
   * Closes the listener for `seconds` (xinetd's cps_service_stop), then reopens it; an address
   * taken meanwhile is retried in the background (bind-retry.ts), as a bind failure at start.
   */
  private deactivate(l: Listener, message: string, seconds: number): void {
    if (l.state !== 'active') return;
    const name = l.service.name;
    this.ctx.daemon('service-suspended', 'error', message, 'service_stop');
    void l.suspend(
      seconds,
      (ok, err) => {
        if (ok) {
          this.ctx.daemon('service-reactivated', 'error', `Activating service ${name}`, 'cps_service_restart');
          void this.syncRpc();
          return;
        }
        this.ctx.daemon(
          'service-reactivated',
          'error',
          `Error activating service ${name}${err !== undefined ? ` (${err.message})` : ''}`,
          'cps_service_restart',
        );
        // The address was taken meanwhile: retried in the background, as a bind failure at start.
        if (l.state === 'retrying') this.retryNotice(l.service.id);
      },
      this.bindRetryMs,
    );
    // xinetd unregisters a deactivated RPC service (svc_deactivate) and registers it again on restart.
    void this.syncRpc();
  }

  /**
   * Brings rpcbind in step with the RPC services listening now (rpc-registrar.ts): each socket's
   * versions registered at its port, the mappings of closed or suspended sockets removed. A
   * version an earlier service has (rpc-plan.ts rpcLosses, over every socket of the set, in the
   * order they were activated, whatever their state now) is not asked for, and xinetd's
   * "pmap_set failed" is logged for it once.
   */
  private syncRpc(): Promise<void> {
    const owner = String(this.ctx.child.uid);
    const sockets: RpcSocket[] = [];
    const active: boolean[] = [];
    for (const l of this.listeners.all) {
      const s = l.service;
      const transport = l.plan.transport;
      if (s.rpc_number === null || s.rpc_version === null || l.plan.rpc === undefined || transport === 'unix') continue;
      const bound = l.state === 'active' && l.bound !== null && l.port !== 0;
      sockets.push({
        serviceId: s.id,
        prog: s.rpc_number,
        versions: s.rpc_version,
        transport,
        host: l.bound?.host ?? '',
        family: l.bound?.family ?? 4,
        v6only: l.plan.v6only,
        port: l.port,
      });
      active.push(bound);
    }
    const losses = rpcLosses(sockets);
    const wanted: Wanted[] = [];
    const lostNow = new Set<string>();
    sockets.forEach((sock, i) => {
      const lost = losses[i] ?? [];
      for (const l of lost) {
        const key = `${sock.serviceId} ${sock.prog}/${l.vers}/${sock.transport}`;
        if (!lostNow.has(key) && !this.rpcLostLogged.has(key)) {
          // xinetd's words (activate_rpc): rpcbind refused the SET, another service has the version.
          this.ctx.daemon('pmap-set-failed', 'error', `pmap_set failed. service=${sock.serviceId} program=${sock.prog} version=${l.vers}`, 'activate_rpc');
        }
        lostNow.add(key);
      }
      if (active[i] === true) wanted.push(...wantedOf(sock, owner, lost));
    });
    this.rpcLostLogged = lostNow;
    this.rpcWanted = wanted;
    if (this.registrar === null) {
      if (wanted.length === 0) return Promise.resolve();
      const o = this.deps.rpcbind ?? {};
      this.registrar = new RpcRegistrar(o.calls ?? rpcbindClient(), (code, level, message, func) => this.ctx.daemon(code, level, message, func), {
        ...(o.checkMs !== undefined ? { checkMs: o.checkMs } : {}),
        ...(this.bindRetryMs !== null ? { retryBaseMs: this.bindRetryMs } : {}),
      });
    }
    return this.registrar.want(wanted);
  }

  /** Says that a service whose socket could not be bound is retried in the background. */
  private retryNotice(id: string): void {
    if (this.bindRetryMs === null) return;
    const first = formatPause(bindRetryDelayMs(1, this.bindRetryMs));
    const last = formatPause(MAX_BIND_RETRY_MS);
    this.ctx.daemon(
      'bind-retry',
      'notice',
      `service ${id} will try to bind again in ${first}, then less often (at most every ${last}) until it can`,
      'activate_normal',
    );
  }

  /** A server program ended: xinetd's EXIT line, and admission's count given back. */
  private serverEnded(s: RunningServer, info: ExitInfo): void {
    this.ctx.daemon(
      'server-exited',
      'debug',
      `server ${info.pid} of service ${s.service.id} exited (${info.signal !== null ? `signal ${info.signal}` : `status ${info.code}`})`,
      'child_exit',
    );
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
    return this.running.count(service);
  }

  serverPids(): number[] {
    return this.running.pids();
  }

  portOf(id: string): number | null {
    return this.activePorts().get(id) ?? null;
  }

  activePorts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const l of this.listeners.active) if (!out.has(l.service.id)) out.set(l.service.id, l.port);
    return out;
  }

  listenerStates(): Map<string, ListenerState> {
    return this.listeners.states;
  }

  async start(services: readonly Service[]): Promise<void> {
    await this.reload(services);
  }

  async reload(table: ServiceTable | readonly Service[]): Promise<ReloadSummary> {
    const servable = servableServices(table);
    this.muxClients = servable.filter((s) => muxClient(s) !== null);
    const r = await this.listeners.apply(servable.filter((s) => muxClient(s) === null));
    // Limits may have changed, and a new socket starts accepting: pause it if already at the limit.
    this.queue.reloaded();
    for (const f of r.failed) {
      if (f.error !== undefined) {
        this.ctx.daemon('bind-failed', 'error', `bind failed (${bindErrorText(f.error)}). service = ${f.service.id}`, 'activate_normal');
        if (f.retrying === true) this.retryNotice(f.service.id);
      } else {
        this.ctx.daemon('service-not-started', 'error', `service ${f.service.id} not started: ${f.reason}`, 'svc_activate');
      }
    }
    await this.syncRpc();
    return { added: r.opened.length, kept: r.kept.length, dropped: r.closed.length };
  }

  killServers(signal: NodeJS.Signals = 'SIGTERM', settleMs = 2000): Promise<number> {
    return this.running.killAll(signal, settleMs);
  }

  endServersOf(
    ids: ReadonlySet<string>,
    signal: NodeJS.Signals = 'SIGKILL',
    settleMs = 2000,
  ): Promise<{ programs: Array<{ id: string; pid: number }>; inProcess: number }> {
    return this.running.endServersOf(ids, signal, settleMs);
  }

  servingState(): ServingState {
    return {
      listeners: this.listeners.all.map((l) => ({ id: l.service.id, socket: l.key, state: l.state, hasSocket: l.hasSocket })),
      ...this.running.state(),
    };
  }

  rpcRegistrations(): Array<{ serviceId: string; rpcb: Rpcb }> {
    const made = new Set((this.registrar?.registered() ?? []).map((r) => mappingKey(r)));
    return this.rpcWanted.filter((w) => made.has(mappingKey(w.rpcb)));
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.identAbort.abort();
    clearInterval(this.failFlush);
    // Every count held back is reported, even those of a flood still going on.
    this.flushFails(true);
    await this.listeners.close();
    await this.registrar?.stop();
    this.running.closeInProcess();
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
