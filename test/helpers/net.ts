// Network helpers for the end-to-end tests: free ports, TCP and UDP clients with timeouts,
// clients bound to a chosen local address (127.0.0.2 acts as a second host), and polling.
// Only 127.0.0.1, 127.0.0.2 and ::1 are ever used.

import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { withTimeout as withDeadline } from '../../src/util/with-timeout.js';

/** Rejects with `what` if `p` has not settled after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(p, ms, () => new Error(`timed out after ${ms} ms: ${what}`));
}

/** Polls `check` every `everyMs` until it returns a non-undefined value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string | (() => string),
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The benchmarks' ports (bench/scale.mjs from 12000 up to 10,000 services, bench/children.mjs
 * 11900): a bench run beside the suite would take a test service's port between the check and
 * the daemon's bind.
 */
const BENCH_PORTS_END = 22_000;

/**
 * Where test services listen: above the benchmarks' ports and below the kernel's ephemeral
 * range, which the clients of tests running in parallel draw their local ports from (a port
 * taken from that range, free when checked, can be a client's a moment later, and the daemon's
 * bind then fails).
 */
function servicePortRange(): [number, number] {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number);
    if (low !== undefined && low > BENCH_PORTS_END + 1_000) return [BENCH_PORTS_END, low - 1];
  } catch {
    // not Linux: the range below is the usual one
  }
  return [BENCH_PORTS_END, 32_767];
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '::' }, () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const u = dgram.createSocket('udp6');
    u.once('error', () => resolve(false));
    u.bind(port, '::', () => u.close(() => resolve(true)));
  });
}

/**
 * Ports this test process has handed out: a port is free again once its check closes, so two
 * calls (say, one per service of a configuration) could otherwise get the same one, and the
 * second service would then fail to bind.
 */
const handedOut = new Set<number>();

/** A port that is free for TCP and UDP on every loopback address we use (checked on the wildcard). */
export async function freePort(): Promise<number> {
  const [low, high] = servicePortRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if ((await tcpFree(port)) && (await udpFree(port))) return port;
  }
  throw new Error('no free port found');
}

export interface TcpRequest {
  port: number;
  host?: string;
  /** Bind the client to this local address (e.g. 127.0.0.2 to act as another host). */
  localAddress?: string;
  /** Sent once connected. */
  send?: string | Buffer;
  /** Half-close after sending (default true when `send` is given). */
  end?: boolean;
  /** Sent when the first bytes come back (what a client says after a server's greeting). */
  then?: string | Buffer;
  /** Stop reading (and close) once this many bytes arrived. */
  maxBytes?: number;
  timeoutMs?: number;
}

export interface TcpReply {
  data: Buffer;
  /** How the exchange ended: 'eof' (the server closed), 'max' (maxBytes reached), or an error code. */
  ended: string;
}

/** Connects, optionally sends, and reads until the server closes (or maxBytes, or the timeout). */
export function tcpRequest(req: TcpRequest): Promise<TcpReply> {
  return new Promise<TcpReply>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let then = req.then;
    const socket = net.connect({
      port: req.port,
      host: req.host ?? '127.0.0.1',
      ...(req.localAddress !== undefined ? { localAddress: req.localAddress } : {}),
    });
    const finish = (ended: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), ended });
    };
    const timer = setTimeout(() => finish('timeout'), req.timeoutMs ?? 5000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (then !== undefined) {
        socket.write(then);
        then = undefined;
      }
      if (req.maxBytes !== undefined && size >= req.maxBytes) finish('max');
    });
    socket.on('end', () => finish('eof'));
    socket.on('close', () => finish('eof'));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('connect', () => {
      if (req.send !== undefined) {
        if (req.end ?? true) socket.end(req.send);
        else socket.write(req.send);
      }
    });
  });
}

/** A TCP connection kept open by the test (for long-running servers). */
export function tcpConnect(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<net.Socket> {
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    }),
    timeoutMs,
    `connect to ${host}:${port}`,
  );
}

/** Reads from `socket` until `pattern` appears in what arrived (or the timeout). */
export function readUntil(socket: net.Socket, pattern: RegExp, timeoutMs = 5000): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (d: Buffer): void => {
        text += d.toString('latin1');
        if (pattern.test(text)) {
          socket.off('data', onData);
          resolve(text);
        }
      };
      socket.on('data', onData);
      socket.once('close', () => (pattern.test(text) ? resolve(text) : reject(new Error(`closed before ${pattern}: ${JSON.stringify(text)}`))));
    }),
    timeoutMs,
    `${pattern} from the server`,
  );
}

/** Resolves when `socket` has been closed by the other side. */
export function closed(socket: net.Socket, timeoutMs = 5000): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      socket.once('close', () => resolve());
      socket.once('end', () => resolve());
      socket.resume();
    }),
    timeoutMs,
    'the server closing the connection',
  );
}

export interface UdpClient {
  readonly port: number;
  send(data: string | Buffer, port: number, host?: string): void;
  /** Waits for `count` replies in total (since the client was created). */
  replies(count: number, timeoutMs?: number): Promise<Buffer[]>;
  /** The source port of each reply received so far. */
  sourcePorts(): number[];
  close(): void;
}

/** A UDP client socket collecting every reply it receives. */
export async function udpClient(opts: { family?: 4 | 6; localAddress?: string } = {}): Promise<UdpClient> {
  const socket = dgram.createSocket(opts.family === 6 ? 'udp6' : 'udp4');
  const received: Buffer[] = [];
  const ports: number[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (m, rinfo) => {
    received.push(m);
    ports.push(rinfo.port);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: 0, address: opts.localAddress ?? (opts.family === 6 ? '::1' : '127.0.0.1') }, () => resolve());
  });
  let closedFlag = false;
  return {
    port: socket.address().port,
    send(data, port, host = opts.family === 6 ? '::1' : '127.0.0.1') {
      socket.send(data, port, host);
    },
    async replies(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return received.slice();
    },
    sourcePorts() {
      return ports.slice();
    },
    close() {
      if (closedFlag) return;
      closedFlag = true;
      socket.close();
    },
  };
}

/** One datagram, one reply (or null after the timeout). */
export async function udpRequest(
  port: number,
  data: string | Buffer,
  opts: { host?: string; timeoutMs?: number; family?: 4 | 6 } = {},
): Promise<Buffer | null> {
  const c = await udpClient({ family: opts.family ?? (opts.host !== undefined && net.isIPv6(opts.host) ? 6 : 4) });
  try {
    c.send(data, port, opts.host);
    const r = await c.replies(1, opts.timeoutMs ?? 3000);
    return r[0] ?? null;
  } finally {
    c.close();
  }
}

/**
 * A client of a `cat` server (an echo): `admitted` resolves true once its "ping" comes back,
 * false when the connection closes first (refused). Destroyed when the test ends.
 */
export function catClient(t: TestContext, port: number, localAddress = '127.0.0.1'): { socket: net.Socket; admitted: Promise<boolean> } {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  const admitted = withTimeout(
    new Promise<boolean>((resolve) => {
      socket.on('data', (d: Buffer) => {
        if (d.toString().includes('ping')) resolve(true);
      });
      socket.once('close', () => resolve(false));
      socket.once('connect', () => socket.write('ping\n'));
    }),
    5000,
    `an answer from port ${port}`,
  );
  return { socket, admitted };
}

/** Whether `p` settles (either way) within `ms`; it is left to run on. */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = p.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}
