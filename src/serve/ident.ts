// USERID logging: an RFC 1413 identification query to the client's identd (port 113), as
// xinetd makes it for services with USERID in log_on_success or log_on_failure.
//
// Measured against xinetd 2.3.15.3 (and read in its ident.c / child.c / service.c):
//   - admitted client: the query is made before the server starts (the server waits for it, at
//     most 30 s; without limit for flags = IDONLY), the line "USERID: id <reply>" follows START.
//     With IDONLY, a client that cannot be identified gets no server: "NOID: id addr reason".
//   - refused client: only refusals decided before xinetd forks (cps, load, time,
//     service_limit, per_source_limit, process_limit; not address or libwrap) are looked up,
//     after the FAIL line, by at most -logprocs lookups at a time (default 15), 30 s each.
//   - the query is "<client port>,<our port>\r\n"; the reply must be
//     "<client port> , <our port> : USERID : <os> [, charset] : <user>\r\n"; what follows
//     "USERID :" is logged ("UNIX : alice"). Other replies are logged as daemon errors:
//     "Bad line received from identity server at ADDR: LINE"; on the failure path a lookup that
//     did not succeed (other than "no identd listening") adds "Failed to contact identity
//     server at ADDR: REASON".
// Parsing is pure (parseIdentReply); lookupIdent does the socket work; IdentLimiter bounds the
// lookups made for refused clients.

import * as net from 'node:net';
import type { LogEvent } from '../log/log-types.js';
import type { Say } from '../message-codes.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';
import { requiresIdentification } from '../service-needs.js';

/** xinetd's LOGUSER_SUCCESS_TIMEOUT and LOGUSER_FAILURE_TIMEOUT (seconds). */
export const IDENT_TIMEOUT_MS = 30_000;
/** xinetd's DEFAULT_LOGPROCS: lookups for refused clients running at once. */
export const DEFAULT_LOGPROCS = 15;
/** RFC 1413's IBUFSIZE in xinetd: a reply longer than this is refused. */
export const IDENT_MAX_REPLY = 1024;
export const IDENT_PORT = 113;

/** The refusals xinetd decides in the daemon (before forking): only these get a USERID lookup. */
export const PARENT_REFUSALS: ReadonlySet<string> = new Set(['connections per second', 'load', 'time', 'service_limit', 'per_source_limit', 'process_limit']);

export type IdentResult =
  | { kind: 'ok'; text: string }
  | { kind: 'noserver' }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string }
  | { kind: 'resperr'; message: string }
  | { kind: 'badresp'; line: string };

/** xinetd's idresult_explain(): the words of NOID lines and "Failed to contact" messages. */
export function explainIdent(r: IdentResult): string {
  switch (r.kind) {
    case 'ok':
      return 'no error';
    case 'noserver':
      return 'no server';
    case 'timeout':
      return 'timeout';
    case 'error':
      return 'system error';
    case 'resperr':
      return 'error while receiving response';
    case 'badresp':
      return 'bad response';
  }
}

/** The query line: the port on the client's side first, then ours (RFC 1413). */
export function identQuery(clientPort: number, ourPort: number): string {
  return `${clientPort},${ourPort}\r\n`;
}

function portMatches(text: string, port: number): boolean {
  const t = text.trim();
  return /^\d{1,5}$/.test(t) && Number(t) === port;
}

/**
 * The text after "USERID :" of a valid reply for this connection, or null when the reply is
 * not one (other ports, an ERROR reply, no user).
 */
export function parseIdentReply(line: string, clientPort: number, ourPort: number): string | null {
  const comma = line.indexOf(',');
  if (comma < 0 || !portMatches(line.slice(0, comma), clientPort)) return null;
  const colon = line.indexOf(':', comma + 1);
  if (colon < 0 || !portMatches(line.slice(comma + 1, colon), ourPort)) return null;
  const rest = line.slice(colon + 1).replace(/^\s+/, '');
  if (!rest.startsWith('USERID')) return null;
  const afterId = rest.slice('USERID'.length).replace(/^\s+/, '');
  if (!afterId.startsWith(':')) return null;
  const text = afterId.slice(1).replace(/^\s+/, '');
  return text === '' ? null : text;
}

