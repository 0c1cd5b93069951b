// The messages between tsinetd and its spawn helper (native/PROTOCOL.md), typed both ways and
// pure: requests are made only by the functions here (one encoder), replies are read only by
// parseHelperMessage(). The constants come from spawnd-protocol.ts, which the helper's C header
// is generated from.

import type { SpawnSpec } from '../spawn-types.js';
import type { RlimitValue, Rlimits } from '../../table.js';
import { CHILD_STARTS, MAX_GROUPS, MAX_ID, MAX_PRE_BYTES, MAX_REPLY_BYTES, MAX_REQUEST_BYTES, STAGES, type ChildStart, type Stage } from './spawnd-protocol.js';

// ---- requests (tsinetd → helper) -------------------------------------------------------------

/** A SpawnSpec as the helper reads it (rlimits: only those set). */
export interface SpawnRequest extends Omit<SpawnSpec, 'rlimits' | 'socketSetup'> {
  cmd: 'spawn';
  id: number;
  /** The pending connection (accepted by the helper) that becomes fds 0-2, instead of a passed socket. */
  cid?: number;
  /** The unix datagram socket the helper holds (ubind) that becomes fds 0-2 (protocol 5). */
  lid?: number;
  rlimits: Partial<Record<keyof Rlimits, RlimitValue>>;
  keepalive?: true;
  linger?: number;
  /** Bytes written to the socket before the child starts, as hex. */
  pre?: string;
}

export interface KillRequest {
  cmd: 'kill';
  pid: number;
  sig: number;
}

/** Requests that carry a descriptor (SCM_RIGHTS, inside Node's NODE_HANDLE envelope). */
export type HandleRequest = SpawnRequest | { cmd: 'listen'; lid: number } | { cmd: 'peek'; id: number };

/** Requests sent as plain lines (or inside a batch). */
export type PlainRequest =
  | SpawnRequest
  | KillRequest
  | { cmd: 'ping'; id: number }
  | { cmd: 'unlisten' | 'pause' | 'resume'; lid: number }
  | { cmd: 'reply'; cid: number; hex: string }
  | { cmd: 'drop'; cid: number }
  | { cmd: 'ubind'; lid: number; path: string }
  | { cmd: 'watch' | 'drain'; lid: number };

export type BatchRequest = { cmd: 'batch'; list: PlainRequest[] };

export type HelperRequest = HandleRequest | PlainRequest | BatchRequest;

/** A request and an upper bound on the bytes of its JSON text (for cutting batches). */
export interface Sized<R> {
  request: R;
  bytes: number;
}

/** Room a request without strings of its own takes, at most (`{"cmd":"unlisten","lid":` + 16 digits + `}`). */
const SMALL_REQUEST_BYTES = 64;

const MAX_UID = 0xffff_fffe; // uid_t/gid_t, without (uid_t)-1
const RLIMIT_KEYS: ReadonlyArray<keyof Rlimits> = ['as', 'cpu', 'data', 'rss', 'stack', 'files'];

function isUid(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= MAX_UID;
}

function isCString(s: unknown): s is string {
  return typeof s === 'string' && !s.includes('\0');
}

function isMessageId(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= MAX_ID;
}

/** The bytes of a request's JSON text, as Node writes it on the channel (less the newline). */
export function requestBytes(request: HelperRequest): number {
  return Buffer.byteLength(JSON.stringify(request));
}

/** A socket the helper holds that becomes a server's fds 0-2: a pending connection, or a unix datagram socket. */
export type HeldSocket = { cid: number } | { lid: number };

/**
 * The helper's request for `spec` (`held`: the socket the helper holds that becomes the
 * server's, instead of a passed one), or why it cannot be sent: what the helper would refuse,
 * including a request over MAX_REQUEST_BYTES.
 */
