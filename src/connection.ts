// One connection or datagram, from the moment a listener reports it to the end of its server:
// banner, admission, then an internal service, a redirect or a server program; with the log
// events xinetd writes for each step. Connections accepted by the native helper (serveAccepted)
// go through the same admission and log lines without their socket ever entering the daemon.
//
// Order (xinetd's service.c): `banner` first, whatever access control decides; then admission;
// refused: FAIL, `banner_fail`, close (a datagram is dropped, and an address refusal of the same
// client address and port is reported once per 60 s, as xinetd does); admitted: `banner_success`,
// then the server. A program gets the socket as fds 0-2, and the daemon's copy is closed with
// destroy() (never end(), which would shut the connection down under the server's feet).

import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { addressChecks } from './admission.js';
import type { Admission, Decision, LocalEnd, WrapGrant } from './admission-types.js';
import { sendBanner } from './banner.js';
import {
  builtinForks,
  builtinOf,
  datagramReply,
  daytimeBytes,
  refusesSourcePort,
  serveStream as serveBuiltinStream,
  timeBytes,
} from './builtins.js';
import { NO_ADDRESS, type ChildContext } from './child-env.js';
import { identifyAdmitted, identifyRefused, logAfterStart, lookupIdent, useridOnFailure, useridOnSuccess, type IdentContext } from './ident.js';
import type { NameResolver } from './acl.js';
import type { Listener } from './listeners.js';
import type { DaemonLevel, LogEvent } from './log-types.js';
import type { ServeMetrics } from './metrics.js';
import type { Peer } from './peer.js';
import { proxy, type RedirectResolver } from './redirect.js';
import { cachedSpawnSpec } from './spawn-spec-cache.js';
import type { AcceptedConnection, ChildStdio, ExitInfo, SpawnSpec } from './spawn-types.js';
import { bannerBytes, bannerFileOf, grantNeeds, identTimeoutOf, percentContext, planWrapGrant, readBanner, runWrapSpawns, type WrapPlan } from './wrap-grant.js';
import { wrapHostname, wrapUser } from './wrappers.js';
import type { Service } from './table.js';

export type Refusal = Extract<Decision, { allow: false }>;

/** A server program started by the daemon, until it exits. */
export interface RunningServer {
  pid: number;
  service: Service;
  peer: Peer | null;
  /** performance.now() at start. */
  startedAt: number;
  /** Called after the EXIT line has been logged. */
  onExit?: (info: ExitInfo) => void;
}

/** What serving needs from the daemon around it. */
export interface ServeContext {
  log(event: LogEvent): void;
  daemon(level: DaemonLevel, message: string, func?: string): void;
  admission: Admission;
  /** Starts a program (through the spawner; the daemon keeps track of starts in flight). */
  spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number>;
  child: ChildContext;
  redirects: RedirectResolver;
  /** Name lookups for TCP wrappers' % expansions (absent: names stay unknown). */
  wrapResolver?: NameResolver;
  /** Registers a started server program (its exit is logged and accounted by the daemon). */
  track(server: RunningServer): void;
  /** Counts in-process work (internal services, redirects) so it can be stopped on shutdown. */
  hold(socket: net.Socket, service: Service): () => void;
  /**
   * A refused client: logs FAIL (unless `report` is false) with the decision's detail, and
   * deactivates the listener's service for decision.suspendSeconds (cps).
   */
  refused(listener: Listener, service: Service, peer: Peer | null, decision: Refusal, report?: boolean): void;
  now(): Date;
  /** Counters for the metrics endpoint (absent: nothing is counted). */
  metrics?: ServeMetrics;
  /** USERID lookups (ident.ts); absent: USERID is not looked up. */
  ident?: IdentContext;
  /** True once the daemon is stopping: nothing new is started. */
  readonly stopping: boolean;
  /**
   * The sender of the first datagram queued on bound UDP socket `fd`, left queued (the
   * spawner's helper peeks; see Spawner.peekSender). Absent: it cannot be known.
   */
  peekSender?(fd: number): Promise<Peer | null>;
}

