// The contract between the server and whatever starts child processes.
//
// Two implementations: the native spawner (a small C helper process that receives the
// socket over a unix socket and does fork/exec with the full xinetd child set-up), and a
// pure-Node fallback on child_process.spawn for machines where the helper cannot be built.

import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import type { Peer } from '../peer.js';
import type { Rlimits } from '../table.js';

export interface SpawnSpec {
  /** Absolute program path. */
  path: string;
  /** argv including argv[0]. */
  argv: string[];
  /** The complete environment of the child, as NAME=value strings. */
  env: string[];
  /** Numeric ids to switch to; null = keep the daemon's. */
  uid: number | null;
  gid: number | null;
  /** Supplementary groups to set (setgroups); null = none are set beyond what the id switch implies. */
  groups: number[] | null;
  /** umask for the child. */
  umask: number;
  /** Nice increment, null = unchanged. */
  nice: number | null;
  rlimits: Rlimits;
  /**
   * Set on the connection before the child starts (TCP wrappers' keepalive, linger and banners
   * options); absent: nothing. `pre` is written first (at most 64 KiB).
   */
  socketSetup?: SocketSetup;
}

export interface SocketSetup {
  keepalive: boolean;
  /** SO_LINGER seconds; null = unchanged. */
  lingerSeconds: number | null;
  pre: Buffer | null;
}

/**
 * A socket descriptor the caller owns but that no Node socket object wraps: the bound or
 * listening socket of a wait = yes service, watched without being read (see wait-socket.ts).
 */
export interface RawDescriptor {
  fd: number;
}

/** A connection the spawner's helper accepted and holds (see Acceptor): passed by its id. */
export interface AcceptedStdio {
  accepted: number;
}

/** A unix-domain datagram socket the spawner's helper holds (see HelperSockets): passed by its id. */
export interface HeldSocketStdio {
  heldSocket: number;
}

/** What becomes the child's fds 0, 1 and 2. */
export type ChildStdio = net.Socket | net.Server | dgram.Socket | RawDescriptor | AcceptedStdio | HeldSocketStdio;

/**
 * Unix-domain datagram sockets held by the spawner's helper for the daemon (Node can neither
 * open one nor receive one from another process): bound at a path, watched without being read,
 * given to servers (spawn with { heldSocket: id }), drained and closed on the daemon's word. The
 * socket file's rules stay the daemon's (unix-socket-file.ts): the helper only binds, under umask
 * 0777, at a path the daemon has cleared.
 */
export interface HelperSockets {
  /** Binds socket `id` at `path`; rejects with the errno of the bind (or of a helper that cannot run). */
  bind(id: number, path: string): Promise<void>;
  /** Calls `onReadable` once, when a datagram is queued on `id` (nothing is read); call again to watch again. */
  watch(id: number, onReadable: () => void): void;
  /** Discards what is queued on `id`; resolves with how many datagrams. */
  drain(id: number): Promise<number>;
  /** Closes socket `id` (the file is the caller's to remove). */
  close(id: number): void;
  /** Called when the helper holding the sockets ended: every socket it held is gone (the ids are forgotten). */
  onLost(handler: (id: number) => void): void;
}

/**
 * A connection accepted by the spawner's helper and held there until the daemon decides: run a
 * server on it (spawn with { accepted: cid }), answer it, or close it.
 */
export interface AcceptedConnection {
  readonly cid: number;
  readonly peer: Peer;
  /** Our end of the connection (the local address the client reached); null when unknown. */
  readonly local: string | null;
  /** Writes `data` (at most 512 bytes), then closes the connection. */
  reply(data: Buffer): void;
  /** Closes the connection (refused, or nothing to serve it). */
  drop(): void;
}

export interface AcceptorEvents {
  connection(lid: number, conn: AcceptedConnection): void;
  /** accept() failed for listener lid (EMFILE...); the helper rests that listener for a second. */
  error(lid: number, err: NodeJS.ErrnoException): void;
}

/**
 * Accepting in the spawner's helper process instead of the daemon: the daemon binds and listens,
 * hands the listening socket over, and gets each connection's peer to decide about; accepted
 * sockets never enter the daemon. Used for services that need nothing of the socket but its
 * peer (see helperAccepts() in listen-plan.ts).
 */
export interface Acceptor {
  /** Starts accepting on listening socket `fd` for listener `lid` (the caller keeps its copy). */
  listen(lid: number, fd: number): void;
  /**
   * Stops accepting for `lid`. Resolves once every connection accepted on it before has been
   * reported (each is still decided one by one), so that a caller changing how the listener is
   * served can let those be judged under the settings they were accepted with.
   */
  unlisten(lid: number): Promise<void>;
  /**
   * Stops (false) or restarts (true) accepting for `lid` without closing its socket: meanwhile
   * clients wait in the kernel's listen queue (FreeBSD max-child). A listener starts accepting.
   */
  setAccepting(lid: number, on: boolean): void;
  setEvents(events: AcceptorEvents): void;
}

export interface ExitInfo {
  pid: number;
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  /** Signal number, or null when it exited. */
  signal: number | null;
}

export interface SpawnCapabilities {
  uidGid: boolean;
  groups: boolean;
  umask: boolean;
  nice: boolean;
  rlimits: boolean;
  /**
   * Learning the sender of a queued datagram without reading it (peekSender): needed to check
   * the address of a wait = yes datagram service's client. Absent: false.
   */
  peekSender?: boolean;
  /** Unix-domain datagram sockets (HelperSockets): only the spawn helper can hold them. Absent: false. */
  unixDatagram?: boolean;
}

export interface Spawner {
  readonly name: string;
  readonly capabilities: SpawnCapabilities;
  /**
   * Starts the program with `stdio` as fds 0, 1 and 2. Resolves with the pid once the
   * child exists (exec failures of the program itself appear as an exit with status 127
   * or a rejection, depending on when they are detected). Never throws synchronously.
   * The caller keeps ownership of `stdio` and closes its copy (destroy, never end)
   * once this resolves or rejects.
   */
  spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number>;
  /** Registers the handler for child exits (each pid reported once). */
  onExit(handler: (info: ExitInfo) => void): void;
  /** Sends a signal to a child this spawner started. */
  kill(pid: number, signal: NodeJS.Signals | number): void;
  /**
   * Resolves once every spawn asked for so far has been answered (started or failed), so that
   * a stop can signal every server (absent: spawns are answered at once).
   */
  settle?(): Promise<void>;
  /** Stops the spawner (does not kill children). */
  close(): Promise<void>;
  /** Accepting in the helper, when this spawner can (null or absent: the daemon accepts). */
  readonly acceptor?: Acceptor | null;
  /** Unix-domain datagram sockets held by the helper, when this spawner has one (absent: not served). */
  readonly helperSockets?: HelperSockets;
  /**
   * The sender of the first datagram queued on bound UDP socket `fd`, which stays queued (Node
   * cannot peek: only the native helper can, with MSG_PEEK); null when nothing is queued.
   * Rejects when it cannot tell. Absent: this spawner cannot.
   */
  peekSender?(fd: number): Promise<Peer | null>;
}
