// A net.Server that can stop and restart accepting without closing its socket: FreeBSD inetd's
// max-child (at the limit the socket is left out of select(), so clients wait in the kernel's
// listen queue) for the connections the daemon accepts itself. The native helper does the same
// with a pause/resume request (native/accept.h acc_pause).
//
// Node 20 has no such call: server.close() releases the port, and the listening handle refuses
// readStop()/readStart() (a socket bound by Node's own listen() is not marked readable in
// libuv, so readStart() fails with ENOTCONN and readStop() does nothing). A handle that libuv
// *opened* on an existing descriptor (uv_tcp_open) is marked readable, and on a listening
// stream libuv's read start/stop only start and stop the descriptor's watcher, whose callback
// is the accept callback. So the socket is bound and put into the listening state without
// Node's listen() (WaitSocket.open, see wait-socket.ts), then given to net.Server as `{ fd }`:
// Node opens its own handle on it, and that handle can pause (readStart, then readStop: stop
// only acts on a handle marked as reading) and resume (readStart). The server's handle owns
// the descriptor from then on; the binding handle is let go without closing it.
//
// Without Node's internals (uv-handles.ts) there is no WaitSocket and no handle to pause:
// listenPlain() listens with Node's own listen(), and setAccepting() answers false; the caller
// then holds what is accepted at the limit (queue-limit.ts) instead of leaving it in the kernel.

import type * as net from 'node:net';
import { pausableHandle } from '../sys/uv-handles.js';
import { LISTEN_BACKLOG, type WaitSocket } from './wait-socket.js';

/** libuv's UV_EALREADY: readStart() on a handle already reading. */
const UV_EALREADY = -114;

/**
 * Makes `server` accept on the listening socket `ws` (WaitSocket.open, transport tcp), which it
 * owns from then on: `ws` is let go without closing. Node opens its handle on the descriptor at
 * once; an error after that arrives as the server's 'error' event.
 */
export function acceptOn(server: net.Server, ws: WaitSocket): void {
  server.listen({ fd: ws.fd, backlog: LISTEN_BACKLOG });
  ws.release();
}

/**
 * Stops (false) or restarts (true) accepting on a server set up by acceptOn(); connections
 * arriving meanwhile wait in the kernel's listen queue. False when the server cannot: closed, or
 * listening by listenPlain() (no handle to pause without Node's internals).
 */
export function setAccepting(server: net.Server, on: boolean): boolean {
  const h = pausableHandle(server);
  if (h === null) return false;
  const started = h.readStart();
  if (on) return started === 0 || started === UV_EALREADY;
  return h.readStop() === 0;
}

/** Where listenPlain() listens. */
export interface PlainAddress {
  host: string;
  port: number;
  v6only: boolean;
}

/**
 * The fallback of WaitSocket.open() + acceptOn() for a stream socket when there are no libuv
 * handles (WaitSocket.supported() false): `server` listens by Node's own listen() (SO_REUSEADDR,
 * xinetd's backlog) and cannot pause. Resolves once listening; rejects with the bind error.
 */
export function listenPlain(server: net.Server, addr: PlainAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(err);
    server.once('error', failed);
    server.listen({ host: addr.host, port: addr.port, ipv6Only: addr.v6only, backlog: LISTEN_BACKLOG, exclusive: true }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