/**
 * Reads one CR-LF terminated line from `chunks` so far: the line (without CR-LF), 'more' when
 * none is complete yet, or 'toolong' past IDENT_MAX_REPLY bytes (the two words are in-band:
 * a reply line of exactly `more` or `toolong` reads as them).
 */
export function replyLine(buffered: string): string {
  const end = buffered.indexOf('\r\n');
  if (end >= 0 && end < IDENT_MAX_REPLY) return buffered.slice(0, end);
  return buffered.length >= IDENT_MAX_REPLY ? 'toolong' : 'more';
}

export interface IdentRequest {
  /** The client (where the identd is asked). */
  remoteAddress: string;
  remotePort: number;
  /** Our end of the connection (the query comes from this address, as xinetd binds it). */
  localAddress: string | undefined;
  localPort: number;
  /** null: no time limit (flags = IDONLY on an admitted client, as in xinetd). */
  timeoutMs: number | null;
  /** The identd port (113; tests use another through $TSINETD_IDENT_PORT). */
  identPort?: number;
  /** Aborts the lookup (the daemon is stopping). */
  signal?: AbortSignal;
}

/** Asks the client's identd who owns the connection; never rejects. */
export function lookupIdent(req: IdentRequest): Promise<IdentResult> {
  return new Promise<IdentResult>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    let connected = false;
    let buffered = '';
    const socket = net.connect({
      host: req.remoteAddress,
      port: req.identPort ?? IDENT_PORT,
      ...(req.localAddress !== undefined ? { localAddress: req.localAddress } : {}),
    });
    const onAbort = (): void => done({ kind: 'error', message: 'stopped' });
    const done = (r: IdentResult): void => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    if (req.timeoutMs !== null) timer = setTimeout(() => done({ kind: 'timeout' }), req.timeoutMs);
    if (req.signal !== undefined) {
      if (req.signal.aborted) onAbort();
      else req.signal.addEventListener('abort', onAbort, { once: true });
    }
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      connected = true;
      socket.write(identQuery(req.remotePort, req.localPort));
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const line = replyLine(buffered);
      if (line === 'more') return;
      if (line === 'toolong') {
        done({ kind: 'resperr', message: 'Too much input from identity server' });
        return;
      }
      const text = parseIdentReply(line, req.remotePort, req.localPort);
      done(text === null ? { kind: 'badresp', line } : { kind: 'ok', text });
    });
    socket.on('end', () => done({ kind: 'resperr', message: 'identd server reply missing ending CR-LF' }));
    socket.on('close', () => done({ kind: 'resperr', message: 'identd server reply missing ending CR-LF' }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) done({ kind: 'noserver' });
      else done({ kind: 'resperr', message: `read: ${err.message}` });
    });
  });
}

/** Bounds the lookups made for refused clients (-logprocs N). */
export class IdentLimiter {
  private running = 0;

  constructor(readonly limit: number) {}

  /** Takes a slot; false when `limit` lookups are running already. */
  tryAcquire(): boolean {
    if (this.running >= this.limit) return false;
    this.running++;
    return true;
  }

  release(): void {
    if (this.running > 0) this.running--;
  }

  get inUse(): number {
    return this.running;
  }
}

/** What identification needs from the serving context (see connection.ts / server.ts). */
export interface IdentContext {
  log(event: LogEvent): void;
  readonly daemon: Say;
  /** The lookup (lookupIdent by default; tests may replace it). */
  lookup(req: IdentRequest): Promise<IdentResult>;
  limiter: IdentLimiter;
  identPort: number;
  successTimeoutMs: number;
  failureTimeoutMs: number;
  /** Aborted when the daemon stops: lookups in progress end at once. */
  signal?: AbortSignal;
}

