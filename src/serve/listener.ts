// One listening socket (a Listener): opening it (a host name resolved then, SO_REUSEADDR, a port
// that cannot be bound retried in the background), who accepts on it (the daemon, pausing or
// not, or the spawn helper), suspending it (cps), and closing it. Where it listens is decided
// in listen-plan.ts; the set of them, reconciled on reload, is listeners.ts.
//
// How: internal services and redirects are served in-process (a net.Server paused on connect,
// or a dgram socket). Programs of nowait stream services get each accepted socket; programs of
// wait = yes services (and of every datagram service) get the listening/bound socket itself,
// which is watched without being read (wait-socket.ts). When the spawner's helper can accept
// (helperAccepts(): nowait programs, daytime, time), the daemon only binds and listens and hands
// the socket over; the helper reports each connection's peer for the daemon to decide about.
// Without Node's internals (uv-handles.ts) a stream socket is listened on by Node's listen()
// (pausable-accept.ts listenPlain(): the daemon accepts, and cannot pause), and a wait = yes
// socket cannot be made: open() fails with ENOTSUP, which is not retried (listeners.ts).

import { lookup } from 'node:dns/promises';
import type * as dgram from 'node:dgram';
import * as net from 'node:net';
import { bindRetryDelayMs } from './bind-retry.js';
import { ChargenRing } from './builtins.js';
import type { AcceptedConnection, Acceptor, HelperSockets } from '../spawn/spawn-types.js';
import type { Service } from '../table.js';
import { acceptOn, listenPlain, setAccepting as setServerAccepting } from './pausable-accept.js';
import { LISTEN_BACKLOG, WaitSocket, type WatchedSocket } from './wait-socket.js';
import { HeldDgramSocket } from './held-dgram-socket.js';
import { openUdp } from './udp-socket.js';
import { needsPausable, socketKey, type ListenPlan } from './listen-plan.js';
import { bindSocketFile, removeSocketFile, type SocketFile } from './unix-socket-file.js';

/** A connection accepted while its service was at a queueing limit, waiting for a server to end. */
export interface HeldConnection {
  serve(): void;
  drop(): void;
}
/** What a listener reports to whoever serves its connections. */
export interface ListenerEvents {
  /** A connection was accepted (paused, half-open allowed). */
  stream(listener: Listener, socket: net.Socket): void;
  /** A connection was accepted by the spawner's helper, which holds it until it is decided. */
  accepted(listener: Listener, conn: AcceptedConnection): void;
  /** A datagram arrived on an in-process datagram service. */
  datagram(listener: Listener, message: Buffer, remote: dgram.RemoteInfo): void;
  /** The socket of a wait = yes service has something waiting (nothing was read). */
  waitReady(listener: Listener): void;
  /** A socket error after the socket was opened (EMFILE on accept...). */
  error(listener: Listener, err: NodeJS.ErrnoException): void;
  /** A background attempt to bind a socket that could not be bound before (bind-retry.ts). */
  bindRetried(listener: Listener, outcome: BindRetryOutcome): void;
}

/** How a background bind attempt went: bound, or failed with the pause before the next one. */
export type BindRetryOutcome = { ok: true; attempts: number } | { ok: false; attempt: number; error: NodeJS.ErrnoException; nextMs: number };

/** `retrying`: the socket could not be bound; attempts go on in the background. */
export type ListenerState = 'new' | 'active' | 'suspended' | 'retrying' | 'closed';

let nextListenerId = 1;

