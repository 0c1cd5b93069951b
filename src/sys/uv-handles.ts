// The one place tsinetd reaches below Node's public API: Node's libuv handle wrappers
// (process.binding's udp_wrap, tcp_wrap and pipe_wrap, deprecated as DEP0111) and the private
// `_handle` of net objects. Every other module asks here, through functions that answer null
// (or 'unsupported') when the internals are missing, changed shape, or were switched off
// (useNodeInternals(false), TSINETD_NODE_INTERNALS=0), and each caller has a public-API way on:
//
// - uvBindings(): the handles wait-socket.ts builds sockets from (bound or listening without
//   being read). Without them a stream service is listened on by Node's own listen(), and
//   wait = yes services, which need a socket the daemon watches without reading, are not served
//   (listener.ts says why; the daemon reports them once and does not retry them).
// - stopReading(): a connected socket stops reading at once, so that the bytes after a tcpmux
//   request stay for the server it starts (serve-tcpmux.ts). Without it only pause() is left,
//   and Node may read ahead what the client sends before the server runs: those bytes are lost.
// - readInChunks(), readAtMost(): reads of at most N bytes each until the caller has enough
//   (tcpmux's request: xinetd's single read of 1024 bytes, the BSD inetds' reads of at most 258),
//   the rest left in the kernel for the server. Without them the stream's 'data' event may read
//   ahead: what the client sent beyond, in the same segment, is consumed, not the server's.
// - pausableHandle(): a listening net.Server's handle, to pause accepting (pausable-accept.ts).
//   Without it accepting does not pause: connections accepted at a max-child limit wait in the
//   daemon instead of the kernel's listen queue (queue-limit.ts holds them), unserved as before.
// - descriptorOf(): the descriptor behind a net.Server or dgram socket (spawn-node.ts); null:
//   the server cannot be given that socket, and its start fails with EBADF.
// - socketHandle() and rawDescriptorHandle(): what the native spawner sends to its helper
//   (child.send()), so that a descriptor travels without Node reading from it, tracking it, or
//   closing it. Without the internals the daemon uses the Node spawner (spawner.ts).
//
//   A connected net.Socket is sent as its bare handle (Node's 'net.Native' type): sending the
//   socket object would register its server for cross-process connection tracking, which the
//   helper does not speak (server.close() would then wait for it). A raw descriptor (a listening
//   socket the daemon does not watch, a wait = yes datagram socket) is opened in a pipe handle
//   that never reads (the one wait-socket.ts listened through, when there is one:
//   keepDescriptorPipe()): only the descriptor number matters to libuv when sending. Without
//   pipe_wrap a stream socket is opened in a net.Socket that never reads and is sent with
//   `keepOpen` instead (public API); a datagram socket then cannot be passed.
//   Each returned handle keeps the caller's descriptor open: never close or destroy it.

import type * as dgram from 'node:dgram';
import * as net from 'node:net';

// ---- the switch --------------------------------------------------------------------------

let enabled = true;
let loaded: UvBindings | null | undefined;

/**
 * Switches the use of Node's internals on or off for this process (the daemon at start, from
 * TSINETD_NODE_INTERNALS; tests). Off, every function here answers as on a Node without them.
 */
export function useNodeInternals(on: boolean): void {
  enabled = on;
}

/** Whether the internals are there, of the shape this module knows, and not switched off. */
export function nodeInternals(): boolean {
  return uvBindings() !== null;
}

// ---- libuv handle wrappers ------------------------------------------------------------------

export interface UvHandle {
  readonly fd: number;
  close(cb?: () => void): void;
}

export interface RawUdp extends UvHandle {
  bind(address: string, port: number, flags: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: Record<string, unknown>): number;
  recvStart(): number;
  recvStop(): number;
  onmessage: ((...args: unknown[]) => void) | undefined;
}

export interface RawTcp extends UvHandle {
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  setNoDelay(enable: boolean): number;
  setKeepAlive(enable: boolean, delaySeconds: number): number;
  getsockname(out: Record<string, unknown>): number;
}

