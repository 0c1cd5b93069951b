// What serving needs from the daemon around it (ServeContext), and the steps every path of
// serving shares: asking admission (an exception inside it refuses, reason internal_error),
// telling it a server started or finished, a client's peer, an error's text.

import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import type { Admission, Decision, LocalEnd } from '../admission/admission-types.js';
import { NO_ADDRESS, type ChildContext } from '../spawn/child-env.js';
import { type IdentContext } from './ident.js';
import type { NameResolver } from '../admission/acl-resolver.js';
import type { Listener } from './listener.js';
import type { LogEvent } from '../log/log-types.js';
import type { Say } from '../message-codes.js';
import type { ServeMetrics } from '../ops/metrics.js';
import type { Peer } from '../peer.js';
import { type RedirectResolver } from './redirect.js';
import type { ChildStdio, ExitInfo, SpawnSpec } from '../spawn/spawn-types.js';
import type { Service } from '../table.js';

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
  readonly daemon: Say;
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
  /** The TCPMUX services served now (reached through tcpmux by name; no socket of their own). */
  muxServices(): readonly Service[];
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

/**
 * The daemon-log line that goes with a refusal's detail: TCP wrappers' refusal at the rule's
 * severity (libwrap's own line), an excessive load as xinetd writes it, else the detail itself.
 */
export function logRefusalDetail(ctx: ServeContext, decision: Refusal, detail: string): void {
  if (decision.reason === 'libwrap') ctx.daemon('libwrap-refused', decision.level ?? 'info', detail, 'libwrap');
  else if (decision.reason === 'load') ctx.daemon('load-refused', 'error', detail, 'access_control');
  else ctx.daemon('refusal-detail', 'info', detail, 'access_control');
}

function admissionFailed(ctx: ServeContext, service: Service, err: unknown): Decision {
  ctx.daemon(
    'internal-error',
    'error',
    `access control of service ${service.id} failed: ${err instanceof Error ? err.message : String(err)}`,
    'access_control',
  );
  // Undecided is refused, with or without an address: letting in a client xinetd might have
  // refused is worse than turning one away. The reason says it is the daemon's own failure.
  return { allow: false, reason: 'internal_error' };
}

/**
 * The admission decision: a Decision when admission decides at once (the common case, served
 * without a detour through the microtask queue), else a Promise of one.
 */
export function admit(ctx: ServeContext, service: Service, peer: Peer | null, local?: LocalEnd): Decision | Promise<Decision> {
  let d: Decision | PromiseLike<Decision>;
  try {
    d = ctx.admission.admit(service, peer ?? NO_PEER, local);
  } catch (err) {
    return admissionFailed(ctx, service, err);
  }
  if (typeof (d as Partial<PromiseLike<Decision>>).then !== 'function') return d as Decision;
  return Promise.resolve(d).catch((err: unknown) => admissionFailed(ctx, service, err));
}

export function started(ctx: ServeContext, service: Service, peer: Peer | null): void {
  try {
    ctx.admission.started(service, peer ?? NO_PEER);
  } catch (err) {
    ctx.daemon('internal-error', 'error', `accounting of service ${service.id} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Tells admission that a server (or in-process handler) of `service` for `peer` is done. */
export function finished(ctx: Pick<ServeContext, 'admission' | 'daemon'>, service: Service, peer: Peer | null): void {
  try {
    ctx.admission.finished(service, peer ?? NO_PEER);
  } catch (err) {
    ctx.daemon('internal-error', 'error', `accounting of service ${service.id} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function durationSince(startedAt: number): number {
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

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
