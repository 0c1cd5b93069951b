// only_from / no_access: parsing the entries as xinetd reads them, compiling each list once
// per service into address ranges, and matching a peer against both lists.
//
// Every address lives in one 128-bit IPv6 space: an IPv4 address a.b.c.d is stored as the
// IPv4-mapped ::ffff:a.b.c.d. So an IPv4 entry matches a client whether the socket reports
// it plain (IPv4 socket) or mapped (dual-stack socket), and a mapped IPv6 entry matches the
// plain IPv4 client too. ip-cidr validates every CIDR and computes its first address.
//
// Host names and network names are resolved before compiling (resolveAclNames, async, with
// an injectable resolver), so matching needs no lookup. Only `.domain` entries need the
// peer's name at connection time: reverse lookup confirmed by a forward lookup
// (verifiedHostnames), never blocking the event loop.
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

import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import IPCIDR from 'ip-cidr';
import type { Service } from './table.js';
import { withTimeout } from './with-timeout.js';

/** A problem with one entry. Errors drop the entry (xinetd: "failed to parse"). */
export interface AclProblem {
  entry: string;
  severity: 'error' | 'warning';
  message: string;
  /** xinetd disables the whole service for this entry (malformed factorized address). */
  disablesService?: boolean;
}

/** One compiled range: addresses `a` with `(a & mask) === network`, in the 128-bit space. */
export interface AclNet {
  entry: string;
  network: bigint;
  mask: bigint;
  /** Prefix length in the 128-bit space (IPv4 /n is 96 + n). */
  prefix: number;
}

/** A compiled only_from or no_access list. */
export interface CompiledAcl {
  /** False when the attribute is not set (null): the list neither allows nor refuses. */
  readonly set: boolean;
  readonly nets: readonly AclNet[];
  /** `.domain` suffixes, lower case, leading dot kept. */
  readonly domains: readonly string[];
  readonly problems: readonly AclProblem[];
}

/** How a name entry was resolved before compiling. */
export type NameResolution =
  | { kind: 'host'; addresses: readonly string[] }
  | { kind: 'network'; number: string }
  | { kind: 'unresolved'; message: string };

export type ResolvedNames = ReadonlyMap<string, NameResolution>;

/** The lookups admission needs (injectable; systemResolver() asks the system). */
export interface NameResolver {
  /** Every address of a host name (IPv4 and IPv6); [] or a rejection when unknown. */
  lookupHost(name: string): Promise<readonly string[]>;
  /** The network number of an /etc/networks name as written there (e.g. "127.0.0.0"), or null. */
  lookupNetwork(name: string): Promise<string | null>;
  /** Host names of a numeric address (reverse lookup); [] when it has none. */
  reverse(address: string): Promise<readonly string[]>;
}

// ---------------------------------------------------------------------------------------
// Addresses as 128-bit integers

const MAPPED_PREFIX = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

/** The mapped form of a 32-bit IPv4 address. */
export function v4ToBig(v4: number): bigint {
  return MAPPED_PREFIX | BigInt(v4 >>> 0);
}

function maskOf(prefix: number): bigint {
  return prefix <= 0 ? 0n : (ALL_ONES << BigInt(128 - prefix)) & ALL_ONES;
}