export class Listener {
  readonly id = nextListenerId++;
  readonly key: string;
  state: ListenerState = 'new';
  /** The chargen ring of an in-process datagram service (made on first use). */
  private chargen: ChargenRing | null = null;
  /** Port actually bound (differs from plan.port only for port 0: RPC services, tests). */
  port = 0;
  /** The address literal the socket was last bound to (a `bind` host name resolved), and its family. */
  bound: { host: string; family: 4 | 6 } | null = null;
  private server: net.Server | null = null;
  private udp: dgram.Socket | null = null;
  private waitSocket: WatchedSocket | null = null;
  /**
   * A stream socket bound and listening, until a daemon's server adopts it (then `server` owns
   * the descriptor); while the helper alone accepts, this is its owner.
   */
  private streamSocket: WaitSocket | null = null;
  /** The stream socket's descriptor while open (owned by streamSocket or server). */
  private streamFd = -1;
  /** The helper accepts on the stream socket now (it was given streamFd). */
  private helperListening = false;
  /** Set when the spawner's helper accepts for this listener (stream plans only). */
  private helper: Acceptor | null;

  /** The chargen ring of an in-process datagram service. */
  get ring(): ChargenRing {
    return (this.chargen ??= new ChargenRing());
  }
  private resumeTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The file of a unix-domain socket while it is bound (removed when the socket closes). */
  private socketFile: SocketFile | null = null;
  /** Failed bind attempts in a row (0 once bound). */
  private bindFailures = 0;
  /** Whether the socket is accepted on (setAccepting); applied again to each socket opened. */
  private acceptOn = true;
  /** Connections accepted before a pause took effect, oldest first (see hold()). */
  private held: HeldConnection[] | null = null;
  /** The daemon's accepting pauses at the service's limit (FreeBSD max-child without the helper). */
  private pausable: boolean;

  constructor(
    /** The service's current settings; replaced on reload when the socket is kept. */
    public service: Service,
    readonly plan: ListenPlan,
    private readonly events: ListenerEvents,
    /** Set when the spawner's helper accepts for this listener (stream plans only). */
    acceptor: Acceptor | null = null,
    /** The spawner's helper sockets: where a unix-domain datagram socket is held (null: none). */
    private readonly heldSockets: HelperSockets | null = null,
  ) {
    this.helper = acceptor;
    this.pausable = needsPausable(service, plan, acceptor !== null);
    this.key = socketKey(plan);
  }

  /**
   * A reload kept this socket for `service` (same socketKey): takes its settings, and moves the
   * accepting between the daemon and the helper (`acceptor`, null: the daemon) without closing
   * the socket, so that clients arriving meanwhile wait in the listen queue instead of being
   * refused. Leaving the helper, the new settings apply only once the helper has reported
   * every connection it accepted before (Acceptor.unlisten): those are decided under the
   * settings they were accepted with, as the helper may serve them.
   */
  async reassign(service: Service, acceptor: Acceptor | null): Promise<void> {
    const before = this.helper;
    if (before !== acceptor && before !== null && this.helperListening) {
      this.helperListening = false;
      await before.unlisten(this.id);
    }
    this.service = service;
    this.pausable = needsPausable(service, this.plan, acceptor !== null);
    this.helper = acceptor;
    if (before === acceptor || this.streamFd < 0) return; // same hands, or no socket open now: open() uses the new ones
    if (acceptor !== null) {
      if (this.server !== null) setServerAccepting(this.server, false); // stays the descriptor's owner, idle
      acceptor.listen(this.id, this.streamFd);
      this.helperListening = true;
    } else if (this.server !== null) {
      setServerAccepting(this.server, true);
    } else if (this.streamSocket !== null) {
      this.server = this.adopt(this.streamSocket);
      this.streamSocket = null;
    }
    this.applyAccepting();
  }

  /**
   * Stops (false) or restarts (true) accepting without closing the socket (FreeBSD max-child):
   * meanwhile clients wait in the kernel's listen queue. Only stream listeners of services whose
   * limit queues can pause (the helper's, or a pausable server); for the others it is a no-op.
   * Returns whether the state changed.
   */
  setAccepting(on: boolean): boolean {
    if (this.acceptOn === on) return false;
    this.acceptOn = on;
    this.applyAccepting();
    return true;
  }

  get accepting(): boolean {
    return this.acceptOn;
  }

  private applyAccepting(): void {
    if (this.helperListening) this.helper?.setAccepting(this.id, this.acceptOn);
    else if (this.server !== null && this.pausable) setServerAccepting(this.server, this.acceptOn);
  }