export interface RawPipe extends UvHandle {
  open(fd: number): number;
  /** Binds a server pipe to a unix-domain socket path. */
  bind(path: string): number;
  listen(backlog: number): number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  setBlocking(blocking: boolean): number;
  onread: ((...args: unknown[]) => void) | undefined;
  onconnection: ((...args: unknown[]) => void) | undefined;
}

/** Node's handle constructors and the flags their methods take. */
export interface UvBindings {
  UDP: new () => RawUdp;
  TCP: new (type: number) => RawTcp;
  Pipe: new (type: number) => RawPipe;
  tcpServer: number;
  tcpIpv6Only: number;
  udpIpv6Only: number;
  udpReuseAddr: number;
  pipeSocket: number;
  pipeServer: number;
}

/** The methods each constructor's prototype must have: those wait-socket.ts and this module call. */
const NEEDED: Readonly<Record<'UDP' | 'TCP' | 'Pipe', readonly string[]>> = {
  UDP: ['bind', 'bind6', 'getsockname', 'recvStart', 'recvStop', 'close'],
  TCP: ['bind', 'bind6', 'setNoDelay', 'setKeepAlive', 'getsockname', 'close'],
  Pipe: ['open', 'bind', 'listen', 'readStart', 'readStop', 'useUserBuffer', 'setBlocking', 'close'],
};

type Binding = { constants?: Record<string, number | undefined> } & Record<string, unknown>;

/** A constructor of `binding` with the `needed` methods, or null. */
function ctor(binding: Binding | undefined, name: keyof typeof NEEDED): (new (...args: never[]) => unknown) | null {
  const c = binding?.[name];
  if (typeof c !== 'function') return null;
  const proto = (c as { prototype?: Record<string, unknown> }).prototype;
  return proto !== undefined && NEEDED[name].every((m) => typeof proto[m] === 'function') ? (c as new (...args: never[]) => unknown) : null;
}

/** This process's process.binding, or null when Node no longer has it. */
function processBinding(): ((name: string) => unknown) | null {
  const binding = (process as unknown as { binding?: unknown }).binding;
  return typeof binding === 'function' ? (name: string) => (binding as (n: string) => unknown).call(process, name) : null;
}

/**
 * The handle constructors `binding` (process.binding's shape) gives, or null when it is missing,
 * throws, or gives something of another shape than this module uses (a changed Node).
 */
export function loadBindings(binding: ((name: string) => unknown) | null = processBinding()): UvBindings | null {
  try {
    if (binding === null) return null;
    const udp = binding('udp_wrap') as Binding | undefined;
    const tcp = binding('tcp_wrap') as Binding | undefined;
    const pipe = binding('pipe_wrap') as Binding | undefined;
    const UDP = ctor(udp, 'UDP');
    const TCP = ctor(tcp, 'TCP');
    const Pipe = ctor(pipe, 'Pipe');
    if (UDP === null || TCP === null || Pipe === null) return null;
    const u = udp?.constants ?? {};
    const t = tcp?.constants ?? {};
    const p = pipe?.constants ?? {};
    return {
      UDP: UDP as UvBindings['UDP'],
      TCP: TCP as UvBindings['TCP'],
      Pipe: Pipe as UvBindings['Pipe'],
      tcpServer: t['SERVER'] ?? 1,
      tcpIpv6Only: t['UV_TCP_IPV6ONLY'] ?? 1,
      udpIpv6Only: u['UV_UDP_IPV6ONLY'] ?? 1,
      udpReuseAddr: u['UV_UDP_REUSEADDR'] ?? 4,
      pipeSocket: p['SOCKET'] ?? 0,
      pipeServer: p['SERVER'] ?? 1,
    };
  } catch {
    return null;
  }
}

/** Node's libuv handle wrappers, or null (missing, changed, or switched off). Loaded once. */
export function uvBindings(): UvBindings | null {
  if (!enabled) return null;
  if (loaded === undefined) loaded = loadBindings();
  return loaded;
}

// ---- net objects' private handles -----------------------------------------------------------

/** The private `_handle` of a Node socket or server, when it is an object (else null). */
function privateHandle(of: object): Record<string, unknown> | null {
  if (!enabled) return null;
  const handle = (of as { _handle?: unknown })._handle;
  return typeof handle === 'object' && handle !== null ? (handle as Record<string, unknown>) : null;
}