/** A C-style number as inet_aton reads one part: decimal, 0octal or 0xhex. */
function parseCNumber(part: string): number | null {
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
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][parts.length - 1]!;
  let value = 0;
  for (let i = 0; i < nums.length - 1; i++) {
    if (nums[i]! > 0xff) return null;
    value = value * 256 + nums[i]!;
  }
  const last = nums[nums.length - 1]!;
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
  for (let i = 0; i < 8; ) {
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
function fullHex(addr: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((addr >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

/** The key under which a peer is counted (per_source, buckets, SENSOR): mapped and plain agree. */
export function sourceKey(address: string): string {
  const a = parsePeerAddress(address);
  return a === null ? address.toLowerCase() : formatAddress(a);
}

// ---------------------------------------------------------------------------------------
// Entries

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
    const warnings =
      v6 === 0n ? ['`::` is the unspecified address and matches no client (as in xinetd); write ::/0 for every address'] : [];
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

// ---------------------------------------------------------------------------------------
// Names

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

/**
 * Resolves the host and network names of a service's lists, as xinetd does at load (host
 * first, then /etc/networks). Run it at load and on reload; never per connection.
 */
export async function resolveAclNames(
  service: Pick<Service, 'only_from' | 'no_access'>,
  resolver: NameResolver,
): Promise<Map<string, NameResolution>> {
  const out = new Map<string, NameResolution>();
  await Promise.all(
    aclNames(service).map(async (name) => {
      let addresses: readonly string[] = [];
      try {
        addresses = (await resolver.lookupHost(name)).filter((a) => parsePeerAddress(a) !== null);
      } catch {
        addresses = [];
      }
      if (addresses.length > 0) {
        out.set(name, { kind: 'host', addresses });
        return;
      }
      let network: string | null = null;
      try {
        network = await resolver.lookupNetwork(name);
      } catch {
        network = null;
      }
      if (network !== null) out.set(name, { kind: 'network', number: network });
      else out.set(name, { kind: 'unresolved', message: 'unknown host or network name' });
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------
// Compiling and matching

/** The list that is not set: it neither admits nor refuses anyone. */
export const UNSET_ACL: CompiledAcl = { set: false, nets: [], domains: [], problems: [] };

/**
 * Compiles one list once. `null` = attribute not set; `[]` = set empty (matches nobody).
 * Name entries take their addresses from `names` (see resolveAclNames); a name missing
 * there is reported and ignored. Never throws.
 */
export function compileAcl(
  entries: readonly string[] | null,
  names: ResolvedNames = new Map(),
  listName = 'address list',
): CompiledAcl {
  if (entries === null) return UNSET_ACL;
  const nets: AclNet[] = [];
  const domains: string[] = [];
  const problems: AclProblem[] = [];
  const problem = (entry: string, severity: AclProblem['severity'], text: string, disablesService = false): void => {
    const p: AclProblem = { entry, severity, message: `${listName} entry \`${entry}\`: ${text}` };
    if (disablesService) p.disablesService = true;
    problems.push(p);
  };
  for (const entry of entries) {
    if (entry === '') continue;
    const p = parseAclEntry(entry);
    switch (p.kind) {
      case 'nets':
        nets.push(...p.nets);
        for (const w of p.warnings) problem(entry, 'warning', w);
        break;
      case 'domain':
        domains.push(p.suffix);
        break;
      case 'invalid':
        problem(entry, 'error', p.disablesService === true ? `${p.message}; the service is disabled (as xinetd does)` : `${p.message}; entry ignored`, p.disablesService === true);
        break;
      case 'name': {
        const r = names.get(p.name);
        if (r === undefined) {
          problem(entry, 'error', 'name not resolved yet; entry ignored');
        } else if (r.kind === 'host') {
          for (const a of r.addresses) {
            const v = parsePeerAddress(a);
            if (v !== null) nets.push({ entry, network: v, mask: ALL_ONES, prefix: 128 });
          }
        } else if (r.kind === 'network') {
          const net = networkNumberToNet(entry, r.number);
          if (net === null) problem(entry, 'error', `network number ${r.number} is not usable; entry ignored`);
          else nets.push(net);
        } else {
          problem(entry, 'error', `${r.message}; entry ignored`);
        }
        break;
      }
    }
  }
  return { set: true, nets, domains, problems };
}

export function matchesAddress(acl: CompiledAcl, addr: bigint): boolean {
  for (const n of acl.nets) if ((addr & n.mask) === n.network) return true;
  return false;
}

/** True when one of the (already verified) host names ends with one of the `.domain` entries. */
export function matchesDomain(acl: CompiledAcl, hostnames: readonly string[]): boolean {
  for (const raw of hostnames) {
    const h = raw.toLowerCase().replace(/\.$/, '');
    for (const d of acl.domains) if (h.length > d.length && h.endsWith(d)) return true;
  }
  return false;
}

/** Both lists of a service, compiled. */
export interface ServiceAcl {
  onlyFrom: CompiledAcl;
  noAccess: CompiledAcl;
}

export function compileServiceAcl(
  service: Pick<Service, 'only_from' | 'no_access'>,
  names: ResolvedNames = new Map(),
): ServiceAcl {
  return {
    onlyFrom: compileAcl(service.only_from, names, 'only_from'),
    noAccess: compileAcl(service.no_access, names, 'no_access'),
  };
}

export type AccessVerdict =
  | { allow: true }
  | { allow: false; why: 'no_access' | 'only_from' | 'both' };

/**
 * xinetd's rule: an address on both lists is refused ("match equally"), even when the
 * only_from entry is the more specific one; on no_access only → refused; only_from set and
 * not on it → refused; otherwise admitted. `hostnames` = the peer's verified names, or null
 * when no lookup was made (then `.domain` entries match nothing).
 */
export function decideAccess(acl: ServiceAcl, addr: bigint, hostnames: readonly string[] | null = null): AccessVerdict {
  const names = hostnames ?? [];
  const na = acl.noAccess.set && (matchesAddress(acl.noAccess, addr) || matchesDomain(acl.noAccess, names));
  const of = acl.onlyFrom.set && (matchesAddress(acl.onlyFrom, addr) || matchesDomain(acl.onlyFrom, names));
  if (na && of) return { allow: false, why: 'both' };
  if (na) return { allow: false, why: 'no_access' };
  if (acl.onlyFrom.set && !of) return { allow: false, why: 'only_from' };
  return { allow: true };
}

/** Whether the peer's host name could change decideAccess's answer (so a lookup is worth it). */
export function needsHostnames(acl: ServiceAcl, addr: bigint): boolean {
  if (acl.noAccess.set && matchesAddress(acl.noAccess, addr)) return false; // refused whatever the name
  if (acl.noAccess.domains.length > 0) return true;
  return acl.onlyFrom.set && acl.onlyFrom.domains.length > 0 && !matchesAddress(acl.onlyFrom, addr);
}

/**
 * The peer's host names that a forward lookup confirms (reverse names alone are whatever
 * the address owner wants them to be). Lookup failures give [].
 */
export async function verifiedHostnames(addr: bigint, resolver: NameResolver): Promise<string[]> {
  let names: readonly string[];
  try {
    names = await resolver.reverse(formatAddress(addr));
  } catch {
    return [];
  }
  const confirmed: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      try {
        const addrs = await resolver.lookupHost(name);
        if (addrs.some((a) => parsePeerAddress(a) === addr)) confirmed.push(name);
      } catch {
        // unconfirmed
      }
    }),
  );
  return confirmed;
}

// ---------------------------------------------------------------------------------------
// The system resolver (the only I/O in this file)

/** /etc/networks: `name number [aliases...]` → lower-case name or alias → number as written. */
export function parseNetworks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#');
    const fields = (hash >= 0 ? line.slice(0, hash) : line).trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length < 2) continue;
    const number = fields[1]!;
    for (const n of [fields[0]!, ...fields.slice(2)]) {
      const key = n.toLowerCase();
      if (!out.has(key)) out.set(key, number);
    }
  }
  return out;
}

/** A name lookup that has not answered after `ms` counts as failed. */
function lookupWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  return withTimeout(p, ms, () => new Error('lookup timed out'), { unref: true });
}

/**
 * Lookups through the C library (getaddrinfo / getnameinfo, so /etc/hosts and nsswitch
 * apply) on libuv's thread pool: they never block the event loop. Each one gives up after
 * `timeoutMs`.
 */
export function systemResolver(options: { timeoutMs?: number; networksPath?: string } = {}): NameResolver {
  const timeoutMs = options.timeoutMs ?? 5000;
  const networksPath = options.networksPath ?? '/etc/networks';
  return {
    async lookupHost(name) {
      const found = await lookupWithin(dns.lookup(name, { all: true, verbatim: true }), timeoutMs);
      return found.map((f) => f.address);
    },
    async lookupNetwork(name) {
      let text: string;
      try {
        text = await readFile(networksPath, 'utf8');
      } catch {
        return null;
      }
      return parseNetworks(text).get(name.toLowerCase()) ?? null;
    },
    async reverse(address) {
      try {
        const { hostname } = await lookupWithin(dns.lookupService(address, 0), timeoutMs);
        return hostname === address || hostname === '' ? [] : [hostname];
      } catch {
        return [];
      }
    },
  };
}
