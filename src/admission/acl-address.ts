// The address space of only_from / no_access: every address lives in one 128-bit IPv6
// space. An IPv4 address a.b.c.d is stored as the IPv4-mapped ::ffff:a.b.c.d, so an IPv4
// entry matches a client whether the socket reports it plain (IPv4 socket) or mapped
// (dual-stack socket), and a mapped IPv6 entry matches the plain IPv4 client too.

import { isIPv6 } from 'node:net';
import { present } from '../util/invariant.js';

const MAPPED_PREFIX = 0xffffn << 32n;
export const ALL_ONES = (1n << 128n) - 1n;

/** The mapped form of a 32-bit IPv4 address. */
export function v4ToBig(v4: number): bigint {
  return MAPPED_PREFIX | BigInt(v4 >>> 0);
}

export function maskOf(prefix: number): bigint {
  return prefix <= 0 ? 0n : (ALL_ONES << BigInt(128 - prefix)) & ALL_ONES;
}

/** A C-style number as inet_aton reads one part: decimal, 0octal or 0xhex. */
export function parseCNumber(part: string): number | null {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(part)) n = parseInt(part.slice(2), 16);
  else if (/^0[0-7]*$/.test(part)) n = parseInt(part, 8);
  else if (/^[1-9][0-9]*$/.test(part)) n = parseInt(part, 10);
  else return null;
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * inet_aton(3): `a.b.c.d`, `a.b.c` (c fills 16 bits), `a.b` (b fills 24 bits), `a` (32 bits);
 * each part decimal, octal or hex. Returns the address and how many parts were written.
 */
export function parseInetAton(text: string): { value: number; parts: number } | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseCNumber(p);
    if (n === null) return null;
    nums.push(n);
  }
  const last = present(nums.pop(), 'split() to give at least one part');
  const lastMax = present([0xffffffff, 0xffffff, 0xffff, 0xff][nums.length], 'at most 4 parts');
  let value = 0;
  for (const n of nums) {
    if (n > 0xff) return null;
    value = value * 256 + n;
  }
  if (last > lastMax) return null;
  value = value * (lastMax + 1) + last;
  return { value: value >>> 0, parts: parts.length };
}

function parseDottedQuad(text: string): number | null {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return null;
  let v = 0;
  for (const p of text.split('.')) {
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** An IPv6 address (zone index ignored, embedded dotted quad allowed) as a 128-bit integer. */
export function parseIPv6(text: string): bigint | null {
  const pct = text.indexOf('%');
  let s = pct >= 0 ? text.slice(0, pct) : text;
  if (!isIPv6(s)) return null;
  let tail: number | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    tail = parseDottedQuad(s.slice(lastColon + 1));
    if (tail === null) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  let groups: string[];
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    const head = dbl > 0 ? s.slice(0, dbl).split(':') : [];
    const rest = s.slice(dbl + 2);
    const tailGroups = rest.length > 0 ? rest.split(':') : [];
    const fill = 8 - head.length - tailGroups.length;
    if (fill < 1) return null;
    groups = [...head, ...Array<string>(fill).fill('0'), ...tailGroups];
  } else {
    groups = s.split(':');
  }
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  if (tail !== null) v = (v & ~0xffffffffn) | BigInt(tail);
  return v;
}

/** A peer address as a socket reports it (`1.2.3.4`, `::ffff:1.2.3.4`, `::1`) in the 128-bit space. */
export function parsePeerAddress(address: string): bigint | null {
  if (address.includes(':')) return parseIPv6(address);
  const v4 = parseDottedQuad(address);
  return v4 === null ? null : v4ToBig(v4);
}

/** True for the IPv4 part of the space (`::ffff:0:0/96`). */
export function isMappedV4(addr: bigint): boolean {
  return addr >> 32n === 0xffffn;
}

/** Canonical text: dotted quad for IPv4 (mapped or not), RFC 5952 for IPv6. */
export function formatAddress(addr: bigint): string {
  if (isMappedV4(addr)) {
    const v = Number(addr & 0xffffffffn);
    return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Eight hex groups, no compression, no dotted quad. */
export function fullHex(addr: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((addr >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

/** The key under which a peer is counted (per_source, buckets, SENSOR): mapped and plain agree. */
export function sourceKey(address: string): string {
  const a = parsePeerAddress(address);
  return a === null ? address.toLowerCase() : formatAddress(a);
}
