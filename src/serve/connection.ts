// One connection or datagram, from the moment a listener reports it to the end of its server:
// banner, admission, then an internal service (tcpmux: serve-tcpmux.ts), a redirect or a server program; with the log
// events xinetd writes for each step. Connections accepted by the native helper (serveAccepted)
// go through the same admission and log lines without their socket ever entering the daemon.
//
// Order (xinetd's service.c): `banner` first, whatever access control decides; then admission;
// refused: FAIL, `banner_fail`, close (a datagram is dropped, and an address refusal of the same
// client address and port is reported once per 60 s, as xinetd does); admitted: `banner_success`,
// then the server. A program gets the socket as fds 0-2, and the daemon's copy is closed with
// destroy() (never end(), which would shut the connection down under the server's feet).
//
// The shared steps are in serve-context.ts, starting a program in serve-program.ts; datagrams
// in serve-datagram.ts, wait = yes services in serve-wait.ts.

import type * as net from 'node:net';
import { sendBanner } from './banner.js';
import { builtinForks, builtinOf, daytimeBytes, serveStream as serveBuiltinStream, timeBytes } from './builtins.js';
import { identifyAdmitted, identifyRefused, logAfterStart } from './ident.js';
import { useridOnFailure, useridOnSuccess } from '../service-needs.js';
import type { Listener } from './listener.js';
import type { Peer } from '../peer.js';
import { proxy } from './redirect.js';
import type { AcceptedConnection } from '../spawn/spawn-types.js';
import type { Service } from '../table.js';
import { admit, describe, durationSince, finished, peerOfSocket, started, type Refusal, type ServeContext } from './serve-context.js';
import { prepareWrap, startProgram } from './serve-program.js';
import { serveMux } from './serve-tcpmux.js';

/** Ignores a client socket's errors (the socket is closed whatever happens). */
const ignoreError = (): void => {};

function banner(ctx: ServeContext, socket: net.Socket, service: Service, path: string | null, func: string): Promise<void> {
  if (path === null) return Promise.resolve();
  return sendBanner(socket, path, service.id, (message) => ctx.daemon('banner', 'error', message, func));
}

/** A refused client: FAIL, maybe a deactivation, banner_fail, close. */
async function refuseStream(ctx: ServeContext, listener: Listener, service: Service, peer: Peer | null, socket: net.Socket, decision: Refusal): Promise<void> {
  ctx.refused(listener, service, peer, decision);
  await banner(ctx, socket, service, service.banner_fail, 'banner_fail');
  // log_on_failure USERID: the connection stays open while the client's identd is asked.
  if (ctx.ident !== undefined && peer !== null && useridOnFailure(service)) await identifyRefused(ctx.ident, service, peer, socket, decision.reason);
  socket.destroy();
}

/** An in-process redirect: START, proxy, TRAFFIC, EXIT. */
async function redirect(ctx: ServeContext, service: Service, target: NonNullable<Service['redirect']>, peer: Peer, socket: net.Socket): Promise<void> {
  const release = ctx.hold(socket, service);
  const t0 = performance.now();
  ctx.log({ kind: 'START', service, pid: 0, peer });
  let host: string;
  try {
    host = await ctx.redirects.resolve(target.host);
  } catch (err) {
    ctx.daemon('redirect-failed', 'error', `redirect of service ${service.id}: cannot resolve ${target.host}: ${describe(err)}`, 'redir_handler');
    socket.destroy();
    release();
    ctx.log({ kind: 'EXIT', service, pid: 0, status: 0, signal: null, durationSeconds: durationSince(t0) });
    finished(ctx, service, peer);
    return;
  }
  const result = await proxy(socket, { host, port: target.port });
  release();
  if (result.error !== null) ctx.daemon('redirect-failed', 'error', `redirect of service ${service.id}: ${result.error}`, 'redir_handler');
  ctx.log({ kind: 'TRAFFIC', service, inBytes: result.inBytes, outBytes: result.outBytes });
  ctx.log({ kind: 'EXIT', service, pid: 0, status: 0, signal: null, durationSeconds: durationSince(t0) });
  finished(ctx, service, peer);
}

/**
 * A connection accepted by a stream listener (nowait programs, internal services, redirects).
 * A unix-domain client has no address: its peer is null, as for wait = yes services (no
 * `from=`, REMOTE_HOST `<no address>`, no USERID lookup, address checks as for an unknown address).
 */
export async function serveStream(ctx: ServeContext, listener: Listener, socket: net.Socket): Promise<void> {
  const acceptedAt = performance.now();
  const service = listener.service;
  socket.on('error', ignoreError);
  const unixPeer = listener.plan.unix !== undefined;
  const peer = unixPeer ? null : peerOfSocket(socket);
  if ((peer === null && !unixPeer) || ctx.stopping) {
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
  const wrap = decision.wrap === undefined || peer === null ? null : await prepareWrap(ctx, service, peer, decision.wrap);
  const twist = wrap !== null && wrap.plan.twist !== null;
  const builtin = twist ? null : builtinOf(service);
  const counted = builtin === null || builtinForks(builtin, service.socket_type);
  if (counted) started(ctx, service, peer);
  if (service.banner_success !== null) await banner(ctx, socket, service, service.banner_success, 'banner_success');
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a stop may have begun during the awaits above; TypeScript keeps the narrowing from before them
  if (counted && ctx.ident !== undefined && peer !== null && useridOnSuccess(service) && !ctx.stopping && !socket.destroyed) {
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
  if (builtin === 'tcpmux' && peer !== null) {
    await serveMux(ctx, service, peer, socket, local, acceptedAt);
    return;
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
  if (service.redirect !== null && !twist && peer !== null) {
    await redirect(ctx, service, service.redirect, peer, socket);
    return;
  }
  await startProgram(ctx, service, peer, socket, () => socket.destroy(), acceptedAt, wrap);
}

/**
 * A connection the spawner's helper accepted and holds (listen-plan.ts helperAccepts()): the same
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
      ctx.daemon(
        'wrap-options-ignored',
        'warning',
        `service ${service.id}: TCP wrappers options other than spawn and twist do not apply to a helper-answered ${builtin}`,
        'libwrap',
      );
    }
  }
  if (builtin === 'daytime' || builtin === 'time') {
    ctx.log({ kind: 'START', service, pid: 0, peer });
    const now = ctx.now();
    conn.reply(builtin === 'daytime' ? daytimeBytes(now) : timeBytes(now));
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a stop may have begun during the awaits above; TypeScript keeps the narrowing from before them
  if (builtin !== null || ctx.stopping) {
    conn.drop(); // not a service the helper accepts for (helperAccepts)
    return;
  }
  started(ctx, service, peer);
  await startProgram(ctx, service, peer, { accepted: conn.cid }, (ok) => ok || conn.drop(), acceptedAt, wrap);
}
