// TCPMUX (RFC 1078) as xinetd 2.3.15.3's internal `tcpmux` service speaks it (builtins.c
// tcpmux_handler; measured on the Debian build), pure: the client's first bytes in, a decision
// out. The socket work is in serve-tcpmux.ts.
//
// What xinetd does, measured on the wire:
// - One read(2) of at most 1024 bytes. It must be more than two bytes and end with CR LF, or
//   the connection is closed without a word: a bare LF, a name split over two segments, or a
//   name followed by data in the same read all end that way. A read that finds the connection
//   closed logs "read failed" in the daemon log.
// - The name is compared, without regard to ASCII case (strcasecmp), with the names (not ids)
//   of the TCPMUX and TCPMUXPLUS services, in table order; the first one matches. The name
//   stops at a NUL byte (it is a C string), so "date\0x\r\n" asks for "date".
// - Not found: "-Service name not found\r\n" and the NUL after it (xinetd writes sizeof the
//   string), then close. There is no `help`: it is a name like any other.
// - Found, TCPMUXPLUS: "+Go\r\n" and a NUL, before the server starts; TCPMUX: nothing (the
//   server answers itself).

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
   * line of exactly 1022 bytes with more data behind it in the same read, which xinetd would
   * have left in the socket for the server; tsinetd has read it already and closes instead.
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
