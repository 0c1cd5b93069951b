// Address text as the C library reads it for libwrap's patterns: inet_addr() behind
// dot_quad_addr(), inet_pton() behind getaddrinfo(AF_INET6, AI_NUMERICHOST), atoi() and
// sscanf("%u"). Pure; shared by the matcher (hosts-match.ts) and the checker (hosts-lint.ts).

import { present } from '../../util/invariant.js';

/** glibc inet_aton(): parts in C notation (0x hex, leading 0 octal), 1 to 4 of them. */
function inetAton(s: string): number | null {
  const parts: number[] = [];
  let i = 0;
  for (;;) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return null;
    let base = 10;
    if (c === 0x30) {
      const x = s[i + 1];
      if (x === 'x' || x === 'X') {
        base = 16;
        i += 2;
      } else {
        base = 8;
        i += 1;
      }
    }
    let value = 0;
    const from = i;
    for (; i < s.length; i++) {
      const d = digitValue(s.charCodeAt(i));
      if (d < 0 || d >= base) break;
      value = value * base + d;
      if (value > 0xffffffff) return null; // strtoul's ERANGE and anything inet_aton rejects
    }
    // "0x" with no hex digit: strtoul reads the 0 and stops at the x.
    if (base === 16 && i === from) return null;
    if (s[i] === '.') {
      if (parts.length > 2 || value > 0xff) return null;
      parts.push(value);
      i += 1;
      continue;
    }
    const rest = s.charCodeAt(i);
    if (i < s.length && !isCSpace(rest)) return null;
    const limits = [0xffffffff, 0xffffff, 0xffff, 0xff];
    if (value > present(limits[parts.length], 'at most 3 parts before the last')) return null;
    let result = 0;
    for (const [k, part] of parts.entries()) result += part * 2 ** (24 - 8 * k);
    return result + value;
  }
}

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** C isspace() in the C locale. */
export function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * libwrap's dot_quad_addr(): inet_addr() of a text with exactly four runs of non-dots; null for
 * INADDR_NONE, which includes 255.255.255.255 (libwrap cannot tell it from an error).
 */
export function dotQuad(s: string): number | null {
  let runs = 0;
  let inRun = false;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x2e) inRun = false;
    else if (!inRun) {
      inRun = true;
      runs++;
    }
  }
  if (runs !== 4) return null;
  const v = inetAton(s);
  return v === null || v === 0xffffffff ? null : v;
}

const LONG_MAX = (1n << 63n) - 1n;
const ULONG_MAX = (1n << 64n) - 1n;

/** The number at the start of `s` as strtol/strtoul read it: blanks, a sign, digits of `base`. */
function leadingNumber(s: string, base: 8 | 10): { neg: boolean; magnitude: bigint; digits: number; end: number } {
  let i = 0;
  while (i < s.length && isCSpace(s.charCodeAt(i))) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  const from = i;
  let magnitude = 0n;
  const top = 0x30 + base;
  for (; i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) < top; i++) {
    // Past 2^64 every reader below saturates, so stop growing there.
    if (magnitude <= ULONG_MAX) magnitude = magnitude * BigInt(base) + BigInt(s.charCodeAt(i) - 0x30);
  }
  return { neg, magnitude, digits: i - from, end: i };
}

/** strtol's value clamped to a long, then stored into an int. */
function longToInt(neg: boolean, magnitude: bigint): number {
  let l = neg ? -magnitude : magnitude;
  if (l > LONG_MAX) l = LONG_MAX;
  if (l < -LONG_MAX - 1n) l = -LONG_MAX - 1n;
  return Number(BigInt.asIntN(32, l));
}

/** C atoi() (strtol cast to int): leading blanks, a sign, digits; 0 when there are none. */
export function cAtoi(s: string): number {
  const n = leadingNumber(s, 10);
  return longToInt(n.neg, n.magnitude);
}

/**
 * sscanf(s, "%u%c") == 1 (base 10) or sscanf(s, "%o%c") == 1 (base 8): the whole text is one
 * unsigned number (blanks and a sign allowed in front, as strtoul reads it), returned as an
 * unsigned int. null when the text is not just a number. libwrap's daemon_or_port_match and
 * umask option use these.
 */
export function scanUnsigned(s: string, base: 8 | 10 = 10): number | null {
  const n = leadingNumber(s, base);
  if (n.digits === 0 || n.end !== s.length) return null;
  let v = n.magnitude > ULONG_MAX ? ULONG_MAX : n.magnitude; // strtoul saturates
  if (n.neg) v = (ULONG_MAX + 1n - v) & ULONG_MAX;
  return Number(BigInt.asUintN(32, v));
}

/** sscanf(s, "%d%c") == 1: the whole text is one int (blanks and a sign allowed in front). */
export function scanInt(s: string): number | null {
  const n = leadingNumber(s, 10);
  if (n.digits === 0 || n.end !== s.length) return null;
  return longToInt(n.neg, n.magnitude);
}

/** inet_pton(AF_INET) as glibc's: four decimal parts, no leading zeros. */
function pton4(s: string): [number, number, number, number] | null {
  const part = (p: string): number | undefined => (/^[0-9]{1,3}$/.test(p) && !(p.length > 1 && p[0] === '0') && Number(p) <= 255 ? Number(p) : undefined);
  const [a, b, c, d, ...more] = s.split('.').map(part);
  if (a === undefined || b === undefined || c === undefined || d === undefined || more.length > 0) return null;
  return [a, b, c, d];
}

/**
 * An IPv6 literal as getaddrinfo(AF_INET6, AI_NUMERICHOST) reads it (glibc inet_pton, with a
 * numeric `%scope` allowed after it; the scope is not compared, as on Linux). null if it is not one.
 */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) {
    if (!/^[0-9]+$/.test(s.slice(pct + 1))) return null;
    s = s.slice(0, pct);
  }
  if (s.length === 0 || s.length > 45) return null;
  const out = new Uint8Array(16);
  const words: number[] = [];
  let gap = -1;
  let i = 0;
  if (s.startsWith('::')) {
    gap = 0;
    i = 2;
  } else if (s[0] === ':') return null;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    const end = colon < 0 ? s.length : colon;
    const part = s.slice(i, end);
    if (part.includes('.')) {
      if (colon >= 0 || words.length > 6) return null;
      const v4 = pton4(part);
      if (v4 === null) return null;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      break;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
    words.push(parseInt(part, 16));
    if (colon < 0) break;
    if (s[colon + 1] === ':') {
      if (gap >= 0) return null;
      gap = words.length;
      i = colon + 2;
    } else {
      if (colon + 1 >= s.length) return null; // trailing single colon
      i = colon + 1;
    }
  }
  if (gap < 0 ? words.length !== 8 : words.length > 7) return null;
  const full = gap < 0 ? words : [...words.slice(0, gap), ...new Array<number>(8 - words.length).fill(0), ...words.slice(gap)];
  for (const [k, word] of full.entries()) {
    out[2 * k] = word >> 8;
    out[2 * k + 1] = word & 0xff;
  }
  return out;
}

/** The first `bits` bits of two IPv6 addresses are equal. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  let k = 0;
  for (; bits >= 8; bits -= 8, k++) if (a[k] !== b[k]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  // Past the end of either address (bits > 128) a byte reads as 0, as `undefined & mask` did.
  return ((a[k] ?? 0) & mask) === ((b[k] ?? 0) & mask);
}
