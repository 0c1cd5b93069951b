// The one place the native spawner reaches below Node's public API: the libuv handles it gives
// child.send() so that a descriptor travels to the spawn helper without Node reading from it,
// tracking it, or closing it. Everything else in tsinetd sends only what this module returns.
//
// - A connected net.Socket is sent as its bare handle (`_handle`, Node's 'net.Native' type):
//   sending the socket object would register its server for cross-process connection tracking,
//   which the helper does not speak (server.close() would then wait for it).
// - A raw descriptor (a listening socket the daemon does not watch, a wait = yes datagram
//   socket) is opened in a pipe handle that never reads (`process.binding('pipe_wrap')`): only
//   the descriptor number matters to libuv when sending. When that binding is unavailable
//   (process.binding is deprecated, DEP0111, and a later Node may drop it), a stream socket is opened in a
//   net.Socket that never reads and is sent with `keepOpen` instead (public API); a datagram
//   socket then cannot be passed.
// Each returned handle keeps the caller's descriptor open: never close or destroy it.

import * as net from 'node:net';

/** What child.send() is given as the handle (Node's typings list only socket objects). */
export type SendHandle = object;

/** The options every send of a SendHandle uses: the daemon keeps its copy of the descriptor. */
export const SEND_OPTIONS = { keepOpen: true } as const;

/** The bare libuv handle of a net.Socket, or null when it has none (not connected, or destroyed). */
export function socketHandle(socket: net.Socket): SendHandle | null {
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  return typeof handle === 'object' && handle !== null ? handle : null;
}

interface UvPipe {
  open(fd: number): number;
}

type PipeBinding = { Pipe: new (type: number) => UvPipe; constants: Record<string, number | undefined> };

/** Node's pipe_wrap binding, or null when this Node does not give it. */
export function nodePipeBinding(): PipeBinding | null {
  try {
    const binding = (process as unknown as { binding?(name: string): unknown }).binding?.('pipe_wrap') as Partial<PipeBinding> | undefined;
    return binding !== undefined && typeof binding.Pipe === 'function' && typeof binding.constants === 'object' ? (binding as PipeBinding) : null;
  } catch {
    return null;
  }
}

export type RawHandle = { ok: true; handle: SendHandle; via: 'pipe_wrap' | 'net.Socket' } | { ok: false; why: 'busy' | 'unsupported' | 'bad' };

const UV_EEXIST = -17;

/**
 * A handle on descriptor `fd` that never reads, for sending it. 'busy': the event loop watches
 * that descriptor already (libuv's EEXIST); 'unsupported': neither way can hold it (a datagram
 * socket without pipe_wrap); 'bad': not an open descriptor.
 */
export function rawDescriptorHandle(fd: number, binding: () => PipeBinding | null = nodePipeBinding): RawHandle {
  const b = binding();
  if (b !== null) {
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
