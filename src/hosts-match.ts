// hosts_access(5) evaluation as Debian's libwrap 7.6.q does it (hosts_access.c, with the
// Debian IPv6, CIDR, wildcard, port and aclexec patches). Pure: no I/O, no DNS. The caller
// says what it knows about the connection; where libwrap would look something up (a host
// name, the IDENT user) and the caller has not said, the answer is a `need`, and the caller
// asks again once it knows. Evaluation is deterministic, so asking again from the start is
// the same as carrying on.
//
// Each table is compiled once (by identity, in a WeakMap) into tagged patterns, and runs of
// rules whose clients are only addresses, address prefixes (`10.1.`), net/masks and IPv6
// prefixes get an index, so that a long block-list that does not match costs a few map
// look-ups per run instead of a comparison per line.

import { diag, type Diagnostic } from './diagnostics.js';
import type { HostsRule, HostsTable, HostsToken } from './hosts-syntax.js';
import { processRuleOptions, type OptionChecks, type WrapOption } from './hosts-options.js';
import { cAtoi, dotQuad, isCSpace, parseIPv6, samePrefix, scanUnsigned } from './hosts-addr.js';

export interface WrapRequest {
  /** The daemon (process) name the rules' daemon lists are matched against. */
  daemon: string;
  /** The local endpoint. `port` null: unknown (tcpdmatch), so numeric daemon patterns never match. */
  server: { address: string; port: number | null; hostname?: string };
  /** `hostname`: the name once looked up (double-reverse), `unknown` or `paranoid`; absent: not looked up yet.
   * `user`: the IDENT answer or `unknown`; absent: not asked yet. */
  client: { address: string; port: number | null; hostname?: string; user?: string };
}

export type Need = 'client-hostname' | 'server-hostname' | 'client-user';

export type TableScan =
  | { kind: 'match'; index: number; rule: HostsRule }
  | { kind: 'nomatch' }
  | { kind: 'error'; fault: { line: number; column: number; message: string } }
  | { kind: 'need'; what: Need };

/** Where to go on with an evaluation: a table and the index of its first rule to look at; `end`: past both tables. */
export interface ResumePoint {
  table: 'allow' | 'deny' | 'end';
  index: number;
}

/** The contents of a `/path` pattern file, as the caller could read it. */
export type PatternFile = { kind: 'text'; text: string } | { kind: 'missing' } | { kind: 'error'; message: string };

export interface EvaluateOptions extends OptionChecks {
  resume?: ResumePoint;
  /** The last aclexec command run for this request exited non-zero (libwrap keeps that flag
   * for the whole request: a later matching rule that has options then counts as not matched). */
  aclexecFailed?: boolean;
  /** Reads a `/path` client pattern file. Absent: such patterns never match. */
  readPatternFile?(path: string): PatternFile;
}

export interface WrapVerdict {
  access: 'granted' | 'denied';
  /** The table whose rule (or fault) decided; null: no rule matched anywhere. */
  table: 'allow' | 'deny' | null;
  rule: HostsRule | null;
  /** The options to carry out, in order (including those of a rule that ended up not counting). */
  options: WrapOption[];
  /** The connection is handed to a twist command (tcpdmatch: "delegated"). */
  delegated: boolean;
  /** Option errors that denied, table faults (ERR), unreadable pattern files. */
  problems: Diagnostic[];
  /** Present when the deciding rule runs an aclexec command: if, after running the options in
   * order, the last aclexec exited non-zero, the rule does not count (libwrap then moves on to
   * the next table): evaluate again with `resume` and `aclexecFailed: true`, and carry out the
   * options that answer adds. */
  aclexec?: { resume: ResumePoint };
}

export type WrapAnswer = WrapVerdict | { kind: 'need'; what: Need };

// ---------------------------------------------------------------------------------------------
// Compiled patterns

/** libwrap's string_match() forms, in the order it tries them. */
type StringPattern =
  | { k: 'glob'; p: string }
  | { k: 'suffix'; p: string }
  | { k: 'all' }
  | { k: 'known' }
  | { k: 'prefix'; p: string }
  | { k: 'v6'; addr: Uint8Array | null }
  | { k: 'exact'; p: string };

