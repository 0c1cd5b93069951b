// ONC RPC on the wire, as much of it as registering with rpcbind takes (pure): XDR (RFC 4506)
// encoding and decoding of unsigned integers, booleans and strings; the call and reply headers
// of RFC 5531 with AUTH_NONE; record marking for stream transports; and the rpcbind protocol's
// SET, UNSET and DUMP (RFC 1833, versions 3 and 4: `struct rpcb`, `rpcblist`), with universal
// addresses. The socket that carries them is rpcbind-client.ts.

/** rpcbind's program number, and the procedures used here (the same numbers in versions 3 and 4). */
export const RPCBPROG = 100000;
export const RPCBVERS = 4;
export const RPCBPROC_SET = 1;
export const RPCBPROC_UNSET = 2;
export const RPCBPROC_DUMP = 4;

/** The largest record accepted from rpcbind (a DUMP of a large table fits easily). */
export const MAX_RECORD = 1 << 20;

/** Writes XDR items into a growing buffer. */
export class XdrWriter {
  private parts: Buffer[] = [];

  u32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
    return this;
  }

  bool(v: boolean): this {
    return this.u32(v ? 1 : 0);
  }

  /** A string: its length, its bytes, zero padding to a multiple of four. */
  string(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    this.u32(bytes.length);
    this.parts.push(bytes, Buffer.alloc((4 - (bytes.length % 4)) % 4));
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Reads XDR items; every read past the end throws XdrError. */
export class XdrReader {
  private at = 0;

  constructor(private readonly buf: Buffer) {}

  u32(): number {
    if (this.at + 4 > this.buf.length) throw new XdrError('short message');
    const n = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return n;
  }

  bool(): boolean {
    const n = this.u32();
    if (n > 1) throw new XdrError(`bad boolean ${n}`);
    return n === 1;
  }

  /** Opaque data or a string of at most `max` bytes. */
  opaque(max = MAX_RECORD): Buffer {
    const len = this.u32();
    if (len > max) throw new XdrError(`length ${len} is more than ${max}`);
    const padded = len + ((4 - (len % 4)) % 4);
    if (this.at + padded > this.buf.length) throw new XdrError('short message');
    const out = this.buf.subarray(this.at, this.at + len);
    this.at += padded;
    return out;
  }

  string(max = 1024): string {
    return this.opaque(max).toString('utf8');
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }
}

export class XdrError extends Error {}

/** One rpcbind mapping (`struct rpcb`): a program version reachable at `addr` over `netid`. */
export interface Rpcb {
  prog: number;
  vers: number;
  /** tcp, udp, tcp6, udp6 (netconfig(5) names). */
  netid: string;
  /** The universal address (uaddr), see universalAddress(). */
  addr: string;
  owner: string;
}

/** An RPC call with AUTH_NONE credentials and verifier. */
export function encodeCall(xid: number, prog: number, vers: number, proc: number, args: Buffer): Buffer {
  const head = new XdrWriter()
    .u32(xid)
    .u32(0) // CALL
    .u32(2) // RPC version 2
    .u32(prog)
    .u32(vers)
    .u32(proc)
    .u32(0) // credentials: AUTH_NONE, no body
    .u32(0)
    .u32(0) // verifier: AUTH_NONE, no body
    .u32(0)
    .bytes();
  return Buffer.concat([head, args]);
}

/** The arguments of SET and UNSET. */
export function encodeRpcb(r: Rpcb): Buffer {
  return new XdrWriter().u32(r.prog).u32(r.vers).string(r.netid).string(r.addr).string(r.owner).bytes();
}

/** A reply, decoded as far as its header: the results on success, or why the call failed. */
export type Reply = { ok: true; xid: number; results: XdrReader } | { ok: false; xid: number; error: string };

const ACCEPT_ERRORS = ['success', 'program unavailable', 'program version mismatch', 'procedure unavailable', 'garbage arguments', 'system error'];

/** Decodes an RPC reply message (RFC 5531 section 9). Throws XdrError on a malformed one. */
export function decodeReply(msg: Buffer): Reply {
  const r = new XdrReader(msg);
  const xid = r.u32();
  if (r.u32() !== 1) throw new XdrError('not a reply');
  const replyStat = r.u32();
  if (replyStat === 1) {
    const reject = r.u32();
    if (reject === 0) return { ok: false, xid, error: `RPC version mismatch (${r.u32()}-${r.u32()})` };
    return { ok: false, xid, error: `authentication error ${r.u32()}` };
  }
  if (replyStat !== 0) throw new XdrError(`bad reply status ${replyStat}`);
  r.u32(); // verifier flavour
  r.opaque(400);
  const accept = r.u32();
  if (accept === 0) return { ok: true, xid, results: r };
  if (accept === 2) return { ok: false, xid, error: `program version mismatch (${r.u32()}-${r.u32()})` };
  return { ok: false, xid, error: ACCEPT_ERRORS[accept] ?? `accept status ${accept}` };
}

/** DUMP's result: the list of mappings (an XDR optional-data list). */
export function decodeRpcbList(r: XdrReader): Rpcb[] {
  const out: Rpcb[] = [];
  while (r.bool()) {
    out.push({ prog: r.u32(), vers: r.u32(), netid: r.string(), addr: r.string(), owner: r.string() });
    if (out.length > 100_000) throw new XdrError('too many mappings');
  }
  return out;
}

/** Frames `msg` as one last fragment (record marking, RFC 5531 section 11). */
export function frameRecord(msg: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE((0x80000000 | msg.length) >>> 0);
  return Buffer.concat([head, msg]);
}

/**
 * Takes one whole record from the front of `buf` (fragments joined): the record and the bytes
 * after it, or null while it is incomplete. Throws XdrError when a record would pass MAX_RECORD.
 */
export function takeRecord(buf: Buffer): { record: Buffer; rest: Buffer } | null {
  const parts: Buffer[] = [];
  let at = 0;
  let size = 0;
  for (;;) {
    if (buf.length < at + 4) return null;
    const head = buf.readUInt32BE(at);
    const len = head & 0x7fffffff;
    size += len;
    if (size > MAX_RECORD) throw new XdrError(`record of more than ${MAX_RECORD} bytes`);
    if (buf.length < at + 4 + len) return null;
    parts.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
    if ((head & 0x80000000) !== 0) return { record: Buffer.concat(parts), rest: buf.subarray(at) };
  }
}

/**
 * The universal address of `host`:`port` (RFC 1833 section 3): the address as text, then the
 * port's high and low bytes, dot-separated ("127.0.0.1.3.232", "::1.3.232").
 */
export function universalAddress(host: string, port: number): string {
  return `${host}.${(port >> 8) & 0xff}.${port & 0xff}`;
}