  /**
   * Keeps a connection that was accepted before a pause took effect (the helper and libuv accept
   * what is waiting in one go): it waits here, unserved, as it would have in the listen queue.
   */
  hold(conn: HeldConnection): void {
    (this.held ??= []).push(conn);
  }

  /** The oldest held connection, now the caller's to serve; undefined when none waits. */
  takeHeld(): HeldConnection | undefined {
    return this.held?.shift();
  }

  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  /** The socket of a wait = yes service (null otherwise, or while suspended). */
  get wait(): WatchedSocket | null {
    return this.waitSocket;
  }

  /** Whether a socket is open now (the consistency check compares it with `state`). */
  get hasSocket(): boolean {
    return this.server !== null || this.udp !== null || this.waitSocket !== null || this.streamSocket !== null;
  }

  /** Opens the socket; rejects with the bind error. */
  async open(): Promise<void> {
    if (this.state === 'closed') throw new Error('listener closed');
    if (this.plan.unix !== undefined && this.plan.mode === 'dgram-wait') {
      await this.openHeldDgram();
    } else if (this.plan.unix !== undefined) {
      this.openUnix();
    } else {
      await this.openInet();
    }
    // Closed (a reload dropped the service) while the name was resolved or the socket bound.
    if ((this.state as ListenerState) === 'closed') {
      await this.shut();
      throw new Error('listener closed');
    }
    this.state = 'active';
    this.bindFailures = 0;
    if (!this.acceptOn) this.applyAccepting();
    if (this.waitSocket !== null) this.rearm();
  }

  private async openInet(): Promise<void> {
    const { host, family } = await this.address();
    this.bound = { host, family };
    const port = this.port !== 0 ? this.port : this.plan.port;
    switch (this.plan.mode) {
      case 'stream':
        if (WaitSocket.supported()) this.openStream(host, family, port);
        else await this.openPlain(host, port);
        break;
      case 'dgram':
        this.udp = await openUdp(
          host,
          family,
          port,
          this.plan.v6only,
          (msg, rinfo) => this.events.datagram(this, msg, rinfo),
          (err) => this.events.error(this, err),
        );
        this.port = this.udp.address().port;
        break;
      case 'stream-wait':
      case 'dgram-wait':
        this.waitSocket = this.openUnread(host, family, port);
        break;
    }
  }

  /**
   * A unix-domain stream socket at the plan's path (unix-socket-file.ts: a stale socket file is
   * removed first, the new one gets its owner, group and mode). The daemon accepts on it
   * (nowait) or watches it for the server (wait = yes), as for TCP. Without Node's internals a
   * nowait socket is listened on by Node's own listen(), and a wait = yes one cannot be made.
   */
  private openUnix(): void {
    const unix = this.plan.unix;
    if (unix === undefined) return;
    if (!WaitSocket.supported() && this.plan.mode === 'stream') {
      const server = this.daemonServer();
      const { file } = bindSocketFile(
        unix,
        () => server.listen({ path: unix.path, backlog: LISTEN_BACKLOG }),
        () => server.close(),
      );
      server.on('error', (err: NodeJS.ErrnoException) => this.events.error(this, err));
      this.helper = null;
      this.pausable = false;
      this.server = server;
      this.socketFile = file;
      return;
    }
    const { bound: ws, file } = bindSocketFile(
      unix,
      () => WaitSocket.open({ transport: 'unix', path: unix.path, host: '', family: 4, port: 0, v6only: false }),
      (w) => w.close(),
    );
    this.socketFile = file;
    if (this.plan.mode === 'stream-wait') {
      this.waitSocket = ws;
      return;
    }
    this.streamFd = ws.fd;
    this.server = this.adopt(ws);
  }

  /** A unix-domain datagram socket at the plan's path, held by the spawn helper (held-dgram-socket.ts). */
  private async openHeldDgram(): Promise<void> {
    if (this.plan.unix === undefined) return;
    const ws = await HeldDgramSocket.open(this.heldSockets, this.id, this.plan.unix);
    this.waitSocket = ws;
    this.socketFile = ws.file;
  }