/** What pausing a listening server needs of its handle. */
export interface ListeningHandle {
  readStart(): number;
  readStop(): number;
}

/** A listening net.Server's handle, to stop and restart accepting; null: it cannot pause. */
export function pausableHandle(server: net.Server): ListeningHandle | null {
  const h = privateHandle(server);
  return h !== null && typeof h['readStart'] === 'function' && typeof h['readStop'] === 'function' ? (h as unknown as ListeningHandle) : null;
}

/**
 * Stops libuv reading a connected socket at once: pause() alone lets Node go on reading into the
 * stream's buffer up to its high-water mark, and a socket handed to a server must keep what the
 * client sends next in the kernel (tcpmux reads one request, then starts the server on the
 * socket: serve-tcpmux.ts). Node's own `reading` flag stays set, so that it never starts again.
 * False when it cannot be done here: the caller has only pause().
 */
export function stopReading(socket: net.Socket): boolean {
  const h = privateHandle(socket);
  const readStop = h?.['readStop'];
  return typeof readStop === 'function' && (readStop as () => number).call(h) === 0;
}

/** The private symbols by which a net.Socket reads into a buffer of its own (its `onread` option). */
function userBufferSymbols(socket: net.Socket): { buffer: symbol; callback: symbol } | null {
  let buffer: symbol | null = null;
  let callback: symbol | null = null;
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    if (sym.description === 'kBuffer') buffer = sym;
    else if (sym.description === 'kBufferCb') callback = sym;
  }
  return buffer !== null && callback !== null ? { buffer, callback } : null;
}

/**
 * Reads from a connected socket that has not read yet (accepted with pauseOnConnect) as a C
 * server's read(2) loop on a buffer of `size` bytes: libuv reads into that buffer (the handle's
 * user buffer, what net.Socket's `onread` option sets up), and `take` gets a copy of each read's
 * bytes and answers whether it wants more. Once it does not, reading stops at once, so that what
 * the client sent beyond stays in the kernel for the server started next. Resolves with 'taken'
 * then, 'end' when the client ended its side first, 'closed' when the connection went. Returns
 * null at once when this Node's socket has not the shape used here: the caller has the stream's
 * 'data' event, which may read ahead.
 */
export function readInChunks(socket: net.Socket, size: number, take: (bytes: Buffer) => boolean): Promise<'taken' | 'end' | 'closed'> | null {
  const h = privateHandle(socket);
  const syms = userBufferSymbols(socket);
  const useUserBuffer = h?.['useUserBuffer'];
  const readStop = h?.['readStop'];
  if (h === null || syms === null || typeof useUserBuffer !== 'function' || typeof readStop !== 'function') return null;
  const state = socket as unknown as Record<symbol, unknown>;
  if (state[syms.buffer] !== null || state[syms.callback] !== null) return null; // reads with an `onread` of its own
  const buffer = Buffer.alloc(size);
  return new Promise((resolve) => {
    let settled = false;
    const done = (how: 'taken' | 'end' | 'closed'): void => {
      if (settled) return;
      settled = true;
      socket.off('end', onEnd);
      socket.off('close', onClose);
      resolve(how);
    };
    const onEnd = (): void => done('end');
    const onClose = (): void => done('closed');
    state[syms.buffer] = buffer;
    state[syms.callback] = (nread: number): boolean => {
      if (settled) return true;
      if (take(Buffer.from(buffer.subarray(0, nread)))) return true;
      // Stopped here, Node's own `reading` flag stays set: it never starts reading again.
      (readStop as () => number).call(h);
      done('taken');
      return true;
    };
    (useUserBuffer as (b: Uint8Array) => void).call(h, buffer);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.resume();
  });
}

/**
 * One read(2) of at most `size` bytes (readInChunks): the bytes, or null when the connection
 * ends or fails first; null at once where readInChunks cannot be used.
 */
export function readAtMost(socket: net.Socket, size: number): Promise<Buffer | null> | null {
  let got: Buffer | null = null;
  const read = readInChunks(socket, size, (bytes) => {
    got = bytes;
    return false;
  });
  return read === null ? null : read.then((how) => (how === 'taken' ? got : null));
}

