// Listening sockets, one per service (two for a service with one socket per address family,
// `family_sockets`): where each service listens (a pure plan), the socket
// that does it, and the set of them, kept so that a reload can reconcile old and new tables:
// a service whose plan is unchanged keeps its socket (only its settings are replaced), others
// are closed or opened.
//
// Where (xinetd's rules): no `bind` = the IPv6 wildcard [::], dual-stack unless `v6only = yes`,
// so IPv4 peers appear as ::ffff:a.b.c.d; `flags = IPv4` = 0.0.0.0; an IPv4 `bind` address =
// a plain IPv4 socket; an IPv6 one = an IPv6 socket; a host name is resolved when the socket
// is opened. SO_REUSEADDR is always set (libuv does for TCP, and we ask for it on UDP).
//
// How: internal services and redirects are served in-process (a net.Server paused on connect,
// or a dgram socket). Programs of nowait stream services get each accepted socket; programs of
// wait = yes services (and of every datagram service) get the listening/bound socket itself,
// which is watched without being read (wait-socket.ts). When the spawner's helper can accept
// (helperAccepts(): nowait programs, daytime, time), the daemon only binds and listens and hands
// the socket over; the helper reports each connection's peer for the daemon to decide about.

import { lookup } from 'node:dns/promises';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { addressChecks } from './admission.js';
import { bindRetryDelayMs } from './bind-retry.js';
import { builtinOf, ChargenRing } from './builtins.js';
import { useridOnFailure, useridOnSuccess } from './ident.js';
import type { AcceptedConnection, Acceptor } from './spawn-types.js';
import type { Service } from './table.js';
import { acceptOn, setAccepting as setServerAccepting } from './pausable-accept.js';
import { versus } from './versus.js';
import { WaitSocket } from './wait-socket.js';
import { serviceKind } from './service-kind.js';

export type ListenMode = 'stream' | 'dgram' | 'stream-wait' | 'dgram-wait';

export interface ListenPlan {
  mode: ListenMode;
  transport: 'tcp' | 'udp';
  port: number;
  /** An address literal, or a host name resolved when the socket is opened. */
  host: string;
  /** 4 or 6 for address literals; for host names the family asked of the resolver (0 = any). */
  family: 0 | 4 | 6;
  v6only: boolean;
}

export type PlanResult = { ok: true; plan: ListenPlan } | { ok: false; reason: string };
export type PlansResult = { ok: true; plans: ListenPlan[] } | { ok: false; reason: string };

/**
 * Where and how `service` listens (its first socket: the IPv4 one of a service with one
 * socket per family), or why it cannot.
 */
export function listenPlan(service: Service): PlanResult {
  const r = listenPlans(service);
  return r.ok ? { ok: true, plan: r.plans[0]! } : r;
}

/**
 * Every socket of `service`: one, or two for `family_sockets` (an IPv4 socket, then a v6only
 * IPv6 one, on the wildcards or on the addresses of the `bind` host name).
 */
