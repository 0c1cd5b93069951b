// Internal services answered in-process, selected by service NAME with `type = INTERNAL`:
// echo (RFC 862), discard (RFC 863), chargen (RFC 864), daytime (RFC 867), time (RFC 868),
// for stream and dgram, plus the SENSOR pseudo-service (accepts and closes / drops) and the
// stream-only `tcpmux` (RFC 1078), which hands the connection over (tcpmux.ts, serve-tcpmux.ts).
//
// The bytes are xinetd's (builtins.c, measured on xinetd 2.3.15.3):
// - daytime: "24 NOV 2026 15:52:59 UTC\r\n" in local time (the zone abbreviation as %Z prints it);
// - time: seconds since 1900 as 4 bytes, network order;
// - chargen: lines of 72 characters + CRLF cut from a ring of the characters '!' to '}', each line
//   starting one character later, the ring restarting after 95 lines; a datagram gets 1024 bytes
//   (13 full lines and a 60-character one) and the ring goes on from datagram to datagram.
// Unlike xinetd, every datagram is answered: xinetd drains the socket after each reply and so
// drops whatever arrived meanwhile. Like xinetd, no reply goes to a source port below 1024
// (reflection loops with other UDP services).

import { readFileSync } from 'node:fs';
import type * as net from 'node:net';
import type { Service, SocketType } from '../table.js';
import { serviceKind } from '../service-kind.js';

export type BuiltinName = 'echo' | 'discard' | 'daytime' | 'chargen' | 'time' | 'sensor' | 'tcpmux';

const BUILTINS: ReadonlySet<string> = new Set(['echo', 'discard', 'daytime', 'chargen', 'time']);

/** The internal service a Service selects, or null when it starts a program or redirects. */
export function builtinOf(service: Service): BuiltinName | null {
  const kind = serviceKind(service);
  if (kind === 'sensor') return 'sensor';
  if (kind !== 'internal') return null;
  if (service.name === 'tcpmux') return service.socket_type === 'stream' ? 'tcpmux' : null;
  return BUILTINS.has(service.name) ? (service.name as BuiltinName) : null;
}

/** Whether xinetd forks for this internal service (it then counts as a running server: START/EXIT, instances). */
export function builtinForks(name: BuiltinName, socketType: SocketType): boolean {
  return socketType === 'stream' && (name === 'echo' || name === 'discard' || name === 'chargen' || name === 'tcpmux');
}

/** xinetd's bad_port_check: no datagram reply to privileged source ports (discard never replies anyway). */
export function refusesSourcePort(name: BuiltinName, port: number): boolean {
  return name !== 'discard' && name !== 'sensor' && port < 1024;
}

// ---- daytime -----------------------------------------------------------------------------

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** xinetd's daytime line for local time `date` in zone `zone` ("%02d %s %d %02d:%02d:%02d %Z\r\n"). */
export function daytimeText(date: Date, zone: string): string {
  return (
    `${p2(date.getDate())} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ` +
    `${p2(date.getHours())}:${p2(date.getMinutes())}:${p2(date.getSeconds())} ${zone}\r\n`
  );
}

/**
 * The abbreviation of the zone in force at `utcOffsetSeconds` in a TZif file (tzfile(5)): the
 * type of the latest transition with that offset, else any type with it. Null when none matches
 * or the data is not TZif.
 */
