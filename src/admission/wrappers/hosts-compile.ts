// hosts_access(5) tables compiled for matching (libwrap 7.6.q's pattern forms, with the
// Debian IPv6, CIDR, wildcard and port patches). Each table is compiled once (by identity,
// in a WeakMap) into tagged patterns, and runs of rules whose clients are only addresses,
// address prefixes (`10.1.`), net/masks and IPv6 prefixes get an index, so that a long
// block-list that does not match costs a few map look-ups per run instead of a comparison
// per line. Pure: hosts-match.ts evaluates what is compiled here.

import { cAtoi, dotQuad, parseIPv6, scanUnsigned } from './hosts-addr.js';
import type { HostsTable, HostsToken } from './hosts-syntax.js';
import { present } from '../../util/invariant.js';

// ---------------------------------------------------------------------------------------------
// Compiled patterns

/** libwrap's string_match() forms, in the order it tries them. */
export type StringPattern =
  | { k: 'glob'; p: string }
  | { k: 'suffix'; p: string }
  | { k: 'all' }
  | { k: 'known' }
  | { k: 'prefix'; p: string }
  | { k: 'v6'; addr: Uint8Array | null }
  | { k: 'exact'; p: string };

/** libwrap's host_match() forms. */
export type HostPattern =
  | { k: 'netgroup' }
  | { k: 'file'; path: string }
  | { k: 'known-host' }
  | { k: 'local' }
  | { k: 'masked'; v4: { net: number; mask: number } | null; v6: { net: Uint8Array; bits: number } | null }
  /** `byName`: the token is not only digits, dots and slashes, so a host name is also tried. */
  | { k: 'string'; sp: StringPattern; byName: boolean };

export interface ClientPattern {
  host: HostPattern;
  user: StringPattern | null;
}

export interface DaemonPattern {
  port: number | null;
  name: StringPattern;
  host: HostPattern | null;
}

/** A list cut at its EXCEPT tokens: `a EXCEPT b EXCEPT c` is [[a], [b], [c]]. */
export type PatternList<P> = P[][];

/** The clients of a rule that only compares the client address (no names, users, EXCEPT). */
interface AddressKeys {
  /** Exact address texts, folded; IPv6 addresses as v6Key. */
  exact: string[];
  /** Address prefixes ending in ".", folded. */
  prefix: string[];
  masked: { net: number; mask: number }[];
  masked6: { net: Uint8Array; bits: number }[];
}

export interface CompiledRule {
  daemons: PatternList<DaemonPattern>;
  clients: PatternList<ClientPattern>;
  /** Set when the rule only compares the client address and its daemon list needs nothing. */
  keys: AddressKeys | null;
}

/** A run of consecutive rules with address keys, indexed by key. */
export interface AddressRun {
  end: number;
  exact: Map<string, number[]>;
  prefix: Map<string, number[]>;
  /** mask -> net -> rule indices. */
  masks: Map<number, Map<number, number[]>>;
  /** prefix length -> prefix (prefixKey) -> rule indices. */
  masks6: Map<number, Map<string, number[]>>;
}

interface CompiledTable {
  rules: CompiledRule[];
  /** For each rule index, the indexed run it sits in, if any. */
  runAt: (AddressRun | undefined)[];
}

const compiled = new WeakMap<HostsTable, CompiledTable>();

/** Runs shorter than this are scanned rule by rule. */
const MIN_RUN = 8;
/** `/path` files naming further files: deeper than this counts as no match (libwrap would recurse without end). */
export const MAX_FILE_DEPTH = 8;
/** libwrap copies names, addresses, users and the daemon name into 128-byte fields. */
const STRING_LENGTH = 128;

const NON_ASCII = /[\x80-\uffff]/;

/** strcasecmp's folding: ASCII letters only. */
export function fold(s: string): string {
  return NON_ASCII.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s.toLowerCase();
}