export function listenPlans(service: Service): PlansResult {
  const no = (reason: string): PlansResult => ({ ok: false, reason });
  if (service.type.includes('RPC')) return no('RPC services are not supported');
  if (service.type.includes('TCPMUX') || service.type.includes('TCPMUXPLUS')) return no('TCPMUX services are not supported');
  if (service.socket_type !== 'stream' && service.socket_type !== 'dgram') {
    return no(`socket_type ${service.socket_type} is not supported`);
  }
  const transport = service.socket_type === 'stream' ? 'tcp' : 'udp';
  if (service.protocol !== transport) return no(`protocol ${service.protocol} is not supported with socket_type ${service.socket_type}`);
  if (service.port === null) return no('no port');

  const kind = serviceKind(service);
  let mode: ListenMode;
  if (kind === 'internal' || kind === 'sensor') {
    if (builtinOf(service) === null) {
      if (service.name === 'tcpmux') return no('the internal tcpmux service is not supported');
      return no(`No such internal service: ${service.name}/${service.socket_type}`);
    }
    mode = transport === 'tcp' ? 'stream' : 'dgram';
  } else if (kind === 'redirect') {
    if (transport !== 'tcp') return no('redirect works for tcp services only');
    mode = 'stream';
  } else if (service.server === null) {
    return no('no server program');
  } else {
    mode = transport === 'udp' ? 'dgram-wait' : service.wait ? 'stream-wait' : 'stream';
  }

  const base = { mode, transport, port: service.port } as const;
  if (service.family_sockets && (service.bind === null || net.isIP(service.bind) === 0)) {
    return {
      ok: true,
      plans: [
        { ...base, host: service.bind ?? '0.0.0.0', family: 4, v6only: false },
        { ...base, host: service.bind ?? '::', family: 6, v6only: true },
      ],
    };
  }
  const v6only = service.v6only === true;
  let host: string;
  let family: 0 | 4 | 6;
  if (service.bind !== null) {
    host = service.bind;
    const literal = net.isIP(host);
    if (literal === 4 || literal === 6) family = literal;
    else family = service.flags.includes('IPv4') ? 4 : service.flags.includes('IPv6') ? 6 : 0;
  } else if (service.flags.includes('IPv4')) {
    host = '0.0.0.0';
    family = 4;
  } else {
    host = '::';
    family = 6;
  }
  return { ok: true, plans: [{ ...base, host, family, v6only }] };
}

/** The identities of all of `service`'s sockets (services that cannot listen: the reason). */
export function socketsKey(service: Service): string {
  const r = listenPlans(service);
  return r.ok ? r.plans.map(socketKey).join(' + ') : `none: ${r.reason}`;
}

/** Whether the daemon's own accepting for `service` must be able to pause (pausable-accept.ts). */
function needsPausable(service: Service, plan: ListenPlan, helperAccepts: boolean): boolean {
  return plan.mode === 'stream' && !helperAccepts && service.instances_at_limit === 'queue';
}

/** A connection accepted while its service was at a queueing limit, waiting for a server to end. */
export interface HeldConnection {
  serve(): void;
  drop(): void;
}

/**
 * Which listening socket this is: two plans with the same key are the same socket, kept across a
 * reload (the reload plan, reload.ts, and the listener set, ListenerSet.apply, both decide by
 * it). Who accepts on it (the daemon or the helper, pausing or not) is not part of it: that can
 * change on a kept socket (Listener.reassign).
 */
export function socketKey(plan: ListenPlan): string {
  return `${plan.mode} ${plan.transport} [${plan.host}]:${plan.port}${plan.family === 6 && plan.v6only ? ' v6only' : ''}/${plan.family}`;
}

/**
 * Whether the spawner's helper may accept `service`'s connections (when it can: see Acceptor in
 * spawn-types.ts), because the daemon needs nothing of them but the peer's address: a nowait
 * program, or daytime/time (a reply the daemon computes), without banners (written to the
 * socket) and USERID lookups (which watch it).
 */
export function helperAccepts(service: Service): boolean {
  const r = listenPlan(service);
  if (!r.ok || r.plan.mode !== 'stream' || serviceKind(service) === 'redirect') return false;
  if (service.banner !== null || service.banner_success !== null || service.banner_fail !== null) return false;
  if (useridOnSuccess(service) || useridOnFailure(service) || service.flags.includes('IDONLY')) return false;
  const builtin = builtinOf(service);
  if (builtin !== null) return builtin === 'daytime' || builtin === 'time';
  return service.server !== null;
}

/**
 * What `service` asks for that the way it would be served cannot honour (for --check), beyond
 * the reasons listenPlan() refuses it.
 */