  /**
   * The spawn helper holding this listener's unix-domain datagram socket ended, and the socket
   * with it: the file is removed, and the socket bound again in the background (retryBind).
   */
  async heldSocketLost(retryBaseMs: number): Promise<void> {
    if (this.state !== 'active' || !(this.waitSocket instanceof HeldDgramSocket)) return;
    this.state = 'new';
    await this.shut();
    if ((this.state as ListenerState) !== 'new') return;
    this.retryBind(retryBaseMs);
  }

  /**
   * After open() failed: tries again in the background, pausing longer each time
   * (bind-retry.ts), until the socket is bound or the listener closed. Each attempt is reported.
   */
  retryBind(baseMs: number): void {
    if (this.state === 'closed' || this.state === 'active') return;
    this.state = 'retrying';
    this.bindFailures++;
    const attempt = (): void => {
      this.retryTimer = null;
      if (this.state !== 'retrying') return;
      this.state = 'new';
      // open() resets the count once bound: the report gives the failures before this attempt.
      const failures = this.bindFailures;
      this.open().then(
        () => this.events.bindRetried(this, { ok: true, attempts: failures }),
        (reason: unknown) => {
          if (this.state === 'closed') return;
          const err = reason as NodeJS.ErrnoException; // open() rejects with the socket's system errors
          const failed = this.bindFailures;
          this.state = 'retrying';
          this.bindFailures++;
          const nextMs = bindRetryDelayMs(this.bindFailures, baseMs);
          this.retryTimer = setTimeout(attempt, nextMs);
          this.events.bindRetried(this, { ok: false, attempt: failed, error: err, nextMs });
        },
      );
    };
    this.retryTimer = setTimeout(attempt, bindRetryDelayMs(this.bindFailures, baseMs));
  }

  private async address(): Promise<{ host: string; family: 4 | 6 }> {
    if (this.plan.family !== 0 && net.isIP(this.plan.host) !== 0) return { host: this.plan.host, family: this.plan.family };
    const r = await lookup(this.plan.host, { family: this.plan.family });
    return { host: r.address, family: r.family === 6 ? 6 : 4 };
  }

  /**
   * Binds and listens (WaitSocket: Node's own listen() would make a socket whose accepting cannot
   * pause), then gives the socket to whoever accepts: the helper, or a server of the daemon's.
   */
  private openStream(host: string, family: 4 | 6, port: number): void {
    const ws = this.openUnread(host, family, port);
    this.streamFd = ws.fd;
    if (this.helper !== null) {
      this.streamSocket = ws;
      this.helper.listen(this.id, ws.fd);
      this.helperListening = true;
    } else {
      this.server = this.adopt(ws);
    }
  }

  /** A server of the daemon's accepting on `ws`, which it owns from then on. */
  private adopt(ws: WaitSocket): net.Server {
    const server = this.daemonServer();
    server.on('error', (err: NodeJS.ErrnoException) => this.events.error(this, err));
    acceptOn(server, ws);
    return server;
  }

  /** A server whose connections are the daemon's (paused, half-open allowed); errors not yet listened for. */
  private daemonServer(options: net.ServerOpts = {}): net.Server {
    const server = net.createServer({ ...options, pauseOnConnect: true, allowHalfOpen: true });
    server.on('connection', (socket: net.Socket) => this.events.stream(this, socket));
    return server;
  }

  /**
   * Without Node's internals: a server of the daemon's listening by Node's own listen()
   * (listenPlain). The daemon accepts even when the spawner's helper could; accepting does not
   * pause (connections accepted at a queueing limit are held by queue-limit.ts).
   */
  private async openPlain(host: string, port: number): Promise<void> {
    if (this.state === 'closed') throw new Error('listener closed');
    this.helper = null;
    this.pausable = false;
    const server = this.daemonServer({ noDelay: this.service.flags.includes('NODELAY'), keepAlive: this.service.flags.includes('KEEPALIVE') });
    await listenPlain(server, { host, port, v6only: this.plan.v6only });
    server.on('error', (err: NodeJS.ErrnoException) => this.events.error(this, err));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.server = server;
  }