/** A request string as libwrap holds it: at most 127 bytes. */
export function field(s: string): string {
  if (s.length < STRING_LENGTH / 4 && !NON_ASCII.test(s)) return s;
  const b = Buffer.from(s, 'utf8');
  return b.length < STRING_LENGTH ? s : b.subarray(0, STRING_LENGTH - 1).toString('utf8');
}

/** libwrap's split_at(): the text after the first `delim` outside brackets, or null. */
function splitAt(s: string, delim: string, from = 0): [string, string] | null {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (depth === 0 && c === delim) return [s.slice(0, i), s.slice(i + 1)];
  }
  return null;
}

function compileString(tok: string): StringPattern {
  if (tok.includes('*') || tok.includes('?')) return { k: 'glob', p: fold(tok) };
  if (tok[0] === '.') return { k: 'suffix', p: fold(tok) };
  const f = fold(tok);
  if (f === 'all') return { k: 'all' };
  if (f === 'known') return { k: 'known' };
  if (tok.length > 0 && tok[tok.length - 1] === '.') return { k: 'prefix', p: f };
  if (tok.length >= 2 && tok[0] === '[' && tok[tok.length - 1] === ']') return { k: 'v6', addr: parseIPv6(tok.slice(1, -1)) };
  return { k: 'exact', p: f };
}

/** libwrap's NOT_INADDR(): the token has a character other than digits, dots and slashes. */
function notInaddr(tok: string): boolean {
  return !/^[0-9./]*$/.test(tok);
}

export function compileHost(tok: string): HostPattern {
  if (tok[0] === '@') return { k: 'netgroup' };
  if (tok[0] === '/') return { k: 'file', path: tok };
  const f = fold(tok);
  if (f === 'known') return { k: 'known-host' };
  if (f === 'local') return { k: 'local' };
  const nm = splitAt(tok, '/');
  if (nm !== null) {
    const [netTok, maskTok] = nm;
    let v4: { net: number; mask: number } | null = null;
    const net = dotQuad(netTok);
    if (net !== null) {
      let mask = dotQuad(maskTok);
      if (mask === null) {
        const bits = cAtoi(maskTok);
        mask = bits < 1 || bits > 32 ? null : (0xffffffff << (32 - bits)) >>> 0;
      }
      if (mask !== null) v4 = { net, mask };
    }
    let v6: { net: Uint8Array; bits: number } | null = null;
    if (netTok.length >= 2 && netTok[0] === '[' && netTok[netTok.length - 1] === ']') {
      const addr = parseIPv6(netTok.slice(1, -1));
      const bits = cAtoi(maskTok);
      if (addr !== null && bits >= 0 && bits <= 128) v6 = { net: addr, bits };
    }
    return { k: 'masked', v4, v6 };
  }
  const sp = compileString(tok);
  // An [IPv6] token is never tried against the host name here, though libwrap does: a name that
  // passed the double-reverse check can equal an IPv6 literal only when the address itself does,
  // so the look-up could not change the answer.
  return { k: 'string', sp, byName: sp.k !== 'v6' && notInaddr(tok) };
}

function compileClient(tok: string): ClientPattern {
  const at = splitAt(tok, '@', 1);
  if (at === null) return { host: compileHost(tok), user: null };
  return { host: compileHost(at[1]), user: compileString(at[0]) };
}

function compileDaemon(tok: string): DaemonPattern {
  const at = splitAt(tok, '@', 1);
  const name = at === null ? tok : at[0];
  const n = scanUnsigned(name);
  return {
    port: n !== null && n <= 65535 ? n : null,
    name: compileString(name),
    host: at === null ? null : compileHost(at[1]),
  };
}

function compileList<P>(tokens: HostsToken[], one: (t: string) => P): PatternList<P> {
  let segment: P[] = [];
  const out: P[][] = [segment];
  for (const t of tokens) {
    if (fold(t.text) === 'except') out.push((segment = []));
    else segment.push(one(t.text));
  }
  return out;
}

