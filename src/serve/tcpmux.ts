// TCPMUX (RFC 1078) as xinetd 2.3.15.3's internal `tcpmux` service speaks it (builtins.c
// tcpmux_handler; measured on the Debian build), pure: the client's first bytes in, a decision
// out. The socket work is in serve-tcpmux.ts.
//
// What xinetd does, measured on the wire:
// - One read(2) of at most 1024 bytes. It must be more than two bytes and end with CR LF, or
//   the connection is closed without a word: a bare LF, a name split over two segments, or a
//   name followed by data in the same read all end that way. What the read leaves in the socket
//   is the program's: a 1022-byte name with data behind it in the same segment reads as the name
//   (the 1024 bytes end in CR LF), and the data reaches the program; 1023 bytes with data behind
//   them, or a line of 1025, read as no line (closed, with unread bytes: the client sees a reset).
//   A read that finds the connection closed logs "read failed" in the daemon log.
// - TCPMUXPLUS: "+Go" is written into the child's output buffer before the TCPMUX service's own
//   checks run (svc_child_access_control, in the same child); it reaches the client with what
//   flushes that buffer: banner_success and the program, or banner_fail when the client is
//   refused (without a banner_fail, a refused client gets nothing). The TCPMUX service's
//   banner_success is written after "+Go", before the program starts; its `banner` never is.
// - The name is compared, without regard to ASCII case (strcasecmp), with the names (not ids)
//   of the TCPMUX and TCPMUXPLUS services, in table order; the first one matches. The name
//   stops at a NUL byte (it is a C string), so "date\0x\r\n" asks for "date".
// - Not found: "-Service name not found\r\n" and the NUL after it (xinetd writes sizeof the
//   string), then close. There is no `help`: it is a name like any other.
// - Found, TCPMUXPLUS: "+Go\r\n" and a NUL, before the server starts; TCPMUX: nothing (the
//   server answers itself).

//
// FreeBSD inetd's tcpmux (builtins.c tcpmux and get_line; read from its source, there being no
// FreeBSD inetd here to measure) serves the `tcpmux/NAME` lines of a FreeBSD inetd.conf:
// - It reads until CR, LF or NUL, or 258 bytes, or the end of the stream (the name is what
//   came before), in read(2)s of at most 258 bytes: the rest of the read holding the line end
//   is lost, what the client sent beyond that read is the program's. Each read may wait 10 s
//   (alarm), after which the connection just closes.
// - `help` (any case) lists the TCPMUX services' names, one per line ending CR LF, in the order
//   inetd keeps them (the last entry of the file first), then closes.
// - Unknown: "-Service not available\r\n"; a `tcpmux/+NAME` service: "+Go\r\n"; no NUL.
//
// GNU inetutils' inetd 2.4 (inetd.c tcpmux and fd_getline; measured on Debian's
// inetutils-inetd) serves a GNU inetd.conf's the same way, with the same texts, `help` and
// order, except that a read of the name never times out: a client that sends no line end keeps
// its tcpmux waiting until it closes.

import type { Service } from '../table.js';
import { muxClient } from '../service-kind.js';

/** How much of the client's first bytes xinetd reads (BUFFER_SIZE in builtins.c). */
export const MUX_READ_SIZE = 1024;

/** xinetd's TCPMUX_ACK, with the NUL it writes after it. */
export const MUX_ACK = Buffer.from('+Go\r\n\0', 'latin1');

/** xinetd's TCPMUX_NOT_FOUND, with the NUL it writes after it. */
export const MUX_NOT_FOUND = Buffer.from('-Service name not found\r\n\0', 'latin1');

/** What the first bytes of a tcpmux connection ask for. */
export type MuxRequest =
  /** A service name (the bytes before CR LF, up to a NUL). */
  | { kind: 'name'; name: Buffer }
  /**
   * Not a request line: the connection is closed without a reply. `overread`: a well-formed
   * line of 1024 bytes with more data behind it in the same read, which xinetd leaves in the
   * socket for the server; only where Node's internals are missing (serve-tcpmux.ts firstRead)
   * has tsinetd read it already, and it closes instead.
   */
  | { kind: 'malformed'; overread: boolean };