/**
 * The descriptor behind a listening net.Server or a bound dgram socket; null when there is none
 * (closed) or it cannot be read here. A dgram socket's is read from its private state, not
 * through its deprecated `_handle` getter (DEP0112).
 */
export function descriptorOf(socket: net.Server | dgram.Socket): number | null {
  if (!enabled) return null;
  if (socket instanceof net.Server) {
    const fd = privateHandle(socket)?.['fd'];
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, unknown>)[sym];
    if (typeof state === 'object' && state !== null && 'handle' in state) {
      const fd = (state as { handle?: { fd?: unknown } | null }).handle?.fd;
      if (typeof fd === 'number' && fd >= 0) return fd;
    }
  }
  return null;
}

// ---- what the native spawner sends ------------------------------------------------------------

/** What child.send() is given as the handle (Node's typings list only socket objects). */
export type SendHandle = object;

/** The options every send of a SendHandle uses: the daemon keeps its copy of the descriptor. */
export const SEND_OPTIONS = { keepOpen: true } as const;

/** The bare libuv handle of a net.Socket, or null when it has none (not connected, or destroyed). */
export function socketHandle(socket: net.Socket): SendHandle | null {
  return privateHandle(socket);
}

interface UvPipe {
  open(fd: number): number;
}

type PipeBinding = { Pipe: new (type: number) => UvPipe; constants: Record<string, number | undefined> };

/** Node's pipe handle, as rawDescriptorHandle() takes it, or null when this Node does not give it. */
export function nodePipeBinding(): PipeBinding | null {
  const b = uvBindings();
  return b === null ? null : { Pipe: b.Pipe, constants: { SOCKET: b.pipeSocket } };
}

export type RawHandle = { ok: true; handle: SendHandle; via: 'pipe_wrap' | 'net.Socket' } | { ok: false; why: 'busy' | 'unsupported' | 'bad' };

const UV_EEXIST = -17;

/**
 * Pipe handles opened on a descriptor another handle owns (wait-socket.ts puts a socket into
 * the listening state through one), by descriptor, while that owner keeps the descriptor open.
 * rawDescriptorHandle() sends through such a pipe instead of opening a second one on the same
 * descriptor: each handle costs about 1 KiB that is never freed (closing it would close the
 * descriptor), which at 10,000 listening sockets is 10 MiB.
 */
const descriptorPipes = new Map<number, SendHandle>();

/** Lends `pipe`, opened on `fd` and never closed, to rawDescriptorHandle() until dropDescriptorPipe(fd). */
export function keepDescriptorPipe(fd: number, pipe: SendHandle): void {
  descriptorPipes.set(fd, pipe);
}

/** The owner of `fd` closes it or hands it on: its number may name another socket next. */
export function dropDescriptorPipe(fd: number): void {
  descriptorPipes.delete(fd);
}

/**
 * A handle on descriptor `fd` that never reads, for sending it. 'busy': the event loop watches
 * that descriptor already (libuv's EEXIST); 'unsupported': neither way can hold it (a datagram
 * socket without pipe_wrap); 'bad': not an open descriptor.
 */
export function rawDescriptorHandle(fd: number, binding: () => PipeBinding | null = nodePipeBinding): RawHandle {
  const b = binding();
  if (b !== null) {
    const kept = descriptorPipes.get(fd);
    if (kept !== undefined) return { ok: true, handle: kept, via: 'pipe_wrap' };
    const pipe = new b.Pipe(b.constants['SOCKET'] ?? 0);
    const err = pipe.open(fd);
    if (err === 0) return { ok: true, handle: pipe, via: 'pipe_wrap' };
    return { ok: false, why: err === UV_EEXIST ? 'busy' : 'bad' };
  }
  try {
    // A stream socket that is never read from and never ends: only its descriptor is used.
    return { ok: true, handle: new net.Socket({ fd, readable: false, writable: false, allowHalfOpen: true }), via: 'net.Socket' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, why: code === 'EEXIST' ? 'busy' : code === 'ERR_INVALID_FD_TYPE' ? 'unsupported' : 'bad' };
  }
}
