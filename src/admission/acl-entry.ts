// One written only_from / no_access entry, read as xinetd reads it, before names are
// resolved; ip-cidr validates every CIDR and computes its first address.
//
// How entries are read (measured against xinetd 2.3.15.3 where it matters):
//   127.0.0.1, 127.1, 0177.0.0.1, 2130706433   numeric, inet_aton forms as getaddrinfo takes them
//   10.0.0.0, 128.138.12.0                      trailing zero bytes are wildcards (/8, /24)
//   0.0.0.0, 0                                  every IPv4 address
//   ::1, ::ffff:127.0.0.1                       one IPv6 address (no wildcard rule)
//   ::                                          the unspecified address: matches no client
//                                               (as in xinetd); ::/0 is every address
//   192.168.1.0/24, fe80::/10, 127.1/16         CIDR; the address part is read like a numeric
//                                               entry, so `127/8` is 0.0.0.127/8 (as in xinetd)
//   127.0.0.{1,3}, 128.138.{200,201}            factorized: braces only at the end (IPv4)
//   localhost, host.example.com                 every address the name resolves to at load
//   mynet                                       /etc/networks name, when it is not a host name
//   .example.com                                peers whose verified name ends with it
// Deliberate differences from xinetd (see report / man page BUGS):
//   - host names are compared by address, also with mapped clients: xinetd's
//     `only_from = localhost` refuses 127.0.0.1 on a dual-stack socket; tsinetd admits it;
//   - an /etc/networks number written as a full dotted quad (`loopback 127.0.0.0`) uses the
//     trailing-zero rule (127/8); xinetd makes it one address (127.0.0.0);
//   - an IPv6 CIDR with a /128 (or longer) mask is that address; xinetd matches nothing;
//   - .domain entries need the forward lookup to confirm the reverse name.

import IPCIDR from 'ip-cidr';
import { ALL_ONES, formatAddress, fullHex, maskOf, parseCNumber, parseInetAton, parseIPv6, v4ToBig } from './acl-address.js';
import type { Service } from '../table.js';

/** One compiled range: addresses `a` with `(a & mask) === network`, in the 128-bit space. */
export interface AclNet {
  entry: string;
  network: bigint;
  mask: bigint;
  /** Prefix length in the 128-bit space (IPv4 /n is 96 + n). */
  prefix: number;
}

/** What one written entry means before names are resolved. */
export type ParsedEntry =
  | { kind: 'nets'; nets: AclNet[]; warnings: string[] }
  | { kind: 'name'; name: string }
  | { kind: 'domain'; suffix: string }
  | { kind: 'invalid'; message: string; disablesService?: boolean };

function v4Net(entry: string, value: number, prefix: number): AclNet {
  const mask = maskOf(96 + prefix);
  return { entry, network: v4ToBig(value) & mask, mask, prefix: 96 + prefix };
}

/** xinetd's rule for a numeric IPv4 entry: each trailing zero byte widens it by 8 bits. */
function trailingZeroPrefix(value: number): number {
  if (value === 0) return 0;
  let prefix = 32;
  for (let v = value; (v & 0xff) === 0; v >>>= 8) prefix -= 8;
  return prefix;
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_-]+)*\.?$/;

function parseNumeric(entry: string): ParsedEntry | null {
  if (entry.includes(':')) {
    const v6 = parseIPv6(entry);
    if (v6 === null) return { kind: 'invalid', message: 'not a valid IPv6 address' };
    const warnings = v6 === 0n ? ['`::` is the unspecified address and matches no client (as in xinetd); write ::/0 for every address'] : [];
    return { kind: 'nets', nets: [{ entry, network: v6, mask: ALL_ONES, prefix: 128 }], warnings };
  }
  if (!/^[0-9a-fA-FxX.]+$/.test(entry) || !/^[0-9]/.test(entry)) return null;
  const v4 = parseInetAton(entry);
  if (v4 === null) {
    if (/^[0-9.]+$/.test(entry)) return { kind: 'invalid', message: 'not a valid IPv4 address' };
    return null;
  }
  const warnings: string[] = [];
  if (v4.parts < 4 && v4.value !== 0) {
    warnings.push(`read as ${formatAddress(v4ToBig(v4.value))} (inet_aton short form, as xinetd reads it)`);
  }
  return { kind: 'nets', nets: [v4Net(entry, v4.value, trailingZeroPrefix(v4.value))], warnings };
}