function addressKeys(rule: CompiledRule): AddressKeys | null {
  const [clients, ...except] = rule.clients;
  if (clients === undefined || except.length > 0 || rule.daemons.some((seg) => seg.some((d) => d.host !== null))) return null;
  const keys: AddressKeys = { exact: [], prefix: [], masked: [], masked6: [] };
  for (const c of clients) {
    if (c.user !== null) return null;
    const h = c.host;
    if (h.k === 'masked') {
      if (h.v6 !== null) keys.masked6.push(h.v6);
      if (h.v4 !== null) keys.masked.push(h.v4);
      // Neither form readable: the token never matches and adds no key.
    } else if (h.k === 'string' && !h.byName && (h.sp.k === 'exact' || h.sp.k === 'prefix')) {
      keys[h.sp.k].push(h.sp.p);
    } else if (h.k === 'string' && h.sp.k === 'v6') {
      if (h.sp.addr !== null) keys.exact.push(v6Key(h.sp.addr));
    } else return null;
  }
  return keys;
}

function addTo<K>(map: Map<K, number[]>, key: K, rule: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [rule]);
  else if (list[list.length - 1] !== rule) list.push(rule);
}

/** An IPv6 address as a key of the exact-address map (apart from the digits-and-dots keys). */
export function v6Key(addr: Uint8Array): string {
  return `[${prefixKey(addr, 128)}]`;
}

/** The first `bits` bits of an IPv6 address, as a map key. */
export function prefixKey(addr: Uint8Array, bits: number): string {
  let key = '';
  for (let k = 0; bits > 0; k++, bits -= 8) {
    const byte = present(addr[k], 'a prefix of at most 128 bits');
    key += (bits >= 8 ? byte : byte & ((0xff << (8 - bits)) & 0xff)).toString(16).padStart(2, '0');
  }
  return key;
}

function indexRun(rules: CompiledRule[], start: number, end: number): AddressRun {
  const run: AddressRun = { end, exact: new Map(), prefix: new Map(), masks: new Map(), masks6: new Map() };
  for (const [n, rule] of rules.slice(start, end).entries()) {
    const k = start + n;
    const keys = present(rule.keys, 'address keys on every rule of a run');
    for (const a of keys.exact) addTo(run.exact, a, k);
    for (const p of keys.prefix) addTo(run.prefix, p, k);
    for (const { net, mask } of keys.masked) {
      let nets = run.masks.get(mask);
      if (nets === undefined) run.masks.set(mask, (nets = new Map<number, number[]>()));
      addTo(nets, net, k);
    }
    for (const { net, bits } of keys.masked6) {
      let nets = run.masks6.get(bits);
      if (nets === undefined) run.masks6.set(bits, (nets = new Map<string, number[]>()));
      addTo(nets, prefixKey(net, bits), k);
    }
  }
  return run;
}

function compileTable(table: HostsTable): CompiledTable {
  const rules = table.rules.map((r): CompiledRule => {
    const c: CompiledRule = { daemons: compileList(r.daemons, compileDaemon), clients: compileList(r.clients, compileClient), keys: null };
    c.keys = addressKeys(c);
    return c;
  });
  const runAt = new Array<AddressRun | undefined>(rules.length);
  for (let i = 0; i < rules.length;) {
    let j = i;
    while (j < rules.length && rules[j]?.keys !== null) j++;
    if (j - i >= MIN_RUN) {
      const run = indexRun(rules, i, j);
      for (let k = i; k < j; k++) runAt[k] = run;
    }
    i = Math.max(j, i + 1);
  }
  return { rules, runAt };
}

export function compiledTable(table: HostsTable): CompiledTable {
  let c = compiled.get(table);
  if (c === undefined) {
    c = compileTable(table);
    compiled.set(table, c);
  }
  return c;
}
