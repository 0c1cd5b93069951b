// The socket of a wait = yes service that starts a program: bound (UDP) or listening (TCP),
// handed to the server as fds 0-2, and watched by the daemon WITHOUT being read, so that the
// datagram or connection that wakes the daemon is still there for the server, and nothing that
// arrives while a server runs is consumed by the daemon.
//
// Node's dgram and net objects start reading (recvmsg, accept) as soon as they are bound or
// listening, and cannot be told to stop without closing. So the socket is built on libuv handles
// directly (uv-handles.ts uvBindings(), the same ones dgram and net use):
// - a UDP handle bound without recvStart(), or a TCP handle bound, put into the listening state
//   through a pipe handle whose watcher is stopped again before the event loop ever polls it;
// - a "watcher": a pipe handle opened on the same descriptor, reading into a zero-length buffer.
//   libuv then reports readability as ENOBUFS without calling read(): the datagram or pending
//   connection stays queued. The watcher is one-shot: it stops itself on the first report.
// Several handles share one descriptor, so only the owning UDP/TCP handle is ever closed; the
// others are stopped and dropped. The child clears O_NONBLOCK on the shared file description
// (libuv does for fds 0-2), so it is restored after each server.
//
// Without those handles (uv-handles.ts: missing, changed, or switched off) no such socket can
// be made: WaitSocket.supported() is false and open() throws an error with code ENOTSUP.

import { getSystemErrorName } from 'node:util';
import type { ChildStdio } from '../spawn/spawn-types.js';
import { dropDescriptorPipe, keepDescriptorPipe, uvBindings, type RawPipe, type RawTcp, type RawUdp, type UvBindings } from '../sys/uv-handles.js';

/** xinetd's listen(2) backlog. */
export const LISTEN_BACKLOG = 64;

function uvError(code: number, what: string): NodeJS.ErrnoException {
  let name: string;
  try {
    name = getSystemErrorName(code);
  } catch {
    name = `E${-code}`;
  }
  const err: NodeJS.ErrnoException = new Error(`${what} failed (${name})`);
  err.code = name;
  err.errno = code;
  return err;
}

export interface WaitSocketAddress {
  /** unix: a unix-domain stream socket bound at `path` (host, family, port and v6only unused). */
  transport: 'tcp' | 'udp' | 'unix';
  path?: string;
  host: string;
  family: 4 | 6;
  port: number;
  v6only: boolean;
  /** TCP: TCP_NODELAY / SO_KEEPALIVE on the listening socket (accepted sockets inherit them). */
  noDelay?: boolean;
  keepAlive?: boolean;
}

/** The handles, or the error every WaitSocket needs when there are none. */
function bindings(): UvBindings {
  const b = uvBindings();
  if (b !== null) return b;
  const err: NodeJS.ErrnoException = new Error(
    "a socket watched without being read needs Node's libuv handles, which this Node does not give (or TSINETD_NODE_INTERNALS=0)",
  );
  err.code = 'ENOTSUP';
  throw err;
}

/** What the pipe that listens is given to call (it never does: its watcher is stopped before any poll). */
function ignore(): void {}

/**
 * listen(2) on `h`'s descriptor through a pipe handle whose accept watcher is stopped before any
 * poll; closes `h` on failure. The pipe is never closed (that would close the descriptor): it
 * is lent to rawDescriptorHandle() (keepDescriptorPipe) for sending the socket to the spawn
 * helper, so that no second handle is opened on it for that.
 */
function listenUnwatched(b: UvBindings, h: RawTcp | RawPipe): void {
  const lister = new b.Pipe(b.pipeSocket);
  lister.onconnection = ignore;
  lister.onread = ignore;
  let e = lister.open(h.fd);
  if (e === 0) e = lister.listen(LISTEN_BACKLOG);
  if (e === 0) e = lister.readStart();
  if (e === 0) e = lister.readStop();
  if (e !== 0) {
    h.close();
    throw uvError(e, 'listen');
  }
  keepDescriptorPipe(h.fd, lister);
}

/**
 * The socket of a wait = yes service as serve-wait.ts uses it: a WaitSocket, or a unix-domain
 * datagram socket the spawn helper holds (held-dgram-socket.ts).
 */
export interface WatchedSocket {
  /** 'unix-dgram': a unix-domain datagram socket, whose senders have no address. */
  readonly transport: 'tcp' | 'udp' | 'unix' | 'unix-dgram';
  /** The descriptor in this process (-1: the socket is held by the spawn helper). */
  readonly fd: number;
  readonly isClosed: boolean;
  /** What a server started on the socket is given as fds 0-2. */
  readonly stdio: ChildStdio;
  watch(onReadable: () => void): void;
  unwatch(): void;
  restoreNonBlocking(): void;
  /** Datagram sockets: reads and discards what is queued; resolves with the count. */
  drain(): Promise<number>;
  close(): void;
}

export class WaitSocket implements WatchedSocket {
  private watcher: RawPipe | null = null;
  private closed = false;
  private draining = false;

  private constructor(
    private readonly owner: RawUdp | RawTcp | RawPipe,
    readonly transport: 'tcp' | 'udp' | 'unix',
    readonly fd: number,
    readonly port: number,
  ) {}

  /** Whether open() can work in this process (uv-handles.ts uvBindings()). */
  static supported(): boolean {
    return uvBindings() !== null;
  }