  /** A socket bound (and for TCP listening) that the daemon itself never reads or accepts on. */
  private openUnread(host: string, family: 4 | 6, port: number): WaitSocket {
    if (this.state === 'closed') throw new Error('listener closed');
    const ws = WaitSocket.open({
      transport: this.plan.transport,
      host,
      family,
      port,
      v6only: this.plan.v6only,
      noDelay: this.service.flags.includes('NODELAY'),
      keepAlive: this.service.flags.includes('KEEPALIVE'),
    });
    this.port = ws.port;
    return ws;
  }

  /** Sends a datagram from the service's socket (in-process datagram services). */
  send(data: Buffer, port: number, address: string): void {
    if (this.udp === null || this.state !== 'active') return;
    this.udp.send(data, port, address, () => {});
  }

  /** Watches the wait = yes socket again (after its server exited). */
  rearm(): void {
    if (this.state !== 'active' || this.waitSocket === null || this.waitSocket.isClosed) return;
    this.waitSocket.watch(() => this.events.waitReady(this));
  }

  /** Closes the socket(s) without changing state. */
  private async shut(): Promise<void> {
    const server = this.server;
    const udp = this.udp;
    const ws = this.waitSocket;
    const streamSocket = this.streamSocket;
    this.server = null;
    this.udp = null;
    this.waitSocket = null;
    this.streamSocket = null;
    this.streamFd = -1;
    // A closed socket resets the clients of its listen queue; those held here go the same way.
    const held = this.held ?? [];
    this.held = null;
    for (const h of held) h.drop();
    ws?.close();
    if (this.helperListening) {
      void this.helper?.unlisten(this.id);
      this.helperListening = false;
    }
    streamSocket?.close();
    if (udp !== null) {
      await new Promise<void>((done) => {
        try {
          udp.close(() => done());
        } catch {
          done();
        }
      });
    }
    // Stops accepting and releases the address at once. Connections already accepted live on,
    // and the 'close' event would wait for them: it is not waited for.
    server?.close();
    if (this.socketFile !== null) {
      removeSocketFile(this.socketFile);
      this.socketFile = null;
    }
  }

  /**
   * Closes the socket for `seconds` (xinetd's cps deactivation), then reopens it. `onResume` is
   * told whether reopening worked. When it did not (another process took the address meanwhile)
   * and `retryBaseMs` is not null, the listener first joins the background bind retry
   * (retryBind), as a socket that could not be bound at start or reload does; with null it stays
   * suspended, as in xinetd. Nothing is reported if the listener is closed meanwhile.
   */
  async suspend(seconds: number, onResume: (ok: boolean, err?: NodeJS.ErrnoException) => void, retryBaseMs: number | null = null): Promise<void> {
    if (this.state !== 'active') return;
    this.state = 'suspended';
    await this.shut();
    // Closed while the socket was being closed: there is nothing to reopen.
    if ((this.state as ListenerState) !== 'suspended') return;
    this.resumeTimer = setTimeout(
      () => {
        this.resumeTimer = null;
        if (this.state !== 'suspended') return;
        this.state = 'new';
        this.open().then(
          () => onResume(true),
          (reason: unknown) => {
            // Closed (a reload dropped the service, the daemon stops) while the socket was reopened.
            if (this.state === 'closed') return;
            const err = reason as NodeJS.ErrnoException; // open() rejects with the socket's system errors
            this.state = 'suspended';
            if (retryBaseMs !== null) this.retryBind(retryBaseMs);
            onResume(false, err);
          },
        );
      },
      Math.max(0, seconds) * 1000,
    );
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.resumeTimer !== null) {
      clearTimeout(this.resumeTimer);
      this.resumeTimer = null;
    }
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    await this.shut();
  }
}