export function tzifAbbreviation(data: Buffer, utcOffsetSeconds: number): string | null {
  if (data.length < 44 || data.toString('latin1', 0, 4) !== 'TZif') return null;
  const header = (at: number): { isut: number; isstd: number; leap: number; timecnt: number; typecnt: number; charcnt: number } => {
    const n = (i: number): number => data.readUInt32BE(at + 20 + 4 * i);
    return { isut: n(0), isstd: n(1), leap: n(2), timecnt: n(3), typecnt: n(4), charcnt: n(5) };
  };
  let base = 0;
  let h = header(0);
  let timeSize = 4;
  if (data[4] !== 0 && data[4] !== undefined) {
    // Version 2+: skip the 32-bit block; the 64-bit one follows with its own header.
    base = 44 + h.timecnt * 5 + h.typecnt * 6 + h.charcnt + h.leap * 8 + h.isstd + h.isut;
    if (data.length < base + 44 || data.toString('latin1', base, base + 4) !== 'TZif') return null;
    h = header(base);
    timeSize = 8;
  }
  const { timecnt, typecnt, charcnt } = h;
  const idxAt = base + 44 + timecnt * timeSize;
  const typesAt = idxAt + timecnt;
  const charsAt = typesAt + typecnt * 6;
  if (data.length < charsAt + charcnt || typecnt === 0) return null;
  const abbrev = (type: number): string | null => {
    if (type >= typecnt) return null;
    const desig = data.readUInt8(typesAt + type * 6 + 5);
    const end = data.indexOf(0, charsAt + desig);
    return data.toString('latin1', charsAt + desig, end < 0 || end > charsAt + charcnt ? charsAt + charcnt : end);
  };
  const utoff = (type: number): number => data.readInt32BE(typesAt + type * 6);
  for (let i = timecnt - 1; i >= 0; i--) {
    const type = data.readUInt8(idxAt + i);
    if (type < typecnt && utoff(type) === utcOffsetSeconds) return abbrev(type);
  }
  for (let type = typecnt - 1; type >= 0; type--) if (utoff(type) === utcOffsetSeconds) return abbrev(type);
  return null;
}

function zoneFile(): string {
  const tz = process.env['TZ'];
  if (tz !== undefined && tz !== '') {
    const name = tz.startsWith(':') ? tz.slice(1) : tz;
    return name.startsWith('/') ? name : `/usr/share/zoneinfo/${name}`;
  }
  return '/etc/localtime';
}

const zoneCache = new Map<string, Buffer | null>();

/** Abbreviations already found, by zone file and UTC offset: the zone data is read once. */
const abbreviationCache = new Map<string, string>();
let intlZoneFormat: Intl.DateTimeFormat | null = null;

/**
 * The local zone abbreviation at `date`, as strftime's %Z prints it: from the zone file (what
 * the C library reads), else from Intl. Intl is the fallback only: it loads ICU data (about
 * 8 MiB of resident memory) and is slow.
 */
export function localZoneAbbreviation(date: Date): string {
  const offset = -date.getTimezoneOffset() * 60;
  const file = zoneFile();
  const key = `${file} ${offset}`;
  const known = abbreviationCache.get(key);
  if (known !== undefined) return known;
  if (!zoneCache.has(file)) {
    let data: Buffer | null;
    try {
      data = readFileSync(file);
    } catch {
      data = null;
    }
    zoneCache.set(file, data);
  }
  const data = zoneCache.get(file);
  const fromFile = data === null || data === undefined ? null : tzifAbbreviation(data, offset);
  if (fromFile !== null && fromFile !== '') {
    abbreviationCache.set(key, fromFile);
    return fromFile;
  }
  intlZoneFormat ??= new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
  const intl = intlZoneFormat.formatToParts(date).find((p) => p.type === 'timeZoneName')?.value;
  return intl ?? 'UTC';
}

/** The daytime reply of the latest second asked for, reused within that second (and UTC offset). */
let daytimeCache = { second: NaN, offset: NaN, bytes: Buffer.alloc(0) };

/** xinetd's daytime reply for `date` as bytes (the same Buffer for every call within one second). */
export function daytimeBytes(date: Date): Buffer {
  const second = Math.floor(date.getTime() / 1000);
  const offset = date.getTimezoneOffset();
  if (daytimeCache.second !== second || daytimeCache.offset !== offset) {
    daytimeCache = { second, offset, bytes: Buffer.from(daytimeText(date, localZoneAbbreviation(date)), 'latin1') };
  }
  return daytimeCache.bytes;
}

// ---- time ----------------------------------------------------------------------------------

/** Seconds between 1900-01-01 and 1970-01-01 (RFC 868). */
export const RFC868_OFFSET = 2208988800;

export function timeBytes(date: Date): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE((Math.floor(date.getTime() / 1000) + RFC868_OFFSET) % 2 ** 32);
  return b;
}

// ---- chargen -------------------------------------------------------------------------------