  /**
   * Binds (and for TCP, listens on) the address. Throws an Error with `code` on failure:
   * ENOTSUP when this process has no libuv handles to build it from (supported()).
   */
  static open(addr: WaitSocketAddress): WaitSocket {
    const b = bindings();
    const out: Record<string, unknown> = {};
    if (addr.transport === 'udp') {
      const h = new b.UDP();
      const flags = b.udpReuseAddr | (addr.family === 6 && addr.v6only ? b.udpIpv6Only : 0);
      const err = addr.family === 6 ? h.bind6(addr.host, addr.port, flags) : h.bind(addr.host, addr.port, flags);
      if (err !== 0) {
        h.close();
        throw uvError(err, 'bind');
      }
      h.getsockname(out);
      return new WaitSocket(h, 'udp', h.fd, typeof out['port'] === 'number' ? out['port'] : addr.port);
    }
    if (addr.transport === 'unix') return WaitSocket.openUnix(b, addr.path ?? '');
    const h = new b.TCP(b.tcpServer);
    const err = addr.family === 6 ? h.bind6(addr.host, addr.port, addr.v6only ? b.tcpIpv6Only : 0) : h.bind(addr.host, addr.port);
    if (err !== 0) {
      h.close();
      throw uvError(err, 'bind');
    }
    // libuv reports EADDRINUSE of a TCP bind only at listen time (its "delayed error"), and the
    // listen below goes through another handle that never sees it: an unbound socket would
    // then listen on a port the kernel picks. An unbound socket has port 0 here.
    h.getsockname(out);
    if (out['port'] === 0 || (addr.port !== 0 && out['port'] !== addr.port)) {
      h.close();
      throw uvError(-98 /* EADDRINUSE */, 'bind');
    }
    if (addr.noDelay === true) h.setNoDelay(true);
    if (addr.keepAlive === true) h.setKeepAlive(true, 0);
    listenUnwatched(b, h);
    h.getsockname(out);
    return new WaitSocket(h, 'tcp', h.fd, typeof out['port'] === 'number' ? out['port'] : addr.port);
  }

  /** A unix-domain stream socket bound at `path` (the file is the caller's to prepare) and listening. */
  private static openUnix(b: UvBindings, path: string): WaitSocket {
    const h = new b.Pipe(b.pipeServer);
    const err = h.bind(path);
    if (err !== 0) {
      h.close();
      throw uvError(err, 'bind');
    }
    listenUnwatched(b, h);
    return new WaitSocket(h, 'unix', h.fd, 0);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get stdio(): ChildStdio {
    return { fd: this.fd };
  }

  /**
   * Calls `onReadable` once, when a datagram or a connection is waiting (nothing is read).
   * Call again to watch again.
   */
  watch(onReadable: () => void): void {
    if (this.closed) return;
    const b = bindings();
    if (this.watcher === null) {
      const w = new b.Pipe(b.pipeSocket);
      const err = w.open(this.fd);
      if (err !== 0) throw uvError(err, 'watch');
      w.useUserBuffer(new Uint8Array(0));
      this.watcher = w;
    }
    const w = this.watcher;
    w.onread = () => {
      w.readStop();
      if (!this.closed) onReadable();
    };
    const err = w.readStart();
    if (err !== 0 && err !== -114 /* EALREADY */) throw uvError(err, 'watch');
  }

  /** Stops watching (the server owns the socket now). */
  unwatch(): void {
    this.watcher?.readStop();
  }

  /** Puts the socket back into non-blocking mode after a server cleared it. */
  restoreNonBlocking(): void {
    if (this.closed) return;
    if (this.watcher === null) {
      this.watch(() => {});
      this.unwatch();
    }
    this.watcher?.setBlocking(false);
  }

  /**
   * UDP only: reads and discards what is queued, as xinetd does after a failed server, so that a
   * datagram the server never read cannot start server after server. Resolves with the count.
   */
  drain(): Promise<number> {
    if (this.transport !== 'udp' || this.closed || this.draining) return Promise.resolve(0);
    const h = this.owner as RawUdp;
    this.restoreNonBlocking();
    this.unwatch();
    this.draining = true;
    let count = 0;
    h.onmessage = () => {
      count++;
    };
    return new Promise<number>((done) => {
      const stop = (): void => {
        if (!this.closed) h.recvStop();
        h.onmessage = undefined;
        this.draining = false;
        done(count);
      };
      if (h.recvStart() !== 0) {
        stop();
        return;
      }
      // libuv reads during the event loop's next poll phases; stop once a round brings nothing.
      let seen = -1;
      let rounds = 0;
      const round = (): void => {
        if (this.closed || count === seen || ++rounds > 50) {
          stop();
          return;
        }
        seen = count;
        setTimeout(round, 5);
      };
      setTimeout(round, 5);
    });
  }

  /**
   * Gives the descriptor up to another handle that now owns it and will close it (see
   * pausable-accept.ts): this object's handles are stopped and let go without closing, as the
   * watchers are, and it counts as closed.
   */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    dropDescriptorPipe(this.fd);
    this.watcher?.readStop();
    this.watcher = null;
  }

  /** Closes the descriptor (a running server keeps its own copy). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    dropDescriptorPipe(this.fd);
    this.watcher?.readStop();
    this.watcher = null;
    if (this.transport === 'udp') (this.owner as RawUdp).recvStop();
    this.owner.close();
  }
}