/** libwrap's host_match() forms. */
type HostPattern =
  | { k: 'netgroup' }
  | { k: 'file'; path: string }
  | { k: 'known-host' }
  | { k: 'local' }
  | { k: 'masked'; v4: { net: number; mask: number } | null; v6: { net: Uint8Array; bits: number } | null }
  /** `byName`: the token is not only digits, dots and slashes, so a host name is also tried. */
  | { k: 'string'; sp: StringPattern; byName: boolean };

interface ClientPattern {
  host: HostPattern;
  user: StringPattern | null;
}

interface DaemonPattern {
  port: number | null;
  name: StringPattern;
  host: HostPattern | null;
}

/** A list cut at its EXCEPT tokens: `a EXCEPT b EXCEPT c` is [[a], [b], [c]]. */
type PatternList<P> = P[][];

/** The clients of a rule that only compares the client address (no names, users, EXCEPT). */
interface AddressKeys {
  /** Exact address texts, folded; IPv6 addresses as v6Key. */
  exact: string[];
  /** Address prefixes ending in ".", folded. */
  prefix: string[];
  masked: { net: number; mask: number }[];
  masked6: { net: Uint8Array; bits: number }[];
}

interface CompiledRule {
  daemons: PatternList<DaemonPattern>;
  clients: PatternList<ClientPattern>;
  /** Set when the rule only compares the client address and its daemon list needs nothing. */
  keys: AddressKeys | null;
}

