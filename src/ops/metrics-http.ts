// The metrics endpoint (--metrics ADDRESS): a small node:http server, listening only where the
// option says, that answers
//   GET /metrics   the Prometheus text exposition format (renderPrometheus)
//   GET /healthz   200 while the daemon runs (its event loop answers)
//   GET /ready     200 once every listener is bound ("Started working"), 503 before and while stopping
// and nothing else (404; 405 for methods other than GET and HEAD).

import { lstatSync, unlinkSync } from 'node:fs';
// Types only: node:http (about 1 MiB resident) is loaded when the endpoint starts, so a daemon
// without --metrics never pays for it.
import type * as http from 'node:http';
import * as net from 'node:net';
import { PROMETHEUS_CONTENT_TYPE, TsinetdMetrics } from './metrics.js';
import { present } from '../util/invariant.js';

export type ListenAddress = { kind: 'tcp'; host: string | null; port: number } | { kind: 'unix'; path: string };

export type ParsedAddress = { ok: true; address: ListenAddress } | { ok: false; error: string };

const HOST_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

/**
 * Reads a --metrics address: `HOST:PORT`, `[IPV6]:PORT`, `:PORT` (every interface, as
 * Prometheus exporters read it), `PORT` (127.0.0.1 only) or an absolute unix socket path.
 */
export function parseListenAddress(text: string): ParsedAddress {
  const fail = (why: string): ParsedAddress => ({ ok: false, error: `invalid metrics address '${text}': ${why}` });
  if (text.startsWith('/')) return { ok: true, address: { kind: 'unix', path: text } };
  const bare = parsePort(text);
  if (bare !== null) return { ok: true, address: { kind: 'tcp', host: '127.0.0.1', port: bare } };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([^:]*)$/.exec(text);
  if (m === null) return fail('expected HOST:PORT, [IPV6]:PORT, :PORT, PORT or /path/to/socket');
  const port = parsePort(present(m[3], 'the port group, which always takes part'));
  if (port === null) return fail(`'${m[3]}' is not a port number (0-65535)`);
  if (m[1] !== undefined) {
    if (net.isIPv6(m[1])) return { ok: true, address: { kind: 'tcp', host: m[1], port } };
    return fail(`'${m[1]}' is not an IPv6 address`);
  }
  const host = present(m[2], 'the host group, when the [IPv6] one did not take part');
  if (host === '') return { ok: true, address: { kind: 'tcp', host: null, port } };
  if (net.isIPv4(host) || HOST_NAME.test(host)) return { ok: true, address: { kind: 'tcp', host, port } };
  return fail(`'${host}' is not a host name or address`);
}

export function formatListenAddress(a: ListenAddress): string {
  if (a.kind === 'unix') return a.path;
  const host = a.host === null ? '' : a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${host}:${a.port}`;
}

export interface EndpointHandlers {
  /** The /metrics body. */
  render(): string;
  /** Whether /ready answers 200. */
  ready(): boolean;
  contentType: string;
}

export interface MetricsEndpoint {
  /** Where it listens, with the real port (for port 0). */
  readonly address: ListenAddress;
  close(): Promise<void>;
}

function answer(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function handle(h: EndpointHandlers, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    answer(res, 405, 'only GET and HEAD are served\n', { allow: 'GET, HEAD' });
    return;
  }
  if (path === '/metrics') {
    let body: string;
    try {
      body = h.render();
    } catch (err) {
      answer(res, 500, `cannot collect the metrics: ${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
    answer(res, 200, body, { 'content-type': h.contentType });
  } else if (path === '/healthz') {
    answer(res, 200, 'ok\n');
  } else if (path === '/ready') {
    if (h.ready()) answer(res, 200, 'ready\n');
    else answer(res, 503, 'not ready\n');
  } else {
    answer(res, 404, 'not found: try /metrics, /healthz or /ready\n');
  }
}

function listen(server: http.Server, a: ListenAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (a.kind === 'unix') server.listen(a.path, done);
    else if (a.host === null) server.listen(a.port, done);
    else server.listen(a.port, a.host, done);
  });
}

/** Whether a unix socket at `path` is left over from a process that is gone (nobody accepts). */
function staleSocket(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return Promise.resolve(false);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(false);
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Starts the endpoint; rejects (nothing left open) when the address cannot be used. */
export async function startMetricsEndpoint(address: ListenAddress, h: EndpointHandlers): Promise<MetricsEndpoint> {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => handle(h, req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;
  try {
    await listen(server, address);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (address.kind !== 'unix' || code !== 'EADDRINUSE' || !(await staleSocket(address.path))) throw err;
    unlinkSync(address.path);
    await listen(server, address);
  }
  let bound: ListenAddress = address;
  const a = server.address();
  if (address.kind === 'tcp' && a !== null && typeof a === 'object') bound = { ...address, port: a.port };
  return {
    address: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          if (address.kind === 'unix') {
            try {
              unlinkSync(address.path);
            } catch {
              // already gone
            }
          }
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

/** The metrics endpoint of a running daemon: the metrics, and whether /ready answers 200. */
export interface DaemonMetrics {
  readonly metrics: TsinetdMetrics;
  readonly endpoint: MetricsEndpoint;
  /** /ready answers 200 while this is true (set once every listener is bound, cleared on stop). */
  serving: boolean;
  close(): Promise<void>;
}

/** Starts tsinetd's metrics endpoint at `address`; rejects when the address cannot be used. */
export async function startDaemonMetrics(address: ListenAddress, version: string): Promise<DaemonMetrics> {
  const metrics = new TsinetdMetrics({ version });
  const state = { serving: false };
  const endpoint = await startMetricsEndpoint(address, {
    render: () => metrics.render(),
    ready: () => state.serving,
    contentType: PROMETHEUS_CONTENT_TYPE,
  });
  return {
    metrics,
    endpoint,
    get serving() {
      return state.serving;
    },
    set serving(v: boolean) {
      state.serving = v;
    },
    close: () => endpoint.close(),
  };
}

/** The endpoint's URL (or socket path) for the daemon log. */
export function describeEndpoint(a: ListenAddress): string {
  if (a.kind === 'unix') return `unix socket ${a.path} (GET /metrics)`;
  if (a.host === null) return `port ${a.port} of every interface (GET /metrics)`;
  return `http://${formatListenAddress(a)}/metrics`;
}