export function encodeSpawnRequest(id: number, spec: SpawnSpec, held?: HeldSocket): ({ ok: true } & Sized<SpawnRequest>) | { ok: false; error: string } {
  const bad = (error: string) => ({ ok: false as const, error });
  if (!isCString(spec.path) || spec.path === '') return bad('the program path must be a non-empty string without NUL');
  if (!Array.isArray(spec.argv) || spec.argv.length === 0 || !spec.argv.every(isCString)) {
    return bad('argv must be a non-empty list of strings without NUL');
  }
  if (!Array.isArray(spec.env) || !spec.env.every(isCString)) return bad('env must be a list of strings without NUL');
  if (spec.uid !== null && !isUid(spec.uid)) return bad(`invalid uid ${String(spec.uid)}`);
  if (spec.gid !== null && !isUid(spec.gid)) return bad(`invalid gid ${String(spec.gid)}`);
  if (spec.groups !== null && (!Array.isArray(spec.groups) || spec.groups.length > MAX_GROUPS || !spec.groups.every(isUid))) {
    return bad(`groups must be a list of at most ${MAX_GROUPS} numeric group ids`);
  }
  if (!Number.isInteger(spec.umask) || spec.umask < 0 || spec.umask > 0o777) return bad(`invalid umask ${String(spec.umask)}`);
  if (spec.nice !== null && (!Number.isInteger(spec.nice) || spec.nice < -40 || spec.nice > 40)) {
    return bad(`invalid nice ${String(spec.nice)}`);
  }
  if (held !== undefined && 'cid' in held && !isMessageId(held.cid)) return bad(`invalid connection id ${String(held.cid)}`);
  if (held !== undefined && 'lid' in held && !isMessageId(held.lid)) return bad(`invalid socket id ${String(held.lid)}`);
  const rlimits: SpawnRequest['rlimits'] = {};
  for (const key of RLIMIT_KEYS) {
    const value = spec.rlimits[key];
    if (value === undefined) continue;
    if (value !== 'unlimited' && !(Number.isSafeInteger(value) && value >= 0)) {
      return bad(`invalid rlimit_${key} ${String(value)}`);
    }
    rlimits[key] = value;
  }
  const request: SpawnRequest = {
    cmd: 'spawn',
    id,
    ...held,
    path: spec.path,
    argv: [...spec.argv],
    env: [...spec.env],
    uid: spec.uid,
    gid: spec.gid,
    groups: spec.groups === null ? null : [...spec.groups],
    umask: spec.umask,
    nice: spec.nice,
    rlimits,
  };
  const setup = spec.socketSetup;
  if (setup !== undefined) {
    if (setup.keepalive) request.keepalive = true;
    if (setup.lingerSeconds !== null) request.linger = setup.lingerSeconds;
    if (setup.pre !== null) {
      if (setup.pre.length > MAX_PRE_BYTES) return bad(`a banner of ${setup.pre.length} bytes is larger than ${MAX_PRE_BYTES}`);
      request.pre = setup.pre.toString('hex');
    }
  }
  // An upper bound without serialising: JSON escaping at most sextuples a character (\u00XX),
  // a group id takes at most 11 bytes, the other fields fit in 1 KiB. Measured when large.
  let chars = request.path.length;
  for (const a of request.argv) chars += a.length + 3;
  for (const e of request.env) chars += e.length + 3;
  let bytes = chars * 6 + (request.groups?.length ?? 0) * 11 + (request.pre?.length ?? 0) + 1024;
  if (bytes > 64 * 1024) bytes = requestBytes(request);
  if (bytes > MAX_REQUEST_BYTES) {
    return bad(`the request for ${spec.path} is larger than ${MAX_REQUEST_BYTES} bytes (environment too big?)`);
  }
  return { ok: true, request, bytes };
}

/** The other requests, each with its size bound; one place builds each shape. */
export const requests = {
  kill: (pid: number, sig: number): Sized<KillRequest> => ({ request: { cmd: 'kill', pid, sig }, bytes: SMALL_REQUEST_BYTES }),
  ping: (id: number): Sized<PlainRequest> => ({ request: { cmd: 'ping', id }, bytes: SMALL_REQUEST_BYTES }),
  listen: (lid: number): HandleRequest => ({ cmd: 'listen', lid }),
  peek: (id: number): HandleRequest => ({ cmd: 'peek', id }),
  unlisten: (lid: number): Sized<PlainRequest> => ({ request: { cmd: 'unlisten', lid }, bytes: SMALL_REQUEST_BYTES }),
  /** Stop (false) or restart (true) accepting on lid. */
  accepting: (lid: number, on: boolean): Sized<PlainRequest> => ({ request: { cmd: on ? 'resume' : 'pause', lid }, bytes: SMALL_REQUEST_BYTES }),
  /** Write `data` to pending connection cid and close it; null when the helper would not write that much. */
  reply: (cid: number, data: Buffer): Sized<PlainRequest> | null =>
    data.length > MAX_REPLY_BYTES ? null : { request: { cmd: 'reply', cid, hex: data.toString('hex') }, bytes: SMALL_REQUEST_BYTES + 2 * data.length },
  drop: (cid: number): Sized<PlainRequest> => ({ request: { cmd: 'drop', cid }, bytes: SMALL_REQUEST_BYTES }),
  /** Bind a unix datagram socket at `path` for lid (the helper holds it); null for a path the helper cannot take. */
  ubind: (lid: number, path: string): Sized<PlainRequest> | null =>
    isCString(path) && path !== '' ? { request: { cmd: 'ubind', lid, path }, bytes: SMALL_REQUEST_BYTES + 6 * path.length } : null,
  /** Report lid readable once (nothing is read). */
  watch: (lid: number): Sized<PlainRequest> => ({ request: { cmd: 'watch', lid }, bytes: SMALL_REQUEST_BYTES }),
  /** Discard what is queued on lid. */
  drain: (lid: number): Sized<PlainRequest> => ({ request: { cmd: 'drain', lid }, bytes: SMALL_REQUEST_BYTES }),
};