/**
 * The peer admission gets for wait = yes stream services, which have no client address before
 * their server accepts: xinetd's "<no address>". Address checks let it through (xinetd: an
 * unknown address is not refused); rates, instances and times still apply. A datagram whose
 * sender cannot be learnt gets it too, unless its service needs the address (serveWait).
 */
export const NO_PEER: Peer = { address: NO_ADDRESS, port: 0, family: 'IPv6' };

function admissionFailed(ctx: ServeContext, service: Service, err: unknown): Decision {
  ctx.daemon('error', `access control of service ${service.id} failed: ${err instanceof Error ? err.message : String(err)}`, 'access_control');
  // Undecided is refused, with or without an address: letting in a client xinetd might have
  // refused is worse than turning one away. The reason says it is the daemon's own failure.
  return { allow: false, reason: 'internal_error' };
}

/**
 * The admission decision: a Decision when admission decides at once (the common case, served
 * without a detour through the microtask queue), else a Promise of one.
 */
function admit(ctx: ServeContext, service: Service, peer: Peer | null, local?: LocalEnd): Decision | Promise<Decision> {
  let d: Decision | PromiseLike<Decision>;
  try {
    d = ctx.admission.admit(service, peer ?? NO_PEER, local);
  } catch (err) {
    return admissionFailed(ctx, service, err);
  }
  if (typeof (d as Partial<PromiseLike<Decision>>).then !== 'function') return d as Decision;
  return Promise.resolve(d).catch((err: unknown) => admissionFailed(ctx, service, err));
}

/** Ignores a client socket's errors (the socket is closed whatever happens). */
const ignoreError = (): void => {};