function request(ctx: IdentContext, socket: net.Socket, peer: Peer, timeoutMs: number | null): IdentRequest {
  return {
    remoteAddress: peer.address,
    remotePort: peer.port,
    localAddress: socket.localAddress,
    localPort: socket.localPort ?? 0,
    timeoutMs,
    identPort: ctx.identPort,
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
  };
}

function reportBadLine(ctx: IdentContext, peer: Peer, r: IdentResult): void {
  if (r.kind === 'badresp') ctx.daemon('ident-bad-line', 'error', `Bad line received from identity server at ${peer.address}: ${r.line}`, 'log_remote_user');
  else if (r.kind === 'resperr') ctx.daemon('ident-failed', 'error', r.message, 'get_line');
}

/** The outcome of identifying an admitted client. */
export interface AdmittedIdentity {
  /** False with IDONLY when the client could not be identified: no server is started. */
  proceed: boolean;
  /** The USERID line to log after START (null when none). */
  userid: LogEvent | null;
}

/**
 * Identifies an admitted client before its server starts (log_on_success USERID). With IDONLY
 * and no identity, logs xinetd's NOID line (as a daemon message: see the note in the man page)
 * and says not to proceed.
 */
export async function identifyAdmitted(ctx: IdentContext, service: Service, peer: Peer, socket: net.Socket): Promise<AdmittedIdentity> {
  const idOnly = requiresIdentification(service);
  const r = await ctx.lookup(request(ctx, socket, peer, idOnly ? null : ctx.successTimeoutMs));
  reportBadLine(ctx, peer, r);
  if (r.kind === 'ok') return { proceed: true, userid: { kind: 'USERID', service, text: r.text } };
  if (idOnly) {
    ctx.daemon('noid', 'warning', `NOID: ${service.id} ${peer.address} ${explainIdent(r)}`, 'child_process');
    return { proceed: false, userid: null };
  }
  return { proceed: true, userid: null };
}

/**
 * Identifies a refused client after its FAIL line (log_on_failure USERID), within -logprocs;
 * resolves once done (the caller keeps the connection open until then, as xinetd does).
 */
export async function identifyRefused(ctx: IdentContext, service: Service, peer: Peer, socket: net.Socket, reason: string): Promise<void> {
  if (!PARENT_REFUSALS.has(reason)) return;
  if (!ctx.limiter.tryAcquire()) {
    ctx.daemon(
      'ident-limit',
      'debug',
      `service ${service.id}: no USERID lookup for ${peer.address}: ${ctx.limiter.limit} lookups running (-logprocs)`,
      'svc_request',
    );
    return;
  }
  try {
    const r = await ctx.lookup(request(ctx, socket, peer, ctx.failureTimeoutMs));
    reportBadLine(ctx, peer, r);
    if (r.kind === 'ok') ctx.log({ kind: 'USERID', service, text: r.text });
    else if (r.kind !== 'noserver')
      ctx.daemon('ident-failed', 'error', `Failed to contact identity server at ${peer.address}: ${explainIdent(r)}`, 'stream_logging');
  } finally {
    ctx.limiter.release();
  }
}

/**
 * A view of `ctx` whose log() writes `event` right after the first START line: the USERID line
 * of an admitted client follows START, as in xinetd (where the child logs it after the fork).
 */
export function logAfterStart<C extends { log(e: LogEvent): void }>(ctx: C, event: LogEvent): C {
  const derived = Object.create(ctx) as C;
  let pending: LogEvent | null = event;
  derived.log = (e: LogEvent): void => {
    ctx.log(e);
    if (pending !== null && e.kind === 'START') {
      const p = pending;
      pending = null;
      ctx.log(p);
    }
  };
  return derived;
}