/** `{"cmd":"batch","list":[` and `]}`. */
const BATCH_OVERHEAD = 24;

/**
 * The messages that carry `items` in order: one request alone as itself, several as batches,
 * each batch at most `maxCount` requests and MAX_REQUEST_BYTES (by the items' size bounds).
 */
export function batchMessages(items: ReadonlyArray<Sized<PlainRequest>>, maxCount: number, maxBytes: number = MAX_REQUEST_BYTES): PlainRequest[][] {
  const groups: PlainRequest[][] = [];
  let current: PlainRequest[] = [];
  let bytes = BATCH_OVERHEAD;
  for (const item of items) {
    const cost = item.bytes + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + cost > maxBytes)) {
      groups.push(current);
      current = [];
      bytes = BATCH_OVERHEAD;
    }
    current.push(item.request);
    bytes += cost;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** What one group of batchMessages() is sent as. */
export function batchMessage(list: PlainRequest[]): PlainRequest | BatchRequest {
  const [only, ...more] = list;
  return only !== undefined && more.length === 0 ? only : { cmd: 'batch', list };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isIntOrNull = (v: unknown): v is number | null => v === null || Number.isSafeInteger(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/**
 * A request as the helper would read it, checked for shape (the reading half of the encoder,
 * for transcripts and tests); null when a field is missing or of the wrong type.
 */
export function parseHelperRequest(value: unknown): HelperRequest | null {
  if (!isRecord(value)) return null;
  const m = value;
  switch (m['cmd']) {
    case 'spawn': {
      const { id, cid, lid, path, argv, env, uid, gid, groups, umask, nice, rlimits, keepalive, linger, pre } = m;
      if (!isInt(id) || (cid !== undefined && !isInt(cid)) || (lid !== undefined && !isInt(lid)) || (cid !== undefined && lid !== undefined)) return null;
      if (typeof path !== 'string' || !isStringList(argv) || !isStringList(env)) return null;
      if (!isIntOrNull(uid) || !isIntOrNull(gid) || !(groups === null || (Array.isArray(groups) && groups.every(isInt)))) return null;
      if (!isInt(umask) || !isIntOrNull(nice) || !isRecord(rlimits)) return null;
      const limits: SpawnRequest['rlimits'] = {};
      for (const [k, v] of Object.entries(rlimits)) {
        if (!(RLIMIT_KEYS as readonly string[]).includes(k) || !(v === 'unlimited' || isInt(v))) return null;
        limits[k as keyof Rlimits] = v;
      }
      if ((keepalive !== undefined && keepalive !== true) || (linger !== undefined && !isInt(linger)) || (pre !== undefined && typeof pre !== 'string'))
        return null;
      const r: SpawnRequest = {
        cmd: 'spawn',
        id,
        ...(cid !== undefined ? { cid } : {}),
        ...(lid !== undefined ? { lid } : {}),
        path,
        argv,
        env,
        uid,
        gid,
        groups,
        umask,
        nice,
        rlimits: limits,
      };
      if (keepalive === true) r.keepalive = true;
      if (linger !== undefined) r.linger = linger;
      if (pre !== undefined) r.pre = pre;
      return r;
    }
    case 'kill':
      return isInt(m['pid']) && isInt(m['sig']) ? { cmd: 'kill', pid: m['pid'], sig: m['sig'] } : null;
    case 'ping':
    case 'peek':
      return isInt(m['id']) ? { cmd: m['cmd'], id: m['id'] } : null;
    case 'ubind':
      return isInt(m['lid']) && typeof m['path'] === 'string' ? { cmd: 'ubind', lid: m['lid'], path: m['path'] } : null;
    case 'listen':
    case 'unlisten':
    case 'pause':
    case 'resume':
    case 'watch':
    case 'drain':
      return isInt(m['lid']) ? { cmd: m['cmd'], lid: m['lid'] } : null;
    case 'reply':
      return isInt(m['cid']) && typeof m['hex'] === 'string' ? { cmd: 'reply', cid: m['cid'], hex: m['hex'] } : null;
    case 'drop':
      return isInt(m['cid']) ? { cmd: 'drop', cid: m['cid'] } : null;
    case 'batch': {
      if (!Array.isArray(m['list'])) return null;
      const list: PlainRequest[] = [];
      for (const e of m['list'] as unknown[]) {
        const r = parseHelperRequest(e);
        if (r === null || r.cmd === 'batch' || r.cmd === 'listen' || r.cmd === 'peek') return null;
        list.push(r);
      }
      return { cmd: 'batch', list };
    }
    default:
      return null;
  }
}

// ---- replies (helper → tsinetd) --------------------------------------------------------------

/** How the helper starts a child: clone(CLONE_VM | CLONE_VFORK), or fork (see native/children.c). */
export type { ChildStart };

export type HelperMessage =
  | { t: 'ready'; pid: number; version: number; children: ChildStart | null }
  | { t: 'spawned'; id: number; pid: number }
  | { t: 'error'; id: number | null; pid: number | null; stage: string; errno: number; message: string }
  | { t: 'exit'; pid: number; code: number | null; signal: number | null }
  | { t: 'pong'; id: number; children: number }
  | { t: 'warn'; message: string }
  | { t: 'conn'; lid: number; cid: number; addr: string; port: number; laddr: string | null }
  | { t: 'accept-error'; lid: number; errno: number }
  | { t: 'sender'; id: number; addr: string; port: number }
  | { t: 'bound'; lid: number; errno: number }
  | { t: 'readable'; lid: number }
  | { t: 'drained'; lid: number; count: number };

/** Whether `stage` is one the protocol names (an error reply with another is still read). */
export function isKnownStage(stage: string): stage is Stage {
  return (STAGES as readonly string[]).includes(stage);
}

/** A message from the helper, checked; null when it has an unexpected shape. */
export function parseHelperMessage(value: unknown): HelperMessage | null {
  if (!isRecord(value)) return null;
  const m = value;
  switch (m['t']) {
    case 'ready': {
      // `children` came with protocol 3; an older helper is then refused for its version.
      const children = (CHILD_STARTS as readonly unknown[]).includes(m['children']) ? (m['children'] as ChildStart) : null;
      return isInt(m['pid']) && isInt(m['version']) ? { t: 'ready', pid: m['pid'], version: m['version'], children } : null;
    }
    case 'spawned':
      return isInt(m['id']) && isInt(m['pid']) ? { t: 'spawned', id: m['id'], pid: m['pid'] } : null;
    case 'error': {
      const { id, pid, stage, errno, message } = m;
      if (!isIntOrNull(id) || !isIntOrNull(pid) || typeof stage !== 'string' || !isInt(errno)) return null;
      return { t: 'error', id, pid, stage, errno, message: typeof message === 'string' ? message : '' };
    }
    case 'exit': {
      const { pid, code, signal } = m;
      if (!isInt(pid) || !isIntOrNull(code) || !isIntOrNull(signal) || (code === null) === (signal === null)) return null;
      return { t: 'exit', pid, code, signal };
    }
    case 'pong':
      return isInt(m['id']) && isInt(m['children']) ? { t: 'pong', id: m['id'], children: m['children'] } : null;
    case 'warn':
      return typeof m['message'] === 'string' ? { t: 'warn', message: m['message'] } : null;
    case 'conn': {
      const { lid, cid, addr, port, laddr } = m;
      if (!isInt(lid) || !isInt(cid) || typeof addr !== 'string' || !isInt(port)) return null;
      return { t: 'conn', lid, cid, addr, port, laddr: typeof laddr === 'string' && laddr !== '' ? laddr : null };
    }
    case 'accept-error':
      return isInt(m['lid']) && isInt(m['errno']) ? { t: 'accept-error', lid: m['lid'], errno: m['errno'] } : null;
    case 'sender': {
      const { id, addr, port } = m;
      if (!isInt(id) || typeof addr !== 'string' || !isInt(port)) return null;
      return { t: 'sender', id, addr, port };
    }
    case 'bound':
      return isInt(m['lid']) && isInt(m['errno']) ? { t: 'bound', lid: m['lid'], errno: m['errno'] } : null;
    case 'readable':
      return isInt(m['lid']) ? { t: 'readable', lid: m['lid'] } : null;
    case 'drained':
      return isInt(m['lid']) && isInt(m['count']) ? { t: 'drained', lid: m['lid'], count: m['count'] } : null;
    default:
      return null;
  }
}