const LINE_LENGTH = 72;
const RING_SIZE = 94 + LINE_LENGTH;
const RING: Buffer = (() => {
  const b = Buffer.alloc(RING_SIZE);
  let ch = 33;
  for (let i = 0; i < RING_SIZE; i++) {
    b[i] = ch++;
    if (ch === 126) ch = 33;
  }
  return b;
})();

/** xinetd's chargen line generator; one instance per stream, one per dgram service. */
export class ChargenRing {
  private pos = 0;

  /** The next line, `len` bytes at most (72 characters + CRLF when len >= 74); null when len < 2. */
  line(): Buffer;
  line(len: number): Buffer | null;
  line(len = LINE_LENGTH + 2): Buffer | null {
    if (len < 2) return null;
    const n = Math.min(LINE_LENGTH, len - 2);
    const out = Buffer.alloc(n + 2);
    RING.copy(out, 0, this.pos, this.pos + n);
    out[n] = 13;
    out[n + 1] = 10;
    this.pos++;
    if (RING_SIZE - this.pos < LINE_LENGTH) this.pos = 0;
    return out;
  }

  /** `count` consecutive full lines in one buffer. */
  lines(count: number): Buffer {
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i++) parts.push(this.line());
    return Buffer.concat(parts);
  }
}

/** A chargen datagram: 1024 bytes of lines, the last one shortened to fit, as xinetd sends. */
export function chargenDatagram(ring: ChargenRing, size = 1024): Buffer {
  const parts: Buffer[] = [];
  let left = size;
  while (left > 2) {
    const line = ring.line(Math.min(LINE_LENGTH + 2, left));
    if (line === null) break;
    parts.push(line);
    left -= line.length;
  }
  return Buffer.concat(parts);
}

// ---- serving -------------------------------------------------------------------------------

export interface DatagramContext {
  now: () => Date;
  /** The ring of this dgram service (chargen goes on from datagram to datagram). */
  ring: ChargenRing;
}

/** The reply to one datagram, or null when the service sends none. */
export function datagramReply(name: BuiltinName, message: Buffer, ctx: DatagramContext): Buffer | null {
  switch (name) {
    case 'echo':
      return message;
    case 'daytime':
      return daytimeBytes(ctx.now());
    case 'time':
      return timeBytes(ctx.now());
    case 'chargen':
      return chargenDatagram(ctx.ring);
    case 'discard':
    case 'sensor':
    case 'tcpmux': // stream only
      return null;
  }
}

/** Lines written per chargen burst (one full turn of the ring). */
const CHARGEN_BURST = 95;

/**
 * Serves one stream connection in-process; resolves when the connection is closed.
 * The socket must be paused (pauseOnConnect) and half-open allowed.
 */
export function serveStream(name: BuiltinName, socket: net.Socket, now: () => Date = () => new Date()): Promise<void> {
  return new Promise<void>((done) => {
    socket.once('close', () => done());
    socket.on('error', () => socket.destroy());
    switch (name) {
      case 'echo':
        socket.pipe(socket);
        socket.resume();
        return;
      case 'discard':
        socket.on('data', () => {});
        socket.once('end', () => socket.end());
        socket.resume();
        return;
      case 'daytime':
        // xinetd writes and closes; it never waits for the client's side.
        socket.end(daytimeBytes(now()), () => socket.destroy());
        return;
      case 'time':
        socket.end(timeBytes(now()), () => socket.destroy());
        return;
      case 'chargen': {
        const ring = new ChargenRing();
        // Like xinetd (shutdown of the read side): what the client sends is ignored.
        socket.on('data', () => {});
        socket.resume();
        const pump = (): void => {
          // A few bursts per turn of the event loop, so a fast reader cannot starve the daemon.
          for (let i = 0; i < 8; i++) {
            if (socket.destroyed || !socket.write(ring.lines(CHARGEN_BURST))) return;
          }
          setImmediate(pump);
        };
        socket.on('drain', pump);
        pump();
        return;
      }
      case 'sensor':
      case 'tcpmux': // served by serve-tcpmux.ts, which reads the name line first
        socket.destroy();
        return;
    }
  });
}