/**
 * The request in the first bytes a client sent (the first read: whatever arrived in one
 * segment, as xinetd's single read(2) sees it).
 */
export function muxRequest(first: Buffer): MuxRequest {
  const read = first.subarray(0, MUX_READ_SIZE);
  const cc = read.length;
  if (cc <= 2 || read[cc - 1] !== 0x0a || read[cc - 2] !== 0x0d) return { kind: 'malformed', overread: false };
  if (first.length > MUX_READ_SIZE) return { kind: 'malformed', overread: true };
  const line = read.subarray(0, cc - 2);
  const nul = line.indexOf(0);
  return { kind: 'name', name: nul < 0 ? line : line.subarray(0, nul) };
}

const lower = (byte: number): number => (byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte);

/** strcasecmp(a, b) === 0 in the C locale: equal bytes, ASCII letters without regard to case. */
export function sameNameIgnoringCase(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (lower(a.readUInt8(i)) !== lower(b.readUInt8(i))) return false;
  return true;
}

/** The TCPMUX service `name` asks for: the first of `services` of that name, or null. */
export function muxTarget(name: Buffer, services: readonly Service[]): Service | null {
  for (const s of services) {
    if (muxClient(s) !== null && sameNameIgnoringCase(name, Buffer.from(s.name, 'utf8'))) return s;
  }
  return null;
}

// ---- FreeBSD inetd --------------------------------------------------------------------------

/** FreeBSD's MAX_SERV_LEN: the longest name it reads (256 + 2 for CR LF). */
export const BSD_MUX_MAX = 258;

/** FreeBSD's alarm(10) around each read of the name. */
export const BSD_MUX_READ_TIMEOUT_MS = 10_000;

/** How long each read of the name may wait, by the dialect of the tcpmux entry (null: for ever, as GNU inetutils). */
export function bsdMuxReadTimeoutMs(dialect: 'inetd-freebsd' | 'inetd-gnu'): number | null {
  return dialect === 'inetd-freebsd' ? BSD_MUX_READ_TIMEOUT_MS : null;
}

export const BSD_MUX_ACK = Buffer.from('+Go\r\n', 'latin1');
export const BSD_MUX_NOT_AVAILABLE = Buffer.from('-Service not available\r\n', 'latin1');

/**
 * The name in what a FreeBSD tcpmux client has sent so far (`ended`: the client closed its side),
 * or null while more is needed.
 */
export function bsdMuxName(sofar: Buffer, ended: boolean): Buffer | null {
  const limit = Math.min(sofar.length, BSD_MUX_MAX);
  for (let i = 0; i < limit; i++) {
    const c = sofar.readUInt8(i);
    if (c === 0x0d || c === 0x0a || c === 0) return sofar.subarray(0, i);
  }
  if (sofar.length >= BSD_MUX_MAX) return sofar.subarray(0, BSD_MUX_MAX);
  return ended ? sofar : null;
}

/** What FreeBSD's tcpmux answers `name` with: the help listing, a TCPMUX service, or "not available". */
export function bsdMuxAnswer(
  name: Buffer,
  services: readonly Service[],
): { kind: 'help'; reply: Buffer } | { kind: 'target'; service: Service } | { kind: 'unknown'; reply: Buffer } {
  // inetd's servtab: each entry is put first, so the file's last entry comes first.
  const servtab = services.filter((s) => muxClient(s) !== null).reverse();
  if (sameNameIgnoringCase(name, Buffer.from('help', 'latin1'))) {
    return { kind: 'help', reply: Buffer.concat(servtab.map((s) => Buffer.from(`${s.name}\r\n`, 'utf8'))) };
  }
  const target = muxTarget(name, servtab);
  return target === null ? { kind: 'unknown', reply: BSD_MUX_NOT_AVAILABLE } : { kind: 'target', service: target };
}