/** A run of consecutive rules with address keys, indexed by key. */
interface AddressRun {
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
const MAX_FILE_DEPTH = 8;
/** libwrap copies names, addresses, users and the daemon name into 128-byte fields. */
const STRING_LENGTH = 128;

const NON_ASCII = /[^\x00-\x7f]/;

/** strcasecmp's folding: ASCII letters only. */
function fold(s: string): string {
  return NON_ASCII.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s.toLowerCase();
}

/** A request string as libwrap holds it: at most 127 bytes. */
function field(s: string): string {
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

function compileHost(tok: string): HostPattern {
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
  const out: P[][] = [[]];
  for (const t of tokens) {
    if (fold(t.text) === 'except') out.push([]);
    else out[out.length - 1]!.push(one(t.text));
  }
  return out;
}

function addressKeys(rule: CompiledRule): AddressKeys | null {
  if (rule.clients.length !== 1 || rule.daemons.some((seg) => seg.some((d) => d.host !== null))) return null;
  const keys: AddressKeys = { exact: [], prefix: [], masked: [], masked6: [] };
  for (const c of rule.clients[0]!) {
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
function v6Key(addr: Uint8Array): string {
  return `[${prefixKey(addr, 128)}]`;
}

/** The first `bits` bits of an IPv6 address, as a map key. */
function prefixKey(addr: Uint8Array, bits: number): string {
  let key = '';
  for (let k = 0; bits > 0; k++, bits -= 8) key += (bits >= 8 ? addr[k]! : addr[k]! & ((0xff << (8 - bits)) & 0xff)).toString(16).padStart(2, '0');
  return key;
}

function indexRun(rules: CompiledRule[], start: number, end: number): AddressRun {
  const run: AddressRun = { end, exact: new Map(), prefix: new Map(), masks: new Map(), masks6: new Map() };
  for (let k = start; k < end; k++) {
    const keys = rules[k]!.keys!;
    for (const a of keys.exact) addTo(run.exact, a, k);
    for (const p of keys.prefix) addTo(run.prefix, p, k);
    for (const { net, mask } of keys.masked) {
      let nets = run.masks.get(mask);
      if (nets === undefined) run.masks.set(mask, (nets = new Map()));
      addTo(nets, net, k);
    }
    for (const { net, bits } of keys.masked6) {
      let nets = run.masks6.get(bits);
      if (nets === undefined) run.masks6.set(bits, (nets = new Map()));
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
  const runAt: (AddressRun | undefined)[] = new Array(rules.length);
  for (let i = 0; i < rules.length; ) {
    let j = i;
    while (j < rules.length && rules[j]!.keys !== null) j++;
    if (j - i >= MIN_RUN) {
      const run = indexRun(rules, i, j);
      for (let k = i; k < j; k++) runAt[k] = run;
    }
    i = Math.max(j, i + 1);
  }
  return { rules, runAt };
}

function compiledTable(table: HostsTable): CompiledTable {
  let c = compiled.get(table);
  if (c === undefined) {
    c = compileTable(table);
    compiled.set(table, c);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Matching

class NeedSignal {
  constructor(readonly what: Need) {}
}

/** string_match's view of a string: `::ffff:a.b.c.d` read as `a.b.c.d`, then folded for comparing. */
function matchForm(s: string): string {
  if (s.length > 7 && fold(s.slice(0, 7)) === '::ffff:' && dotQuad(s.slice(7)) !== null) return fold(s.slice(7));
  return fold(s);
}

/** One end of the connection as the patterns see it; each form is computed once, when first asked for. */
class Side {
  private form: string | undefined;
  private ipv4: number | null | undefined;
  private ipv6: Uint8Array | null | undefined;
  private nameForm: string | undefined;
  constructor(
    readonly raw: string,
    private readonly lookUp: () => string,
  ) {}
  /** The address as string_match compares it. */
  folded(): string {
    return (this.form ??= matchForm(this.raw));
  }
  /** The IPv4 address masked_match compares (an IPv4-mapped address gives its IPv4 part), or null. */
  v4(): number | null {
    if (this.ipv4 === undefined) {
      this.ipv4 = dotQuad(this.raw);
      if (this.ipv4 === null && this.raw.length > 7 && fold(this.raw.slice(0, 7)) === '::ffff:') this.ipv4 = dotQuad(this.raw.slice(7));
    }
    return this.ipv4;
  }
  v6(): Uint8Array | null {
    if (this.ipv6 === undefined) this.ipv6 = parseIPv6(this.raw);
    return this.ipv6;
  }
  /** The host name (a need when not looked up yet). */
  name(): string {
    return this.lookUp();
  }
  nameFolded(): string {
    return (this.nameForm ??= matchForm(this.lookUp()));
  }
}

/** One evaluation's view of the request, with libwrap's lazy look-ups turned into needs. */
class Req {
  readonly daemon: string;
  readonly problems: Diagnostic[] = [];
  readonly client: Side;
  readonly server: Side;
  private userForm: string | undefined;
  constructor(
    readonly req: WrapRequest,
    readonly opts: EvaluateOptions,
  ) {
    this.daemon = matchForm(field(req.daemon));
    this.client = new Side(req.client.address, () => {
      const n = req.client.hostname;
      if (n === undefined) throw new NeedSignal('client-hostname');
      return field(n);
    });
    this.server = new Side(req.server.address, () => {
      const n = req.server.hostname;
      if (n === undefined) throw new NeedSignal('server-hostname');
      return field(n);
    });
  }
  user(): string {
    if (this.userForm === undefined) {
      const u = this.req.client.user;
      if (u === undefined) throw new NeedSignal('client-user');
      this.userForm = matchForm(field(u));
    }
    return this.userForm;
  }
}

/** Anchored glob with `*` and `?` (libwrap's match_pattern_ylo), both sides already folded. */
function glob(s: string, p: string): boolean {
  let si = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      si++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** libwrap's string_match(), `s` already in matchForm. */
function stringMatch(sp: StringPattern, s: string): boolean {
  switch (sp.k) {
    case 'glob':
      return glob(s, sp.p);
    case 'suffix':
      return s.length > sp.p.length && s.endsWith(sp.p);
    case 'all':
      return true;
    case 'known':
      return s !== 'unknown';
    case 'prefix':
      return s.startsWith(sp.p);
    case 'v6': {
      if (sp.addr === null) return false;
      const a = parseIPv6(s);
      return a !== null && samePrefix(a, sp.addr, 128);
    }
    case 'exact':
      return s === sp.p;
  }
}

function nameKnown(n: string): boolean {
  const f = fold(n);
  return f !== 'unknown' && f !== 'paranoid';
}

function maskedMatch(p: Extract<HostPattern, { k: 'masked' }>, side: Side): boolean {
  const a = side.v4();
  if (a !== null) return p.v4 !== null && ((a & p.v4.mask) >>> 0) === p.v4.net;
  if (p.v6 === null) return false;
  const b = side.v6();
  return b !== null && samePrefix(b, p.v6.net, p.v6.bits);
}

function hostMatch(p: HostPattern, side: Side, r: Req, depth: number): boolean {
  switch (p.k) {
    case 'netgroup':
      // Debian's libwrap asks NIS (innetgr), which answers no on a machine without NIS.
      return false;
    case 'file':
      return fileMatch(p.path, side, r, depth);
    case 'known-host': {
      const name = side.name();
      return fold(side.raw) !== 'unknown' && nameKnown(name);
    }
    case 'local': {
      const name = side.name();
      return !name.includes('.') && nameKnown(name);
    }
    case 'masked':
      return maskedMatch(p, side);
    case 'string':
      return stringMatch(p.sp, side.folded()) || (p.byName && stringMatch(p.sp, side.nameFolded()));
  }
}

function fileMatch(path: string, side: Side, r: Req, depth: number): boolean {
  const read = r.opts.readPatternFile;
  if (read === undefined || depth >= MAX_FILE_DEPTH) return false;
  const got = read(path);
  if (got.kind === 'missing') return false;
  if (got.kind === 'error') {
    r.problems.push(diag('warning', { file: path, line: 1, column: 1 }, `open ${path}: ${got.message}`));
    return false;
  }
  // fscanf("%s"): tokens separated by white space, no comments.
  const text = got.text;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && isCSpace(text.charCodeAt(i))) i++;
    const from = i;
    while (i < text.length && !isCSpace(text.charCodeAt(i))) i++;
    if (i > from && hostMatch(compileHost(text.slice(from, i)), side, r, depth + 1)) return true;
  }
  return false;
}

/** libwrap's list_match(): first match in a segment, then the EXCEPT part decides (right-associative). */
function listMatch<P>(list: PatternList<P>, one: (p: P) => boolean): boolean {
  let depth = 0;
  let value = false;
  for (; depth < list.length; depth++) {
    const hit = list[depth]!.some(one);
    if (!hit) {
      value = false;
      break;
    }
    if (depth === list.length - 1) {
      value = true;
      break;
    }
  }
  // Each enclosing level inverts its exception's answer.
  return depth % 2 === 0 ? value : !value;
}

function daemonMatch(d: DaemonPattern, r: Req): boolean {
  const ok = d.port !== null ? r.req.server.port !== null && r.req.server.port === d.port : stringMatch(d.name, r.daemon);
  return ok && (d.host === null || hostMatch(d.host, r.server, r, 0));
}

function clientMatch(c: ClientPattern, r: Req): boolean {
  if (!hostMatch(c.host, r.client, r, 0)) return false;
  return c.user === null || stringMatch(c.user, r.user());
}

function ruleMatches(rule: CompiledRule, r: Req): boolean {
  return listMatch(rule.daemons, (d) => daemonMatch(d, r)) && listMatch(rule.clients, (c) => clientMatch(c, r));
}

/** The rules of an indexed run, from index `from`, whose address keys match the client, ascending. */
function runCandidates(run: AddressRun, client: Side, from: number): number[] {
  const found: number[] = [];
  const add = (list: number[] | undefined): void => {
    if (list !== undefined) for (const k of list) if (k >= from) found.push(k);
  };
  const a = client.folded();
  add(run.exact.get(a));
  const exact6 = a.includes(':') ? parseIPv6(a) : null;
  if (exact6 !== null) add(run.exact.get(v6Key(exact6)));
  if (run.prefix.size > 0) {
    for (let dot = a.indexOf('.'); dot >= 0; dot = a.indexOf('.', dot + 1)) add(run.prefix.get(a.slice(0, dot + 1)));
  }
  const v4 = run.masks.size + run.masks6.size > 0 ? client.v4() : null;
  if (v4 !== null) for (const [mask, nets] of run.masks) add(nets.get((v4 & mask) >>> 0));
  // IPv6 prefixes never match an IPv4 (or IPv4-mapped) client.
  const v6 = v4 === null && run.masks6.size > 0 ? client.v6() : null;
  if (v6 !== null) for (const [bits, nets] of run.masks6) add(nets.get(prefixKey(v6, bits)));
  return found.length > 1 ? [...new Set(found)].sort((x, y) => x - y) : found;
}

function scan(table: HostsTable, r: Req, from: number): TableScan {
  const ct = compiledTable(table);
  try {
    for (let i = Math.max(0, from); i < ct.rules.length; ) {
      const run = ct.runAt[i];
      if (run !== undefined) {
        for (const k of runCandidates(run, r.client, i)) {
          if (listMatch(ct.rules[k]!.daemons, (d) => daemonMatch(d, r))) return { kind: 'match', index: k, rule: table.rules[k]! };
        }
        i = run.end;
        continue;
      }
      if (ruleMatches(ct.rules[i]!, r)) return { kind: 'match', index: i, rule: table.rules[i]! };
      i++;
    }
  } catch (err) {
    if (err instanceof NeedSignal) return { kind: 'need', what: err.what };
    throw err;
  }
  if (table.fault !== null) {
    const { line, column, message } = table.fault;
    return { kind: 'error', fault: { line, column, message } };
  }
  return { kind: 'nomatch' };
}

/** The first rule of `table` (from rule index `from`) that matches the request, as libwrap's table_match. */
export function scanTable(table: HostsTable, req: WrapRequest, from = 0, opts: EvaluateOptions = {}): TableScan {
  return scan(table, new Req(req, opts), from);
}

// ---------------------------------------------------------------------------------------------
// The two tables

function faultProblem(table: HostsTable): Diagnostic {
  const f = table.fault!;
  const text = f.reason === 'unreadable' ? f.message : `${f.message}: all the subsequent rules will be ignored`;
  return diag('warning', { file: table.path, line: f.line, column: f.column }, text);
}

/**
 * hosts_access(): hosts.allow first (a match grants), then hosts.deny (a match denies); no
 * match grants. ERR in hosts.allow goes on to hosts.deny; ERR in hosts.deny denies. The
 * options of the matching rule are read only then, and an error in them denies.
 */
export function evaluateAccess(allow: HostsTable, deny: HostsTable, req: WrapRequest, opts: EvaluateOptions = {}): WrapAnswer {
  const r = new Req(req, opts);
  const options: WrapOption[] = [];
  const aclexecFailed = opts.aclexecFailed === true;
  let at: ResumePoint = opts.resume ?? { table: 'allow', index: 0 };
  const verdict = (access: 'granted' | 'denied', table: 'allow' | 'deny' | null, rule: HostsRule | null, extra: Partial<WrapVerdict> = {}): WrapVerdict => ({
    access,
    table,
    rule,
    options,
    delegated: false,
    problems: r.problems,
    ...extra,
  });
  while (at.table !== 'end') {
    const which = at.table;
    const table = which === 'allow' ? allow : deny;
    const next: ResumePoint = which === 'allow' ? { table: 'deny', index: 0 } : { table: 'end', index: 0 };
    const s = scan(table, r, at.index);
    if (s.kind === 'need') return s;
    if (s.kind === 'error') {
      r.problems.push(faultProblem(table));
      if (which === 'deny') return verdict('denied', 'deny', null);
      at = next;
      continue;
    }
    if (s.kind === 'nomatch') {
      at = next;
      continue;
    }
    // YES: the table's answer, unless its options say otherwise.
    const yes = which === 'allow' ? 'granted' : 'denied';
    if (!s.rule.hasOptions) return verdict(yes, which, s.rule);
    const ro = processRuleOptions(s.rule, opts);
    options.push(...ro.options);
    if (ro.end === 'error') {
      r.problems.push(ro.error!);
      return verdict('denied', which, s.rule);
    }
    if (ro.end === 'allow') return verdict('granted', which, s.rule);
    if (ro.end === 'deny') return verdict('denied', which, s.rule);
    if (ro.end === 'twist') return verdict(yes, which, s.rule, { delegated: true });
    if (ro.options.some((o) => o.kind === 'aclexec')) return verdict(yes, which, s.rule, { aclexec: { resume: next } });
    if (aclexecFailed) {
      // libwrap's flag from an earlier failed aclexec: this table answers "no match".
      at = next;
      continue;
    }
    return verdict(yes, which, s.rule);
  }
  return verdict('granted', null, null);
}