export function servingLimitations(service: Service): string[] {
  const r = listenPlan(service);
  if (!r.ok) return [r.reason + versus('starts less')];
  const out: string[] = [];
  if (r.plan.mode === 'dgram-wait' && !service.wait) {
    out.push('wait = no on a datagram service is served as wait = yes (one server at a time)' + versus('fewer at a time'));
  }
  if (r.plan.mode === 'stream-wait') {
    // Its server accepts the connections itself: the client address is never known (admission.ts unknownAddress).
    if (service.only_from !== null) {
      out.push(
        'only_from refuses every client of a wait = yes stream service: its server accepts the connections itself, so ' +
          'the client address is never known (xinetd does the same, forking in a loop; tsinetd tries again every second)' +
          versus('same'),
      );
    }
    const checks = addressChecks(service).filter((c) => c !== 'only_from');
    if (checks.length > 0) {
      out.push(
        `${checks.join(', ')} cannot be checked for a wait = yes stream service: the client address is never known, ` +
          'so they let every client in (as in xinetd)' +
          versus('same'),
      );
    }
  }
  if (r.plan.mode === 'stream' && service.wait && builtinOf(service) !== null) {
    out.push('wait = yes on an internal stream service is served as wait = no' + versus('more at a time'));
  }
  if (r.plan.mode !== 'stream' && service.instances_at_limit === 'queue' && service.instances !== null && service.instances > 1) {
    out.push(
      `max-child ${service.instances} on a service whose socket goes to its server: one server runs at a time (FreeBSD would start up to ${service.instances})` +
        versus('fewer at a time', 'FreeBSD inetd'),
    );
  }
  return out;
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
export type BindRetryOutcome =
  | { ok: true; attempts: number }
  | { ok: false; attempt: number; error: NodeJS.ErrnoException; nextMs: number };

/** `retrying`: the socket could not be bound; attempts go on in the background. */
export type ListenerState = 'new' | 'active' | 'suspended' | 'retrying' | 'closed';

let nextListenerId = 1;

export class Listener {
  readonly id = nextListenerId++;
  readonly key: string;
  state: ListenerState = 'new';
  /** The chargen ring of an in-process datagram service. */
  readonly ring = new ChargenRing();
  /** Port actually bound (differs from plan.port only for port 0, in tests). */
  port = 0;
  private server: net.Server | null = null;
  private udp: dgram.Socket | null = null;
  private waitSocket: WaitSocket | null = null;
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
  private resumeTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Failed bind attempts in a row (0 once bound). */
  private bindFailures = 0;
  /** Whether the socket is accepted on (setAccepting); applied again to each socket opened. */
  private acceptOn = true;
  /** Connections accepted before a pause took effect, oldest first (see hold()). */
  private held: HeldConnection[] = [];
  /** The daemon's accepting pauses at the service's limit (FreeBSD max-child without the helper). */
  private pausable: boolean;

  constructor(
    /** The service's current settings; replaced on reload when the socket is kept. */
    public service: Service,
    readonly plan: ListenPlan,
    private readonly events: ListenerEvents,
    /** Set when the spawner's helper accepts for this listener (stream plans only). */
    acceptor: Acceptor | null = null,
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
    this.held.push(conn);
  }

  /** The oldest held connection, now the caller's to serve; undefined when none waits. */
  takeHeld(): HeldConnection | undefined {
    return this.held.shift();
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** The socket of a wait = yes service (null otherwise, or while suspended). */
  get wait(): WaitSocket | null {
    return this.waitSocket;
  }

  /** Whether a socket is open now (the consistency check compares it with `state`). */
  get hasSocket(): boolean {
    return this.server !== null || this.udp !== null || this.waitSocket !== null || this.streamSocket !== null;
  }

  /** Opens the socket; rejects with the bind error. */
  async open(): Promise<void> {
    if (this.state === 'closed') throw new Error('listener closed');
    const { host, family } = await this.address();
    const port = this.port !== 0 ? this.port : this.plan.port;
    switch (this.plan.mode) {
      case 'stream':
        this.openStream(host, family, port);
        break;
      case 'dgram':
        this.udp = await this.openDgram(host, family, port);
        break;
      case 'stream-wait':
      case 'dgram-wait':
        this.waitSocket = this.openUnread(host, family, port);
        break;
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
        (err: NodeJS.ErrnoException) => {
          if ((this.state as ListenerState) === 'closed') return;
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
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    server.on('connection', (socket: net.Socket) => this.events.stream(this, socket));
    server.on('error', (err: NodeJS.ErrnoException) => this.events.error(this, err));
    acceptOn(server, ws);
    return server;
  }

  /** A socket bound (and for TCP listening) that the daemon itself never reads or accepts on. */
  private openUnread(host: string, family: 4 | 6, port: number): WaitSocket {
    if ((this.state as ListenerState) === 'closed') throw new Error('listener closed');
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

  private openDgram(host: string, family: 4 | 6, port: number): Promise<dgram.Socket> {
    return new Promise<dgram.Socket>((resolve, reject) => {
      const socket = dgram.createSocket({
        type: family === 6 ? 'udp6' : 'udp4',
        reuseAddr: true,
        ipv6Only: family === 6 && this.plan.v6only,
      });
      const onBindError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onBindError);
      socket.on('message', (msg, rinfo) => this.events.datagram(this, msg, rinfo));
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', onBindError);
        socket.on('error', (err: NodeJS.ErrnoException) => this.events.error(this, err));
        this.port = socket.address().port;
        resolve(socket);
      });
    });
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
    for (const h of this.held.splice(0)) h.drop();
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
  }

  /**
   * Closes the socket for `seconds` (xinetd's cps deactivation), then reopens it. `onResume` is
   * told whether reopening worked. When it did not (another process took the address meanwhile)
   * and `retryBaseMs` is not null, the listener first joins the background bind retry
   * (retryBind), as a socket that could not be bound at start or reload does; with null it stays
   * suspended, as in xinetd. Nothing is reported if the listener is closed meanwhile.
   */
  async suspend(
    seconds: number,
    onResume: (ok: boolean, err?: NodeJS.ErrnoException) => void,
    retryBaseMs: number | null = null,
  ): Promise<void> {
    if (this.state !== 'active') return;
    this.state = 'suspended';
    await this.shut();
    // Closed while the socket was being closed: there is nothing to reopen.
    if ((this.state as ListenerState) !== 'suspended') return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      if (this.state !== 'suspended') return;
      this.state = 'new';
      this.open().then(
        () => onResume(true),
        (err: NodeJS.ErrnoException) => {
          // Closed (a reload dropped the service, the daemon stops) while the socket was reopened.
          if ((this.state as ListenerState) === 'closed') return;
          this.state = 'suspended';
          if (retryBaseMs !== null) this.retryBind(retryBaseMs);
          onResume(false, err);
        },
      );
    }, Math.max(0, seconds) * 1000);
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

export interface ApplyResult {
  /** Listeners opened for services new to this set. */
  opened: Listener[];
  /** Listeners kept (same plan) with their service replaced. */
  kept: Listener[];
  /** Listeners closed because no service wants them any more. */
  closed: Listener[];
  /**
   * Services that could not be served, and why. With `error` (the socket could not be bound),
   * `retrying` tells whether the listener stays in the set and keeps trying.
   */
  failed: Array<{ service: Service; reason: string; error?: NodeJS.ErrnoException; retrying?: boolean }>;
}

export interface ListenerSetOptions {
  /** First pause before binding again after a bind error; null: give the service up (xinetd). */
  bindRetryMs: number | null;
  /** The spawner's helper, to accept for the services it can (helperAccepts()); null: none. */
  acceptor?: Acceptor | null;
}

/** All listening sockets of a daemon. */
export class ListenerSet {
  private listeners: Listener[] = [];

  private readonly byId = new Map<number, Listener>();

  constructor(
    private readonly events: ListenerEvents,
    private readonly opts: ListenerSetOptions = { bindRetryMs: null },
  ) {
    opts.acceptor?.setEvents({
      connection: (lid, conn) => {
        const l = this.byId.get(lid);
        if (l === undefined) conn.drop();
        else events.accepted(l, conn);
      },
      error: (lid, err) => {
        const l = this.byId.get(lid);
        if (l !== undefined) events.error(l, err);
      },
    });
  }

  get all(): readonly Listener[] {
    return this.listeners;
  }

  /** Listening now (not suspended, not failed). */
  get active(): Listener[] {
    return this.listeners.filter((l) => l.state === 'active');
  }

  /** The (first) listener serving the service with this id, if any. */
  byService(id: string): Listener | undefined {
    return this.listeners.find((l) => l.service.id === id);
  }

  /** The services with at least one socket listening now, each once. */
  get activeServices(): Service[] {
    const seen = new Map<string, Service>();
    for (const l of this.active) if (!seen.has(l.service.id)) seen.set(l.service.id, l.service);
    return [...seen.values()];
  }

  /**
   * Each service's listening state: that of its most available socket (active, then
   * suspended, retrying, new, closed), for a service with one socket per family.
   */
  get states(): Map<string, ListenerState> {
    const rank: ListenerState[] = ['active', 'suspended', 'retrying', 'new', 'closed'];
    const out = new Map<string, ListenerState>();
    for (const l of this.listeners) {
      const was = out.get(l.service.id);
      if (was === undefined || rank.indexOf(l.state) < rank.indexOf(was)) out.set(l.service.id, l.state);
    }
    return out;
  }

  /** Waiting for their socket to be bound (bind errors, retried in the background). */
  get retrying(): Listener[] {
    return this.listeners.filter((l) => l.state === 'retrying');
  }

  /**
   * Makes the set serve exactly `services`: unchanged plans keep their socket, the rest is
   * closed first (so that an address can move between services) and then opened.
   */
  async apply(services: readonly Service[]): Promise<ApplyResult> {
    const result: ApplyResult = { opened: [], kept: [], closed: [], failed: [] };
    const pool = new Map<string, Listener[]>();
    for (const l of this.listeners) {
      const list = pool.get(l.key) ?? [];
      list.push(l);
      pool.set(l.key, list);
    }
    const toOpen: Listener[] = [];
    const next: Listener[] = [];
    for (const service of services) {
      const r = listenPlans(service);
      if (!r.ok) {
        result.failed.push({ service, reason: r.reason });
        continue;
      }
      const acceptor = this.opts.acceptor != null && helperAccepts(service) ? this.opts.acceptor : null;
      for (const plan of r.plans) {
        const reuse = pool.get(socketKey(plan))?.shift();
        if (reuse !== undefined) {
          await reuse.reassign(service, acceptor);
          result.kept.push(reuse);
          next.push(reuse);
        } else {
          const l = new Listener(service, plan, this.events, acceptor);
          // Known at once: the helper may report a connection before apply() is over.
          this.byId.set(l.id, l);
          toOpen.push(l);
        }
      }
    }
    for (const list of pool.values()) {
      for (const l of list) {
        await l.close();
        result.closed.push(l);
      }
    }
    for (const l of toOpen) {
      try {
        await l.open();
        result.opened.push(l);
        next.push(l);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (this.opts.bindRetryMs !== null) {
          l.retryBind(this.opts.bindRetryMs);
          next.push(l);
          result.failed.push({ service: l.service, reason: e.message, error: e, retrying: true });
        } else {
          await l.close();
          result.failed.push({ service: l.service, reason: e.message, error: e, retrying: false });
        }
      }
    }
    this.listeners = next;
    this.byId.clear();
    for (const l of next) this.byId.set(l.id, l);
    return result;
  }

  async close(): Promise<void> {
    const all = this.listeners;
    this.listeners = [];
    this.byId.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}
