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

import type * as net from 'node:net';
import { LISTEN_BACKLOG, WaitSocket, type WaitSocketAddress } from './wait-socket.js';

interface ListeningHandle {
  readStart(): number;
  readStop(): number;
}

/** libuv's UV_EALREADY: readStart() on a handle already reading. */
const UV_EALREADY = -114;

function handleOf(server: net.Server): ListeningHandle | null {
  const h = (server as unknown as { _handle?: Partial<ListeningHandle> | null })._handle;
  return h != null && typeof h.readStart === 'function' && typeof h.readStop === 'function' ? (h as ListeningHandle) : null;
}

/**
 * Binds and listens on `addr` (TCP) and makes `server` accept on it; resolves with the port.
 * Rejects with the bind or listen error (nothing is left open then).
 */
export function listenPausable(server: net.Server, addr: Omit<WaitSocketAddress, 'transport'>): Promise<number> {
  let ws: WaitSocket;
  try {
    ws = WaitSocket.open({ ...addr, transport: 'tcp' });
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return new Promise<number>((resolve, reject) => {
    const onError = (err: Error): void => {
      // Node has closed its handle, and with it the descriptor once it had opened one: closing
      // it again could close a descriptor opened since. At worst (it failed before opening
      // it) the socket stays open.
      ws.release();
      reject(err);
    };
    server.once('error', onError);
    server.listen({ fd: ws.fd, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      ws.release();
      resolve(ws.port);
    });
  });
}

/**
 * Stops (false) or restarts (true) accepting on a server set up by listenPausable(); connections
 * arriving meanwhile wait in the kernel's listen queue. False when the server cannot (closed).
 */
export function setAccepting(server: net.Server, on: boolean): boolean {
  const h = handleOf(server);
  if (h === null) return false;
  const started = h.readStart();
  if (on) return started === 0 || started === UV_EALREADY;
  return h.readStop() === 0;
}