function parseCidr(entry: string): ParsedEntry {
  const slash = entry.indexOf('/');
  const addrText = entry.slice(0, slash);
  const m = /^(\d+)(.*)$/.exec(entry.slice(slash + 1));
  if (m === null) return { kind: 'invalid', message: 'the mask after `/` must be a number of bits' };
  let bits = Number(m[1]);
  const warnings: string[] = [];
  if (m[2] !== '') warnings.push(`\`${m[2]}\` after the mask is ignored (as in xinetd)`);
  let v6 = false;
  let text: string;
  if (addrText.includes(':')) {
    const a = parseIPv6(addrText);
    if (a === null) return { kind: 'invalid', message: 'not a valid IPv6 address before `/`' };
    v6 = true;
    if (bits > 128) {
      warnings.push('a mask longer than 128 bits is read as /128');
      bits = 128;
    }
    // ip-cidr reads an embedded dotted quad as IPv4: hand it the all-hex form.
    text = `${fullHex(a)}/${bits}`;
  } else {
    const a = parseInetAton(addrText);
    if (a === null) return { kind: 'invalid', message: 'not a valid IPv4 address before `/`' };
    if (a.parts < 4) {
      warnings.push(`the address is read as ${formatAddress(v4ToBig(a.value))} (inet_aton short form, as xinetd reads it)`);
    }
    if (bits > 32) {
      warnings.push('a mask longer than 32 bits is read as /32 (as in xinetd)');
      bits = 32;
    }
    text = `${formatAddress(v4ToBig(a.value))}/${bits}`;
  }
  let cidr: IPCIDR;
  try {
    cidr = new IPCIDR(text);
  } catch {
    return { kind: 'invalid', message: 'not a valid CIDR range' };
  }
  const start = cidr.start<bigint>({ type: 'bigInteger' });
  const prefix = v6 ? bits : 96 + bits;
  const base = v6 ? start : v4ToBig(Number(start));
  const mask = maskOf(prefix);
  return { kind: 'nets', nets: [{ entry, network: base & mask, mask, prefix }], warnings };
}

/** `d.d.{x,y}`: digits and dots, then one brace group that ends the entry (IPv4 only). */
function parseFactorized(entry: string): ParsedEntry {
  const open = entry.indexOf('{');
  const head = entry.slice(0, open);
  if (!/^[0-9.]*$/.test(head)) return { kind: 'invalid', message: 'not an address' };
  if (head.includes('..') || head.startsWith('.')) {
    return { kind: 'invalid', message: 'bad factorized address: consecutive dots', disablesService: true };
  }
  if (head !== '' && !head.endsWith('.')) {
    return { kind: 'invalid', message: 'bad factorized address: the braces must follow a dot' };
  }
  const fixed = head === '' ? [] : head.slice(0, -1).split('.').map(Number);
  if (fixed.length > 3) return { kind: 'invalid', message: 'bad factorized address: too many parts before the braces' };
  if (fixed.some((n) => n > 255)) return { kind: 'invalid', message: 'bad factorized address: a part is above 255' };
  const close = entry.indexOf('}', open);
  if (close < 0 || close !== entry.length - 1) {
    return { kind: 'invalid', message: 'bad factorized address: the entry must end with `}`', disablesService: true };
  }
  const items = entry.slice(open + 1, close).split(',');
  if (items.some((i) => i === '')) {
    return { kind: 'invalid', message: 'bad factorized address: empty element between commas', disablesService: true };
  }
  if (items.some((i) => !/^\d+$/.test(i))) {
    return { kind: 'invalid', message: 'bad factorized address: only numbers may stand between the braces', disablesService: true };
  }
  const values = items.map(Number);
  if (values.some((n) => n > 255)) return { kind: 'invalid', message: 'bad factorized address: a part is above 255' };
  const shift = 8 * (3 - fixed.length);
  let base = 0;
  for (const n of fixed) base = base * 256 + n;
  base = base * 2 ** (shift + 8);
  const prefix = 32 - shift;
  const nets = values.map((n) => v4Net(entry, (base + n * 2 ** shift) >>> 0, prefix));
  return { kind: 'nets', nets, warnings: [] };
}

/** Reads one entry the way xinetd tries its parsers: numeric, host/domain, CIDR, factorized, network. */
export function parseAclEntry(entry: string): ParsedEntry {
  if (entry.includes('{')) return parseFactorized(entry);
  if (entry.includes('/')) return parseCidr(entry);
  const numeric = parseNumeric(entry);
  if (numeric !== null) return numeric;
  if (entry.startsWith('.')) {
    const rest = entry.slice(1);
    if (rest !== '' && HOST_NAME.test(rest) && /[^0-9.]/.test(rest)) {
      return { kind: 'domain', suffix: entry.toLowerCase().replace(/\.$/, '') };
    }
    return { kind: 'invalid', message: 'not a valid domain' };
  }
  if (HOST_NAME.test(entry) && /[^0-9.]/.test(entry)) return { kind: 'name', name: entry };
  return { kind: 'invalid', message: 'not an address, network, host or domain name' };
}

/** inet_network(3) as getnetbyname returns it, placed as xinetd does (127 → 127.0.0.0/8). */
export function networkNumberToNet(entry: string, number: string): AclNet | null {
  const parts = number.split('.');
  if (parts.length > 4) return null;
  let value = 0;
  for (const p of parts) {
    const n = parseCNumber(p);
    if (n === null || n > 255) return null;
    value = value * 256 + n;
  }
  if (value === 0) return null;
  if (value <= 0xff) return v4Net(entry, value * 2 ** 24, 8);
  if (value <= 0xffff) return v4Net(entry, value * 2 ** 16, 16);
  if (value <= 0xffffff) return v4Net(entry, value * 2 ** 8, 24);
  return v4Net(entry, value >>> 0, trailingZeroPrefix(value >>> 0));
}

/** The name entries (host or network names) of a service's two lists, without duplicates. */
export function aclNames(service: Pick<Service, 'only_from' | 'no_access'>): string[] {
  const names = new Set<string>();
  for (const list of [service.only_from, service.no_access]) {
    for (const e of list ?? []) {
      const p = parseAclEntry(e);
      if (p.kind === 'name') names.add(p.name);
    }
  }
  return [...names];
}
