// The internal `tcpmux` service on an admitted connection (the decisions are tcpmux.ts's): read
// the client's first bytes, find the TCPMUX service they name, run that service's own access
// checks, answer, and start its program on the same socket. As in xinetd (measured):
// - everything is logged under tcpmux: START and EXIT of the tcpmux service (the EXIT status is
//   the program's), in tcpmux's log; the TCPMUX service's own log_type and log_on_* are not
//   used (xinetd never opens its log file: log.ts does not either);
// - tcpmux's own checks (rates, instances, only_from, TCP wrappers under the name `tcpmux`)
//   ran when the connection was accepted (connection.ts); the TCPMUX service adds only what
//   xinetd's child checks: its address lists and TCP wrappers under its server's name. Its
//   refusal writes its banner_fail (after the "+Go" of a TCPMUXPLUS service, tcpmux.ts) or
//   nothing at all, and no FAIL line; TCP wrappers' refusal line goes to the daemon log;
// - admitted: "+Go" (TCPMUXPLUS), its banner_success, then the program, with the TCPMUX
//   service's user, group, arguments and environment. Its `banner` is never written.
// A FreeBSD inetd.conf's tcpmux reads and answers as FreeBSD inetd does (tcpmux.ts: `help`, its
// texts, its 10 s per read), with the same handing over and lines; a GNU inetutils inetd.conf's
// as GNU's inetd does (FreeBSD's way, without the 10 s).
// When no program starts (no name, an unknown name, a refusal), xinetd's forked child still
// writes START and EXIT (status 0) with its own pid; tsinetd, which handles these in-process,
// writes the same lines with pid 0 (as for its other internal services), and says why in the
// daemon log.

import type * as net from 'node:net';
import type { Decision, LocalEnd } from '../admission/admission-types.js';
import type { Peer } from '../peer.js';
import { muxClient } from '../service-kind.js';
import { readAtMost, readInChunks, stopReading } from '../sys/uv-handles.js';
import type { Service } from '../table.js';
import { readBanner } from './banner.js';
import { durationSince, finished, logRefusalDetail, type ServeContext } from './serve-context.js';
import { prepareWrap, startProgram } from './serve-program.js';
import {
  BSD_MUX_ACK,
  BSD_MUX_MAX,
  bsdMuxAnswer,
  bsdMuxReadTimeoutMs,
  bsdMuxName,
  MUX_ACK,
  MUX_NOT_FOUND,
  MUX_READ_SIZE,
  muxRequest,
  muxTarget,
} from './tcpmux.js';

/**
 * The first bytes the client sends: one read of at most MUX_READ_SIZE bytes, as xinetd's read(2),
 * the rest left for the program; null when the client closes first. Where Node's internals are
 * missing, the first 'data' chunk, which may hold more (tcpmux.ts muxRequest: `overread`).
 */
function firstRead(socket: net.Socket): Promise<Buffer | null> {
  const once = readAtMost(socket, MUX_READ_SIZE);
  if (once !== null) return once;
  return new Promise((resolve) => {
    const done = (bytes: Buffer | null): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      resolve(bytes);
    };
    const onData = (bytes: Buffer): void => {
      // What the client sends next is the program's: it must stay in the kernel.
      socket.pause();
      stopReading(socket);
      done(bytes);
    };
    const onEnd = (): void => done(null);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/**
 * FreeBSD's and GNU inetd's name line (tcpmux.ts bsdMuxName): reads of at most BSD_MUX_MAX bytes
 * (their getline's buffer: the rest stays for the program) until it is complete, the client
 * ends, or a read waits `timeoutMs` (null: FreeBSD's alarm ends the connection without a word;
 * no timeout: wait for ever, as GNU's).
 */
function bsdNameRead(socket: net.Socket, timeoutMs: number | null): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let sofar = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (name: Buffer | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      resolve(name);
    };
    const wait = (): void => {
      clearTimeout(timer);
      if (timeoutMs !== null) timer = setTimeout(() => done(null), timeoutMs);
    };
    /** One read's bytes; true while the name is not complete. */
    const take = (bytes: Buffer): boolean => {
      sofar = Buffer.concat([sofar, bytes]);
      const name = bsdMuxName(sofar, false);
      if (name === null) {
        wait();
        return true;
      }
      done(name);
      return false;
    };
    const onData = (bytes: Buffer): void => {
      if (take(bytes)) return;
      socket.pause();
      stopReading(socket);
    };
    const onEnd = (): void => done(bsdMuxName(sofar, true));
    const onClose = (): void => done(null);
    wait();
    const reads = readInChunks(socket, BSD_MUX_MAX, take);
    if (reads !== null) {
      void reads.then((how) => (how === 'end' ? onEnd() : how === 'closed' ? onClose() : undefined));
      return;
    }
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.resume();
  });
}

/** Writes `bytes`; resolves once they are with the kernel (false: the connection is gone). */
function send(socket: net.Socket, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve(false);
      return;
    }
    socket.write(bytes, (err) => resolve(err == null));
  });
}