function started(ctx: ServeContext, service: Service, peer: Peer | null): void {
  try {
    ctx.admission.started(service, peer ?? NO_PEER);
  } catch (err) {
    ctx.daemon('error', `accounting of service ${service.id} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Tells admission that a server (or in-process handler) of `service` for `peer` is done. */
export function finished(ctx: Pick<ServeContext, 'admission' | 'daemon'>, service: Service, peer: Peer | null): void {
  try {
    ctx.admission.finished(service, peer ?? NO_PEER);
  } catch (err) {
    ctx.daemon('error', `accounting of service ${service.id} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function durationSince(startedAt: number): number {
  return (performance.now() - startedAt) / 1000;
}

export function peerOfSocket(socket: net.Socket): Peer | null {
  const address = socket.remoteAddress;
  const port = socket.remotePort;
  if (address === undefined || port === undefined) return null;
  return { address, port, family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
}

export function peerOfDatagram(remote: dgram.RemoteInfo): Peer {
  return { address: remote.address, port: remote.port, family: remote.family === 'IPv6' ? 'IPv6' : 'IPv4' };
}

function banner(ctx: ServeContext, socket: net.Socket, service: Service, path: string | null, func: string): Promise<void> {
  if (path === null) return Promise.resolve();
  return sendBanner(socket, path, service.id, (message) => ctx.daemon('error', message, func));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

/** A refused client: FAIL, maybe a deactivation, banner_fail, close. */
async function refuseStream(
  ctx: ServeContext,
  listener: Listener,
  service: Service,
  peer: Peer,
  socket: net.Socket,
  decision: Refusal,
): Promise<void> {
  ctx.refused(listener, service, peer, decision);
  await banner(ctx, socket, service, service.banner_fail, 'banner_fail');
  // log_on_failure USERID: the connection stays open while the client's identd is asked.
  if (ctx.ident !== undefined && useridOnFailure(service)) await identifyRefused(ctx.ident, service, peer, socket, decision.reason);
  socket.destroy();
}

/**
 * Starts a server program from `spec` (as cachedSpawnSpec() or wrappedSpec() made it) on
 * `stdio`: its pid, or null when it could not be made or started. A failure is xinetd's: a
 * daemon error, FAIL fork, and admission's count of the server given back.
 */
async function spawnServer(
  ctx: ServeContext,
  service: Service,
  peer: Peer | null,
  spec: ReturnType<typeof cachedSpawnSpec>,
  stdio: ChildStdio,
): Promise<number | null> {
  let problem: string;
  if (!spec.ok) problem = `service ${service.id}: ${spec.error}`;
  else {
    try {
      return await ctx.spawn(spec.spec, stdio);
    } catch (err) {
      problem = `execv( ${spec.spec.path} ) failed: ${describe(err)}`;
    }
  }
  ctx.daemon('error', problem, 'exec_server');
  ctx.metrics?.spawnFailed(service);
  ctx.log({ kind: 'FAIL', service, reason: 'fork', peer });
  finished(ctx, service, peer);
  return null;
}

/**
 * Starts the server program with `stdio` as its fds 0-2 (a failure is logged); `acceptedAt` is
 * performance.now() at accept. `release(started)` lets go of the daemon's hold on the connection.
 */
async function startProgram(
  ctx: ServeContext,
  service: Service,
  peer: Peer,
  stdio: ChildStdio,
  release: (started: boolean) => void,
  acceptedAt: number,
  wrap: PreparedWrap | null = null,
): Promise<void> {
  const spec = wrap === null ? cachedSpawnSpec(service, peer, ctx.child) : wrappedSpec(ctx, service, peer, wrap);
  const pid = await spawnServer(ctx, service, peer, spec, stdio);
  if (pid === null) {
    release(false);
    return;
  }
  ctx.metrics?.spawned(service, durationSince(acceptedAt));
  // START first: a server that has already exited is reported (EXIT) as soon as it is tracked.
  ctx.log({ kind: 'START', service, pid, peer });
  ctx.track({ pid, service, peer, startedAt: performance.now() });
  if (wrap?.plan.twist != null) ctx.daemon('info', `twist ${peer.address} to ${wrap.plan.twist.command}`, 'libwrap');
  release(true);
}

/** A TCP-wrappers grant made ready for one connection: its plan, and the banner bytes. */
interface PreparedWrap {
  plan: WrapPlan;
  banner: Buffer | null;
}

/**
 * Looks up what the grant's % expansions need (host names, the client's user through IDENT),
 * runs its spawn commands (the connection waits, the daemon does not) and reads its banner.
 */
async function prepareWrap(ctx: ServeContext, service: Service, peer: Peer, grant: WrapGrant): Promise<PreparedWrap> {
  const problem = (message: string): void => ctx.daemon('error', `service ${service.id}: ${message}`, 'libwrap');
  const bannerText = await readBanner(bannerFileOf(grant), problem);
  const needs = grantNeeds(grant, bannerText);
  let g = grant;
  if (needs.has('client-hostname') && g.clientHostname === null && ctx.wrapResolver !== undefined) {
    g = { ...g, clientHostname: (await wrapHostname(peer.address, ctx.wrapResolver)).name };
  }
  if (needs.has('client-user') && g.clientUser === null) {
    const r = await (ctx.ident?.lookup ?? lookupIdent)({
      remoteAddress: peer.address,
      remotePort: peer.port,
      localAddress: g.local.address,
      localPort: g.local.port,
      timeoutMs: identTimeoutOf(g),
      ...(ctx.ident !== undefined ? { identPort: ctx.ident.identPort } : {}),
    });
    g = { ...g, clientUser: wrapUser(r) };
  }
  const pctx = percentContext(g, peer, process.pid);
  if (needs.has('server-hostname') && ctx.wrapResolver !== undefined) {
    pctx.server.hostname = (await wrapHostname(g.local.address, ctx.wrapResolver)).name;
  }
  const plan = planWrapGrant(g, pctx);
  if (plan.spawns.length > 0) {
    const spec = cachedSpawnSpec(service, peer, ctx.child);
    const ids = spec.ok ? { ...(spec.spec.uid !== null ? { uid: spec.spec.uid } : {}), ...(spec.spec.gid !== null ? { gid: spec.spec.gid } : {}) } : {};
    await runWrapSpawns(plan, ids, problem);
  }
  return { plan, banner: bannerBytes(bannerText, pctx) };
}

/** The spawn spec of a wrapped start: the server, or the twist command in its place. */
function wrappedSpec(ctx: ServeContext, service: Service, peer: Peer, wrap: PreparedWrap): ReturnType<typeof cachedSpawnSpec> {
  const plan = wrap.plan;
  let base: ReturnType<typeof cachedSpawnSpec>;
  if (plan.twist !== null) {
    // The server's credentials, the daemon's environment plus setenv: what xinetd's child had
    // when libwrap exec'd the shell.
    const server = service.server !== null ? cachedSpawnSpec(service, peer, ctx.child) : null;
    const env = Object.entries({ ...ctx.child.env, ...plan.twist.env })
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    base = {
      ok: true,
      spec: {
        path: '/bin/sh',
        argv: ['sh', '-c', plan.twist.command],
        env,
        uid: server?.ok === true ? server.spec.uid : null,
        gid: server?.ok === true ? server.spec.gid : null,
        groups: server?.ok === true ? server.spec.groups : null,
        umask: server?.ok === true ? server.spec.umask : ctx.child.umask,
        nice: service.nice,
        rlimits: { ...service.rlimits },
      },
    };
  } else {
    base = cachedSpawnSpec(service, peer, ctx.child);
  }
  if (!base.ok) return base;
  const spec: SpawnSpec = { ...base.spec };
  if (plan.umask !== null) spec.umask = plan.umask;
  if (plan.nice !== null) spec.nice = (spec.nice ?? 0) + plan.nice;
  if (plan.keepalive || plan.lingerSeconds !== null || wrap.banner !== null) {
    spec.socketSetup = { keepalive: plan.keepalive, lingerSeconds: plan.lingerSeconds, pre: wrap.banner };
  }
  return { ok: true, spec };
}

/** An in-process redirect: START, proxy, TRAFFIC, EXIT. */
async function redirect(ctx: ServeContext, service: Service, peer: Peer, socket: net.Socket): Promise<void> {
  const target = service.redirect!;
  const release = ctx.hold(socket, service);
  const t0 = performance.now();
  ctx.log({ kind: 'START', service, pid: 0, peer });
  let host: string;
  try {
    host = await ctx.redirects.resolve(target.host);
  } catch (err) {
    ctx.daemon('error', `redirect of service ${service.id}: cannot resolve ${target.host}: ${describe(err)}`, 'redir_handler');
    socket.destroy();
    release();
    ctx.log({ kind: 'EXIT', service, pid: 0, status: 0, signal: null, durationSeconds: durationSince(t0) });
    finished(ctx, service, peer);
    return;
  }
  const result = await proxy(socket, { host, port: target.port });
  release();
  if (result.error !== null) ctx.daemon('error', `redirect of service ${service.id}: ${result.error}`, 'redir_handler');
  ctx.log({ kind: 'TRAFFIC', service, inBytes: result.inBytes, outBytes: result.outBytes });
  ctx.log({ kind: 'EXIT', service, pid: 0, status: 0, signal: null, durationSeconds: durationSince(t0) });
  finished(ctx, service, peer);
}

/** A connection accepted by a stream listener (nowait programs, internal services, redirects). */
export async function serveStream(ctx: ServeContext, listener: Listener, socket: net.Socket): Promise<void> {
  const acceptedAt = performance.now();
  const service = listener.service;
  socket.on('error', ignoreError);
  const peer = peerOfSocket(socket);
  if (peer === null || ctx.stopping) {
    socket.destroy();
    return;
  }
  if (service.flags.includes('NODELAY')) socket.setNoDelay(true);
  if (service.flags.includes('KEEPALIVE')) socket.setKeepAlive(true);

  if (service.banner !== null) await banner(ctx, socket, service, service.banner, 'banner_always');
  const local = socket.localAddress !== undefined ? { address: socket.localAddress, port: socket.localPort ?? listener.port } : undefined;
  const admitted = admit(ctx, service, peer, local);
  const decision = admitted instanceof Promise ? await admitted : admitted;
  if (!decision.allow) {
    await refuseStream(ctx, listener, service, peer, socket, decision);
    return;
  }
  ctx.metrics?.accepted(service);
  const wrap = decision.wrap === undefined ? null : await prepareWrap(ctx, service, peer, decision.wrap);
  const twist = wrap !== null && wrap.plan.twist !== null;
  const builtin = twist ? null : builtinOf(service);
  const counted = builtin === null || builtinForks(builtin, service.socket_type);
  if (counted) started(ctx, service, peer);
  if (service.banner_success !== null) await banner(ctx, socket, service, service.banner_success, 'banner_success');
  if (counted && ctx.ident !== undefined && useridOnSuccess(service) && !ctx.stopping && !socket.destroyed) {
    // log_on_success USERID: the server waits for the client's identd (at most 30 s, as in
    // xinetd, whose forked child asks; services served without a fork are not looked up).
    const identity = await identifyAdmitted(ctx.ident, service, peer, socket);
    if (!identity.proceed) socket.destroy();
    else if (identity.userid !== null) ctx = logAfterStart(ctx, identity.userid);
  }
  if (ctx.stopping || socket.destroyed) {
    socket.destroy();
    if (counted) finished(ctx, service, peer);
    return;
  }

  if (!twist && wrap !== null && (builtin !== null || service.redirect !== null)) {
    // In-process services: the connection's options are set here, the banner written first.
    if (wrap.plan.keepalive) socket.setKeepAlive(true);
    if (wrap.banner !== null) socket.write(wrap.banner);
  }
  if (builtin !== null) {
    const release = ctx.hold(socket, service);
    const t0 = performance.now();
    ctx.log({ kind: 'START', service, pid: 0, peer });
    await serveBuiltinStream(builtin, socket, () => ctx.now());
    release();
    if (counted) {
      ctx.log({ kind: 'EXIT', service, pid: 0, status: 0, signal: null, durationSeconds: durationSince(t0) });
      finished(ctx, service, peer);
    }
    return;
  }
  if (service.redirect !== null && !twist) {
    await redirect(ctx, service, peer, socket);
    return;
  }
  await startProgram(ctx, service, peer, socket, () => socket.destroy(), acceptedAt, wrap);
}

/**
 * A connection the spawner's helper accepted and holds (listeners.ts helperAccepts()): the same
 * decisions and log lines as serveStream(), without the socket ever entering the daemon. A
 * program gets it through the helper; daytime and time are answered by the helper with the
 * bytes computed here.
 */
export async function serveAccepted(ctx: ServeContext, listener: Listener, conn: AcceptedConnection): Promise<void> {
  const acceptedAt = performance.now();
  const service = listener.service;
  const peer = conn.peer;
  // Suspended (cps) or closed by a reload since the helper accepted it: as if never accepted.
  if (ctx.stopping || listener.state !== 'active') {
    conn.drop();
    return;
  }
  const admitted = admit(ctx, service, peer, { address: conn.local ?? listener.plan.host, port: listener.port });
  const decision = admitted instanceof Promise ? await admitted : admitted;
  if (!decision.allow) {
    ctx.refused(listener, service, peer, decision);
    conn.drop();
    return;
  }
  ctx.metrics?.accepted(service);
  const wrap = decision.wrap === undefined ? null : await prepareWrap(ctx, service, peer, decision.wrap);
  const twist = wrap !== null && wrap.plan.twist !== null;
  const builtin = twist ? null : builtinOf(service);
  if ((builtin === 'daytime' || builtin === 'time') && wrap !== null) {
    // A banner or socket option must reach the connection first: not a plain reply any more.
    if (wrap.banner !== null || wrap.plan.keepalive || wrap.plan.lingerSeconds !== null) {
      ctx.daemon('warning', `service ${service.id}: TCP wrappers options other than spawn and twist do not apply to a helper-answered ${builtin}`, 'libwrap');
    }
  }
  if (builtin === 'daytime' || builtin === 'time') {
    ctx.log({ kind: 'START', service, pid: 0, peer });
    const now = ctx.now();
    conn.reply(builtin === 'daytime' ? daytimeBytes(now) : timeBytes(now));
    return;
  }
  if (builtin !== null || ctx.stopping) {
    conn.drop(); // not a service the helper accepts for (helperAccepts)
    return;
  }
  started(ctx, service, peer);
  await startProgram(ctx, service, peer, { accepted: conn.cid }, (ok) => ok || conn.drop(), acceptedAt, wrap);
}

/** xinetd reports an address refusal of the same datagram client (address and port) once per this many ms. */
export const DGRAM_IGNORE_MS = 60_000;

/** Remembers the last refused datagram client of each listener. */
const lastDgramRefusal = new WeakMap<Listener, { key: string; at: number }>();

function reportDgramRefusal(listener: Listener, peer: Peer, reason: string, nowMs: number): boolean {
  if (reason !== 'address') return true;
  const key = `${peer.address} ${peer.port}`;
  const last = lastDgramRefusal.get(listener);
  if (last !== undefined && last.key === key && nowMs - last.at <= DGRAM_IGNORE_MS) return false;
  lastDgramRefusal.set(listener, { key, at: nowMs });
  return true;
}

/** A datagram for an in-process datagram service: admission, START, the reply. */
export async function serveDatagram(ctx: ServeContext, listener: Listener, message: Buffer, remote: dgram.RemoteInfo): Promise<void> {
  const service = listener.service;
  const builtin = builtinOf(service);
  if (builtin === null || ctx.stopping) return;
  const peer = peerOfDatagram(remote);
  const admitted = admit(ctx, service, peer, { address: listener.plan.host, port: listener.port });
  const decision = admitted instanceof Promise ? await admitted : admitted;
  if (!decision.allow) {
    ctx.refused(listener, service, peer, decision, reportDgramRefusal(listener, peer, decision.reason, ctx.now().getTime()));
    return;
  }
  ctx.metrics?.accepted(service);
  ctx.log({ kind: 'START', service, pid: 0, peer });
  if (refusesSourcePort(builtin, remote.port)) {
    ctx.daemon('warning', `Possible Denial of Service attack from ${remote.address} ${remote.port}`, `dgram_${builtin}`);
    return;
  }
  const reply = datagramReply(builtin, message, { now: () => ctx.now(), ring: listener.ring });
  if (reply !== null) listener.send(reply, remote.port, remote.address);
}

/** How long a wait = yes service rests after its server could not start or failed. */
export const WAIT_RETRY_MS = 1000;

/**
 * Notices servers of one wait = yes datagram service started faster than any such service
 * needs (`max` within `windowMs`): the sign of a server that exits without reading its
 * datagram and so is started again and again for it. The cps limit normally stops that first
 * (xinetd's default 50 per second); this guard is the last resort.
 */
export class SpawnRateGuard {
  private times: number[] = [];

  constructor(
    private readonly max = 200,
    private readonly windowMs = 1000,
  ) {}

  /** Records one server start at `nowMs`; true when the rate is exceeded (the count restarts). */
  record(nowMs: number): boolean {
    this.times.push(nowMs);
    while (this.times.length > 0 && nowMs - this.times[0]! > this.windowMs) this.times.shift();
    if (this.times.length < this.max) return false;
    this.times = [];
    return true;
  }
}

const spawnGuards = new WeakMap<Listener, SpawnRateGuard>();

function guardOf(listener: Listener): SpawnRateGuard {
  let g = spawnGuards.get(listener);
  if (g === undefined) {
    g = new SpawnRateGuard();
    spawnGuards.set(listener, g);
  }
  return g;
}

function rearmLater(listener: Listener, ms: number): void {
  const t = setTimeout(() => listener.rearm(), ms);
  t.unref();
}

/** How long a wait = yes datagram service waits before watching again after waking to an empty queue. */
const EMPTY_WAKE_RETRY_MS = 50;

/** Who sent the queued datagram: a peer, null when it cannot be known, 'empty' when nothing is queued. */
async function senderOf(ctx: ServeContext, service: Service, fd: number): Promise<Peer | null | 'empty'> {
  if (ctx.peekSender === undefined) return null;
  try {
    return (await ctx.peekSender(fd)) ?? 'empty';
  } catch (err) {
    ctx.daemon('warning', `service ${service.id}: ${describe(err)}`, 'get_connection');
    return null;
  }
}

/** Whether admission needs the client's address for `service` (see Admission.needsAddress). */
function needsAddress(ctx: ServeContext, service: Service): boolean {
  try {
    return ctx.admission.needsAddress(service);
  } catch {
    return true;
  }
}

/**
 * A datagram whose sender is unknown, for a service whose admission needs it: refused (FAIL
 * address, without from=), with a daemon line that says why; the caller drops it. Both lines
 * are written once per 60 s at most (reportDgramRefusal).
 */
function refuseUnknownSender(ctx: ServeContext, listener: Listener, service: Service): void {
  const report = reportDgramRefusal(listener, NO_PEER, 'address', ctx.now().getTime());
  ctx.refused(listener, service, null, { allow: false, reason: 'address' }, report);
  if (!report) return;
  const checks = addressChecks(service);
  const what = checks.length > 0 ? checks.join(', ') : 'the global no_access list (SENSOR)';
  const why = ctx.peekSender === undefined ? 'cannot be known without the spawn helper' : 'could not be learnt';
  ctx.daemon('warning', `service ${service.id}: datagram refused and dropped: its sender ${why}, and ${what} need(s) the address`, 'access_control');
}

/**
 * The socket of a wait = yes service has a datagram or connection waiting: start one server
 * with the socket itself as fds 0-2; the listener watches again when that server has exited.
 * For a datagram, the sender of the first one queued is learnt first without reading it (as
 * xinetd does with recvfrom(MSG_PEEK)) and admitted like any client: a refused one is dropped
 * with everything queued behind it (xinetd's drain()), and no server starts.
 */
export async function serveWait(ctx: ServeContext, listener: Listener): Promise<void> {
  const service = listener.service;
  const ws = listener.wait;
  if (ws === null || ctx.stopping) return;
  const acceptedAt = performance.now();
  const datagram = ws.transport === 'udp';

  let peer: Peer | null = null;
  if (datagram) {
    const sender = await senderOf(ctx, service, ws.fd);
    // Closed (reload, cps suspension, stop) while the helper looked.
    if (ws.isClosed || listener.wait !== ws || ctx.stopping) return;
    if (sender === 'empty') {
      rearmLater(listener, EMPTY_WAKE_RETRY_MS);
      return;
    }
    if (sender === null && needsAddress(ctx, service)) {
      refuseUnknownSender(ctx, listener, service);
      await ws.drain();
      rearmLater(listener, WAIT_RETRY_MS);
      return;
    }
    peer = sender;
  }

  const decision = await admit(ctx, service, peer, { address: listener.plan.host, port: listener.port });
  if (!decision.allow) {
    const report = peer === null || reportDgramRefusal(listener, peer, decision.reason, ctx.now().getTime());
    ctx.refused(listener, service, peer, decision, report);
    if (datagram) await ws.drain();
    rearmLater(listener, WAIT_RETRY_MS);
    return;
  }
  ctx.metrics?.accepted(service);
  started(ctx, service, peer);
  const failed = async (): Promise<void> => {
    ws.restoreNonBlocking();
    if (datagram) await ws.drain();
    rearmLater(listener, WAIT_RETRY_MS);
  };
  const pid = await spawnServer(ctx, service, peer, cachedSpawnSpec(service, peer, ctx.child), { fd: ws.fd });
  if (pid === null) {
    await failed();
    return;
  }
  ctx.metrics?.spawned(service, durationSince(acceptedAt));
  const looping = guardOf(listener).record(performance.now());
  ctx.log({ kind: 'START', service, pid, peer });
  ctx.track({
    pid,
    service,
    peer,
    startedAt: performance.now(),
    onExit: (info) => {
      if (ws.isClosed) return;
      if (info.code !== 0) {
        void failed();
        return;
      }
      ws.restoreNonBlocking();
      if (datagram && looping) {
        void ws.drain().then((n) => {
          ctx.daemon('warning', `service ${service.id}: servers exit without reading their datagram; ${n} pending datagram(s) discarded`, 'svc_postmortem');
          listener.rearm();
        });
        return;
      }
      listener.rearm();
    },
  });
}
