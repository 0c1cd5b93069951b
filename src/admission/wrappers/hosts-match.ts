// hosts_access(5) evaluation as Debian's libwrap 7.6.q does it (hosts_access.c, with the
// Debian IPv6, CIDR, wildcard, port and aclexec patches). Pure: no I/O, no DNS. The caller
// says what it knows about the connection; where libwrap would look something up (a host
// name, the IDENT user) and the caller has not said, the answer is a `need`, and the caller
// asks again once it knows. Evaluation is deterministic, so asking again from the start is
// the same as carrying on.
//
// The tables are compiled once each, with an index over runs of address rules, in
// hosts-compile.ts.

import { diag, type Diagnostic } from '../../diagnostics.js';
import type { HostsRule, HostsTable } from './hosts-syntax.js';
import { processRuleOptions, type OptionChecks, type WrapOption } from './hosts-options.js';
import { dotQuad, isCSpace, parseIPv6, samePrefix } from './hosts-addr.js';
import {
  compiledTable,
  compileHost,
  field,
  fold,
  MAX_FILE_DEPTH,
  prefixKey,
  v6Key,
  type AddressRun,
  type ClientPattern,
  type CompiledRule,
  type DaemonPattern,
  type HostPattern,
  type PatternList,
  type StringPattern,
} from './hosts-compile.js';
import { present } from '../../util/invariant.js';

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
  readPatternFile?: (path: string) => PatternFile;
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
// Matching

class NeedSignal extends Error {
  constructor(readonly what: Need) {
    super(`the request needs ${what}`);
  }
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
  if (a !== null) return p.v4 !== null && (a & p.v4.mask) >>> 0 === p.v4.net;
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
    r.problems.push(diag('hosts-fault', 'warning', { file: path, line: 1, column: 1 }, `open ${path}: ${got.message}`));
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
  // Each enclosing level inverts its exception's answer.
  for (const [depth, segment] of list.entries()) {
    if (!segment.some(one)) return depth % 2 !== 0;
    if (depth === list.length - 1) return depth % 2 === 0;
  }
  return false; // an empty list
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
    for (let i = Math.max(0, from); i < ct.rules.length;) {
      const run = ct.runAt[i];
      if (run !== undefined) {
        for (const k of runCandidates(run, r.client, i)) {
          if (listMatch(present(ct.rules[k], 'a candidate inside the table').daemons, (d) => daemonMatch(d, r))) {
            return { kind: 'match', index: k, rule: present(table.rules[k], 'a rule for each compiled rule') };
          }
        }
        i = run.end;
        continue;
      }
      if (ruleMatches(present(ct.rules[i], 'i inside the table'), r))
        return { kind: 'match', index: i, rule: present(table.rules[i], 'a rule for each compiled rule') };
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
  const f = present(table.fault, 'a fault on a table whose scan ended in error');
  const text = f.reason === 'unreadable' ? f.message : `${f.message}: all the subsequent rules will be ignored`;
  return diag('hosts-fault', 'warning', { file: table.path, line: f.line, column: f.column }, text);
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
      r.problems.push(present(ro.error, 'the error of options that ended in error'));
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