/** The TCPMUX service's checks; a fault inside them refuses (internal_error), never admits. */
async function handedOver(ctx: ServeContext, target: Service, peer: Peer, local: LocalEnd | undefined): Promise<Decision> {
  try {
    return await ctx.admission.handedOver(target, peer, local);
  } catch (err) {
    ctx.daemon(
      'internal-error',
      'error',
      `access control of service ${target.id} failed: ${err instanceof Error ? err.message : String(err)}`,
      'access_control',
    );
    return { allow: false, reason: 'internal_error' };
  }
}

/**
 * Serves one admitted tcpmux connection (`mux`, already counted as started) to its end or to
 * the start of the program it asks for.
 */
export async function serveMux(
  ctx: ServeContext,
  mux: Service,
  peer: Peer,
  socket: net.Socket,
  local: LocalEnd | undefined,
  acceptedAt: number,
): Promise<void> {
  const release = ctx.hold(socket, mux);
  const t0 = performance.now();
  const closed = (): void => {
    socket.destroy();
    release();
    ctx.log({ kind: 'START', service: mux, pid: 0, peer });
    ctx.log({ kind: 'EXIT', service: mux, pid: 0, status: 0, signal: null, durationSeconds: durationSince(t0) });
    finished(ctx, mux, peer);
  };
  const why = (level: 'debug' | 'info', text: string): void => ctx.daemon('tcpmux-request', level, `tcpmux from ${peer.address}: ${text}`, 'tcpmux_handler');
  const bannerError =
    (func: string) =>
    (message: string): void =>
      ctx.daemon('banner', 'error', message, func);

  // Each tcpmux serves the TCPMUX services of its own kind of file.
  const services = ctx.muxServices().filter((s) => s.dialect === mux.dialect);
  // FreeBSD's tcpmux, or GNU inetutils' (the same but for the timeout); else xinetd's.
  const bsd = mux.dialect === 'inetd-freebsd' || mux.dialect === 'inetd-gnu' ? mux.dialect : null;
  let target: Service;
  if (bsd !== null) {
    const name = await bsdNameRead(socket, bsdMuxReadTimeoutMs(bsd));
    if (name === null) {
      why('debug', 'no complete name before the read timed out or the client went; closed');
      closed();
      return;
    }
    const answer = bsdMuxAnswer(name, services);
    if (answer.kind !== 'target' || ctx.stopping) {
      if (answer.kind === 'unknown') why('debug', `no TCPMUX service named '${name.toString('latin1')}'`);
      if (answer.kind !== 'target') await send(socket, answer.reply);
      closed();
      return;
    }
    target = answer.service;
  } else {
    const first = await firstRead(socket);
    if (first === null) {
      ctx.daemon('tcpmux-read-failed', 'error', 'read failed', 'tcpmux_handler');
      closed();
      return;
    }
    const request = muxRequest(first);
    if (request.kind === 'malformed') {
      why(
        'debug',
        request.overread ? 'a 1022-byte name with more data in the same read; closed' : 'not a service name ending in CR LF; closed without a reply',
      );
      closed();
      return;
    }
    const found = ctx.stopping ? null : muxTarget(request.name, services);
    if (found === null) {
      why('debug', `no TCPMUX service named '${request.name.toString('latin1')}'`);
      await send(socket, MUX_NOT_FOUND);
      closed();
      return;
    }
    target = found;
  }
  // TCPMUXPLUS: xinetd's "+Go" waits in its child's output buffer while the checks run (tcpmux.ts).
  const ack = muxClient(target) === 'plus' ? (bsd !== null ? BSD_MUX_ACK : MUX_ACK) : Buffer.alloc(0);
  const decision = await handedOver(ctx, target, peer, local);
  if (!decision.allow) {
    const fail = target.banner_fail === null ? null : await readBanner(target.banner_fail, target.id, bannerError('banner_fail'));
    if (decision.reason === 'libwrap' && decision.detail !== undefined) logRefusalDetail(ctx, decision, decision.detail);
    else
      why(
        'info',
        `service ${target.id} refused it (${decision.reason}${decision.detail !== undefined ? `: ${decision.detail}` : ''}); ${fail === null ? 'closed without a reply' : 'banner_fail written'}`,
      );
    // banner_fail flushes the buffer: "+Go" goes out with it.
    if (fail !== null) await send(socket, Buffer.concat([ack, fail]));
    closed();
    return;
  }
  const wrap = decision.wrap === undefined ? null : await prepareWrap(ctx, target, peer, decision.wrap);
  const success = target.banner_success === null ? null : await readBanner(target.banner_success, target.id, bannerError('banner_success'));
  const reply = Buffer.concat([ack, success ?? Buffer.alloc(0)]);
  if (reply.length > 0 && !(await send(socket, reply))) {
    closed();
    return;
  }
  if (ctx.stopping || socket.destroyed) {
    closed();
    return;
  }
  await startProgram(
    ctx,
    target,
    peer,
    socket,
    () => {
      socket.destroy();
      release();
    },
    acceptedAt,
    wrap,
    mux,
  );
}
