// Syntax tree → Services, with xinetd's semantics (parse.c, parsers.c, confparse.c of 2.3.15):
//
// - attributes are applied in order; a scalar keeps its first value ("attribute already set"),
//   `+=`/`-=` work only on lists, a wrong number of values makes the line ignored (a warning), a
//   value that cannot be parsed disables the service (an error);
// - `defaults`: one per file; there `=` on a list adds to it. When a service starts, it copies
//   the lists the defaults hold at that point (only_from, no_access, log_on_*, passenv, banners);
//   after the whole tree is read, unset scalars (instances, cps, per_source, umask, groups,
//   max_load, bind, v6only, log_type) and unset log_on_* come from the final defaults;
// - `disable = yes` ends the entry; `enabled` / `disabled` lists in defaults turn services off;
// - protocol follows from socket_type and back (stream/tcp, dgram/udp); the port comes from
//   `port` or from /etc/services; argv[0] is the basename of `server`, or with NAMEINARGS the
//   first word of server_args (in whatever order flags and server_args appear).
//
// Checks that need the whole service (required attributes, port mismatch, the server program,
// users...) are in src/validate.ts.

import { basename } from 'node:path';
import { checkAclWords } from './addresses.js';
import { attributeSpec, LOG_ON_FAILURE, LOG_ON_SUCCESS, SERVICE_FLAGS, SERVICE_TYPES, SOCKET_TYPES, suggestAttribute, type AttributeSpec } from './attributes.js';
import { diag, type Diagnostic } from './diagnostics.js';
import { newService } from './service-defaults.js';
import type { SysDb } from './sysdb.js';
import type { AttributeNode, DefaultsNode, Loc, ServiceNode, Word } from './syntax.js';
import type { Rlimits, Service, SocketType } from './table.js';
import * as V from './values.js';
import { serviceKind } from './service-kind.js';

/** Why the configuration itself turns a service off. */
export type OffReason =
  | { kind: 'disable'; at: Loc } // disable = yes
  | { kind: 'disabled-list'; at: Loc } // listed in defaults' `disabled`
  | { kind: 'not-enabled'; at: Loc } // defaults' `enabled` is set and does not list it
  | { kind: 'syntax' } // the entry is broken; xinetd drops it
  | { kind: 'error' }; // an error that makes xinetd drop it

export interface BuiltService {
  service: Service;
  node: ServiceNode;
  /** Attributes set by the entry itself (key → the line), not the ones inherited from defaults. */
  set: Map<string, AttributeNode>;
  /** Set when the configuration turns the service off; checks are skipped then. */
  off: OffReason | null;
  /** The port /etc/services lists for name/protocol, when it lists one. */
  listedPort: number | null;
  /** Whether the protocol was given or follows from socket_type (and socket_type likewise). */
  hasProtocol: boolean;
  /**
   * The protocol name as written ('TCP' for `protocol = TCP`), or the one socket_type implies:
   * xinetd looks /etc/services up with it (getservbyname, which compares names exactly).
   */
  protocolName: string;
  hasSocketType: boolean;
}

export interface BuildResult {
  services: BuiltService[];
  diagnostics: Diagnostic[];
  /** The final defaults (what inetd.conf services read with them take: inetd-defaults.ts). */
  defaults: XinetdDefaults;
}

export interface BuildEntry {
  node: ServiceNode | DefaultsNode;
  /** Which reading of a file the entry comes from (one `defaults` per reading). */
  unit: number;
}

/** A service or the defaults while its attributes are applied. */
interface Draft {
  svc: Service;
  isDefaults: boolean;
  set: Map<string, AttributeNode>;
  serverArgs: string[] | null;
  enabledList: Word[] | null;
  disabledList: Word[] | null;
  /** disable = yes */
  disable: AttributeNode | null;
  /**
   * The value error that made xinetd disable the service, until a later `disable = no` clears it
   * (xinetd's SC_DISABLE / SC_ENABLE act on one flag).
   */
  failed: AttributeNode | null;
  /** A `disable` line read while the service was disabled by an error: xinetd drops the entry. */
  dropped: boolean;
}

type Report = (d: Diagnostic) => void;

function at(w: Word | AttributeNode): { file: string; line: number; column: number } {
  return { file: w.loc.file, line: w.loc.line, column: w.loc.column };
}

function len(w: Word): number {
  return Math.max(1, w.text.length);
}

function newDraft(svc: Service, isDefaults: boolean): Draft {
  return { svc, isDefaults, set: new Map(), serverArgs: null, enabledList: null, disabledList: null, disable: null, failed: null, dropped: false };
}

/** Builds the services of a configuration tree. Pure apart from the system database lookups. */
export function buildServices(entries: readonly BuildEntry[], db: SysDb): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const report: Report = (d) => diagnostics.push(d);
  const defaults = newDraft(newService('defaults', 'xinetd', { file: '', line: 0 }), true);
  const unitsWithDefaults = new Map<number, DefaultsNode>();
  const drafts: { draft: Draft; node: ServiceNode; broken: boolean }[] = [];

  for (const { node, unit } of entries) {
    if (node.kind === 'defaults') {
      const first = unitsWithDefaults.get(unit);
      if (first !== undefined) {
        report(
          diag(
            'error',
            at(node.keyword),
            `only one 'defaults' entry is allowed per file (the first is on line ${first.loc.line}): this one is ignored, as xinetd does`,
            len(node.keyword),
          ),
        );
        continue;
      }
      for (const a of node.attributes) applyAttribute(defaults, a, db, report);
      // xinetd counts a defaults entry only when it parsed to its closing '}'.
      if (node.end.kind === 'close') unitsWithDefaults.set(unit, node);
      continue;
    }
    const svc = newService(node.name.text, 'xinetd', { file: node.keyword.loc.file, line: node.keyword.loc.line });
    const draft = newDraft(svc, false);
    inheritLists(draft, defaults);
    // A broken entry is dropped by xinetd, which still reports the attributes before the break.
    const broken = node.end.kind !== 'close';
    for (const a of node.attributes) {
      applyAttribute(draft, a, db, report);
      if (draft.disable !== null) break;
      // parse.c: after any `disable` line, a service that is disabled at that point is dropped.
      if (draft.failed !== null && a.name.text.toLowerCase() === 'disable') {
        draft.dropped = true;
        break;
      }
    }
    drafts.push({ draft, node, broken });
  }

  const services = drafts.map(({ draft, node, broken }) => finish(draft, node, broken, defaults, db, report));
  if (defaults.failed !== null) startNone(services);
  applyLists(services, defaults, report);
  return { services, diagnostics, defaults: { svc: defaults.svc, set: defaults.set } };
}

// ---- Inheritance -------------------------------------------------------------------------------

/** What a service copies from the defaults when its entry starts (xinetd's fill_attribute). */
function inheritLists(d: Draft, def: Draft): void {
  const s = d.svc;
  const ds = def.svc;
  if (def.set.has('log_on_success')) s.log_on_success = [...ds.log_on_success];
  if (def.set.has('log_on_failure')) s.log_on_failure = [...ds.log_on_failure];
  if (def.set.has('only_from')) s.only_from = ds.only_from === null ? [] : [...ds.only_from];
  if (def.set.has('no_access')) s.no_access = ds.no_access === null ? [] : [...ds.no_access];
  if (def.set.has('passenv')) s.passenv = ds.passenv === null ? [] : [...ds.passenv];
  if (def.set.has('banner')) s.banner = ds.banner;
  if (def.set.has('banner_success')) s.banner_success = ds.banner_success;
  if (def.set.has('banner_fail')) s.banner_fail = ds.banner_fail;
}

/** The final `defaults` of a configuration: its values, and which attributes it set. */
export interface XinetdDefaults {
  svc: Service;
  set: { has(key: string): boolean };
}

/** What a service takes from the final defaults when it did not set it (xinetd's service_fill). */
function inheritScalars(d: Draft, def: Draft): void {
  fillFromDefaults(d.svc, d.set, def);
}

/**
 * xinetd's service_fill: the attributes a service did not set itself (`own`) that it takes
 * from the final defaults. xinetd runs it for every service, those of /etc/inetd.conf
 * (-inetd_compat) included (see inetd-defaults.ts).
 */
export function fillFromDefaults(s: Service, own: { has(key: string): boolean }, def: XinetdDefaults): void {
  const ds = def.svc;
  const use = (key: string): boolean => !own.has(key) && def.set.has(key);
  if (use('instances')) s.instances = ds.instances;
  if (use('umask')) s.umask = ds.umask;
  if (use('per_source')) s.per_source = ds.per_source;
  if (use('groups')) s.groups = ds.groups;
  if (use('cps')) s.cps = [ds.cps[0], ds.cps[1]];
  if (use('max_load')) s.max_load = ds.max_load;
  if (use('bind')) s.bind = ds.bind;
  if (use('v6only')) s.v6only = ds.v6only;
  if (use('log_type')) s.log_type = ds.log_type === null ? null : { ...ds.log_type };
  if (use('log_on_success')) s.log_on_success = [...ds.log_on_success];
  if (use('log_on_failure')) s.log_on_failure = [...ds.log_on_failure];
  if (use('per_source_cps')) s.per_source_cps = ds.per_source_cps === null ? null : [ds.per_source_cps[0], ds.per_source_cps[1]];
}

// ---- Attributes --------------------------------------------------------------------------------

function applyAttribute(d: Draft, a: AttributeNode, db: SysDb, report: Report): void {
  const name = a.name.text;
  const spec = attributeSpec(name);
  const where = at(a.name);
  if (spec === undefined) {
    const hint = suggestAttribute(name);
    report(
      diag(
        'warning',
        where,
        `unknown attribute '${name}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}: ignored, as xinetd does ("bad service attribute")`,
        len(a.name),
      ),
    );
    return;
  }
  const arity = d.isDefaults ? spec.defaults : spec.service;
  if (arity === null) {
    report(
      diag(
        'warning',
        where,
        d.isDefaults
          ? `'${spec.name}' cannot be set in defaults (set it in each service): ignored, as xinetd does ("should not be in default section")`
          : `'${spec.name}' can only be set in defaults: ignored here, as xinetd does`,
        len(a.name),
      ),
    );
    return;
  }
  if (spec.undocumentedInXinetd === true) {
    report(diag('warning', where, `not supported by tsinetd: '${spec.name}' (service registration over multicast DNS) is ignored; xinetd 2.3.15 ignores it too`, len(a.name)));
    return;
  }
  let op = a.op.text;
  if (arity !== 'list') {
    const earlier = d.set.get(spec.key);
    if (earlier !== undefined) {
      report(diag('warning', where, `'${spec.key}' is already set on line ${earlier.loc.line}: this line is ignored (xinetd keeps the first value)`, len(a.name)));
      return;
    }
    if (op !== '=') {
      report(
        diag(
          'warning',
          at(a.op),
          `'${op}' works only on the list attributes (only_from, no_access, log_on_success, log_on_failure, passenv, env): this line is ignored, as xinetd does; use '='`,
          op.length,
        ),
      );
      return;
    }
  } else if (d.isDefaults && op === '=') {
    op = '+='; // xinetd: in defaults '=' adds to a list
  }
  if (typeof arity === 'number' && a.values.length !== arity) {
    const expects = `${arity} value${arity === 1 ? '' : 's'}`;
    report(
      diag(
        'warning',
        where,
        `'${spec.name}' expects ${expects}, found ${a.values.length}${V.commentHint(a.values)}: this line is ignored, as xinetd does`,
        len(a.name),
      ),
    );
    return;
  }
  if (arity === 'any' && a.values.length === 0) {
    fail(d, a, diag('error', where, `'${spec.name}' needs at least one value`, len(a.name)), report);
    return;
  }
  if (op === '-=' && spec.noMinus === true) {
    fail(d, a, diag('error', at(a.op), `'-=' cannot be used with '${spec.name}'`, 2), report);
    return;
  }
  const result = applyValue(d, spec, a, op, db);
  for (const w of result.warnings) report(w);
  if (result.error !== undefined) {
    fail(d, a, result.error, report);
    return;
  }
  if (!d.set.has(spec.key)) d.set.set(spec.key, a);
}

/**
 * A value error: xinetd disables the service. In defaults it exits ("A fatal error was
 * encountered while parsing the default section"), so no service of the file starts: the
 * defaults draft is marked failed and buildServices turns every service off.
 */
function fail(d: Draft, a: AttributeNode, error: Diagnostic, report: Report): void {
  const consequence = d.isDefaults
    ? `xinetd exits at an error in defaults ("A fatal error was encountered while parsing the default section"): tsinetd starts none of the services`
    : `service '${d.svc.name}' is disabled, as xinetd does`;
  report({ ...error, message: `${error.message}; ${consequence}` });
  d.failed = a;
}

interface Applied {
  error?: Diagnostic;
  warnings: Diagnostic[];
}

const done = (warnings: Diagnostic[] = []): Applied => ({ warnings });

/** Runs a value parser and stores its result with `store` (on an error, what xinetd had stored). */
function take<T>(r: V.Parsed<T>, store: (v: T) => void): Applied {
  if (!r.ok) {
    if (r.partial !== undefined) store(r.partial);
    return { error: r.error, warnings: r.warnings };
  }
  store(r.value);
  return done(r.warnings);
}

/** `=` replaces, `+=` adds (without duplicates), `-=` removes (names compared without case). */
function modify(current: readonly string[] | null, op: string, values: readonly string[], foldCase = true): string[] {
  const key = (s: string): string => (foldCase ? s.toLowerCase() : s);
  if (op === '-=') {
    const gone = new Set(values.map(key));
    return (current ?? []).filter((v) => !gone.has(key(v)));
  }
  const base = op === '=' ? [] : [...(current ?? [])];
  for (const v of values) if (!base.some((b) => key(b) === key(v))) base.push(v);
  return base;
}

function applyValue(d: Draft, spec: AttributeSpec, a: AttributeNode, op: string, db: SysDb): Applied {
  const s = d.svc;
  const w = a.values;
  const one = w[0]!;
  switch (spec.key) {
    case 'id':
      s.id = one.text;
      return done();
    case 'type':
      return take(V.enumList(w, SERVICE_TYPES, 'type', 'service type'), (v) => (s.type = v));
    case 'flags':
      return take(V.enumList(w, SERVICE_FLAGS, 'flags', 'flag'), (v) => (s.flags = v));
    case 'disable': {
      const r = V.yesNo(one, 'disable');
      if (!r.ok || r.value) return take(r, () => (d.disable = a));
      const cleared = d.failed;
      d.failed = null;
      if (cleared === null) return done();
      return done([
        diag(
          'warning',
          at(a.name),
          `'disable = no' re-enables service '${d.svc.name}' after the error on line ${cleared.loc.line}, as xinetd does (an error disables a service ` +
            `only until a later 'disable = no'): ${
              typeof attributeSpec(cleared.name.text)?.service === 'number'
                ? `it runs without that line's '${cleared.name.text}'`
                : `of that line's '${cleared.name.text}', only the values before the bad one apply`
            }`,
          len(a.name),
        ),
      ]);
    }
    case 'socket_type':
      return take(V.enumList([one], SOCKET_TYPES, 'socket_type', 'socket type'), (v) => (s.socket_type = v[0] as SocketType));
    case 'protocol': {
      const number = db.protocolNumber(one.text);
      if (number === undefined) {
        return { error: diag('error', at(one), `bad value for 'protocol': '${one.text}' is not in /etc/protocols`, len(one)), warnings: [] };
      }
      s.protocol = number === 6 ? 'tcp' : number === 17 ? 'udp' : one.text;
      return done();
    }
    case 'wait':
      return take(V.yesNo(one, 'wait'), (v) => (s.wait = v));
    case 'user':
      s.user = one.text;
      return done();
    case 'group':
      s.group = one.text;
      return done();
    case 'groups':
      return take(V.yesNo(one, 'groups'), (v) => (s.groups = v));
    case 'instances':
      return take(V.numberWord('instances', one), (v) => (s.instances = v));
    case 'per_source':
      return take(V.numberWord('per_source', one), (v) => (s.per_source = v));
    case 'nice':
      return take(V.numberWord('nice', one), (v) => (s.nice = v));
    case 'server':
      s.server = one.text;
      return done();
    case 'server_args': {
      d.serverArgs = w.map((x) => x.text);
      const hash = w.find((x) => x.text.startsWith('#'));
      if (hash === undefined) return done();
      const rest = w.slice(w.indexOf(hash)).map((x) => x.text);
      return done([
        diag(
          'warning',
          at(hash),
          `'#' starts a comment only at the beginning of a line: the server gets ${rest.map((x) => `'${x}'`).join(' ')} as arguments (as with xinetd)`,
          rest.join(' ').length,
        ),
      ]);
    }
    case 'libwrap':
      s.libwrap = one.text;
      return done();
    case 'only_from':
    case 'no_access': {
      // On a fatal word xinetd keeps the addresses it had read before it (parse_inet_addresses).
      const r = checkAclWords(w, spec.key);
      const list = modify(spec.key === 'only_from' ? s.only_from : s.no_access, op, r.entries);
      if (spec.key === 'only_from') s.only_from = list;
      else s.no_access = list;
      return r.fatal !== null ? { error: r.fatal, warnings: r.diagnostics } : done(r.diagnostics);
    }
    case 'access_times':
      return take(V.accessTimes(w), (v) => (s.access_times = v));
    case 'log_type':
      if (w.length === 0) return { error: diag('error', at(a.name), "'log_type' needs at least one value", len(a.name)), warnings: [] };
      return take(V.logType(w), (v) => (s.log_type = v));
    case 'log_on_success':
    case 'log_on_failure': {
      const choices = spec.key === 'log_on_success' ? LOG_ON_SUCCESS : LOG_ON_FAILURE;
      if (w.length === 0) {
        if (op === '=') {
          if (spec.key === 'log_on_success') s.log_on_success = [];
          else s.log_on_failure = [];
        }
        return done();
      }
      return take(V.enumList(w, choices, spec.key, `${spec.key} value`), (v) => {
        if (spec.key === 'log_on_success') s.log_on_success = modify(s.log_on_success, op, v);
        else s.log_on_failure = modify(s.log_on_failure, op, v);
      });
    }
    case 'rpc_version':
      return take(V.numberWord('rpc_version', one), (v) => (s.rpc_version = v));
    case 'rpc_number':
      return take(V.numberWord('rpc_number', one), (v) => (s.rpc_number = v));
    case 'env':
      return take(V.envEntries(w), (v) => (s.env = op === '=' ? [...v] : [...s.env, ...v]));
    case 'passenv':
      s.passenv = modify(s.passenv, op, w.map((x) => x.text), false);
      return done();
    case 'port':
      return take(V.numberWord('port', one), (v) => (s.port = v));
    case 'redirect':
      return take(V.redirect(w, db), (v) => (s.redirect = v));
    case 'bind':
      return take(V.single('HostAddress', one, spec.name), () => (s.bind = one.text));
    case 'banner':
      s.banner = one.text;
      return done();
    case 'banner_success':
      s.banner_success = one.text;
      return done();
    case 'banner_fail':
      s.banner_fail = one.text;
      return done();
    case 'cps':
      return take(V.cps(w), (v) => (s.cps = v));
    case 'per_source_cps':
      return take(V.perSourceCps(w), (v) => (s.per_source_cps = v));
    case 'max_load':
      return take(V.maxLoad(one), (v) => (s.max_load = v));
    case 'umask':
      return take(V.numberWord('umask', one), (v) => (s.umask = v));
    case 'v6only':
      return take(V.yesNo(one, 'v6only'), (v) => (s.v6only = v));
    case 'deny_time':
      return take(V.numberWord('deny_time', one), (v) => (s.deny_time = v));
    case 'rlimit_as':
    case 'rlimit_data':
    case 'rlimit_rss':
    case 'rlimit_stack':
    case 'rlimit_files':
    case 'rlimit_cpu': {
      const which = spec.key.slice('rlimit_'.length) as keyof Rlimits;
      return take(V.numberWord(spec.key as `rlimit_${keyof Rlimits}`, one), (v) => (s.rlimits[which] = v));
    }
    case 'enabled':
    case 'disabled': {
      const warnings =
        op === '-='
          ? [diag('warning', at(a.op), `xinetd ignores '-=' on '${spec.key}' and adds these ids to the list; tsinetd does the same`, 2)]
          : [];
      if (spec.key === 'enabled') d.enabledList = [...(d.enabledList ?? []), ...w];
      else d.disabledList = [...(d.disabledList ?? []), ...w];
      if (spec.key === 'enabled' && w.length === 0 && (d.enabledList ?? []).length === 0) {
        warnings.push(diag('warning', at(a.name), "'enabled' is set but lists no service: xinetd then disables every service, and so does tsinetd", len(a.name)));
      }
      return done(warnings);
    }
    default:
      return done();
  }
}

// ---- Completing a service ------------------------------------------------------------------------

function finish(d: Draft, node: ServiceNode, broken: boolean, def: Draft, db: SysDb, report: Report): BuiltService {
  const s = d.svc;
  let off: OffReason | null = null;
  if (broken) off = { kind: 'syntax' };
  else if (d.disable !== null) off = { kind: 'disable', at: d.disable.loc };
  else if (d.failed !== null || d.dropped) off = { kind: 'error' };

  inheritScalars(d, def);

  // Protocol and socket type imply each other (stream/tcp, dgram/udp).
  let hasProtocol = d.set.has('protocol');
  let hasSocketType = d.set.has('socket_type');
  if (!hasProtocol && hasSocketType && (s.socket_type === 'stream' || s.socket_type === 'dgram')) {
    s.protocol = s.socket_type === 'stream' ? 'tcp' : 'udp';
    hasProtocol = true;
  } else if (hasProtocol && !hasSocketType && (s.protocol === 'tcp' || s.protocol === 'udp')) {
    s.socket_type = s.protocol === 'tcp' ? 'stream' : 'dgram';
    hasSocketType = true;
  }

  const kind = serviceKind(s);
  const quiet = off !== null;
  if (kind === 'redirect') {
    if (d.set.has('server') && !quiet) {
      const a = d.set.get('server')!;
      report(diag('warning', at(a.name), `'server' is not used: 'redirect' (line ${d.set.get('redirect')!.loc.line}) takes priority, as in xinetd`, len(a.name)));
    }
    s.server = null;
    s.server_argv = [];
  } else if (kind === 'internal' || kind === 'sensor') {
    if (d.set.has('server') && !quiet) {
      const a = d.set.get('server')!;
      report(diag('warning', at(a.name), `'server' is not used by an internal service (xinetd does not run it either, but disables the service when it is not executable)`, len(a.name)));
    }
    s.server = null;
    s.server_argv = [];
  } else if (s.server !== null) {
    s.server_argv = s.flags.includes('NAMEINARGS') ? [...(d.serverArgs ?? [])] : [basename(s.server), ...(d.serverArgs ?? [])];
  }

  // The port: given, or the one /etc/services lists for the name and protocol.
  const rpc = s.type.includes('RPC');
  const mux = s.type.includes('TCPMUX') || s.type.includes('TCPMUXPLUS');
  const protocolName = d.set.get('protocol')?.values[0]?.text ?? s.protocol;
  const listed = !rpc && hasProtocol ? db.serviceByName(s.name, protocolName) : undefined;
  const listedPort = listed === undefined ? null : listed.port;
  if (!d.set.has('port')) s.port = rpc || mux || s.type.includes('UNLISTED') ? null : listedPort;

  s.enabled = off === null;
  return { service: s, node, set: d.set, off, listedPort, hasProtocol, hasSocketType, protocolName };
}

/** Turns every service off: xinetd would start none of them (it exits, or crashes, on reading them). */
export function startNone(services: readonly BuiltService[]): void {
  for (const b of services) {
    b.off ??= { kind: 'error' };
    b.service.enabled = false;
  }
}

/** defaults' `enabled` and `disabled` lists (ids compared without regard to case, as xinetd does). */
function applyLists(services: BuiltService[], def: Draft, report: Report): void {
  const known = new Set(services.map((b) => b.service.id.toLowerCase()));
  const enabledAt = def.set.get('enabled');
  if (def.enabledList !== null && enabledAt !== undefined) {
    const ids = new Map(def.enabledList.map((w) => [w.text.toLowerCase(), w]));
    for (const b of services) {
      if (b.off === null && !ids.has(b.service.id.toLowerCase())) {
        b.off = { kind: 'not-enabled', at: enabledAt.loc };
        b.service.enabled = false;
      }
    }
    for (const [id, w] of ids) if (!known.has(id)) report(unknownIdWarning('enabled', w));
  }
  const disabledAt = def.set.get('disabled');
  if (def.disabledList !== null && disabledAt !== undefined) {
    const ids = new Map(def.disabledList.map((w) => [w.text.toLowerCase(), w]));
    for (const b of services) {
      if (b.off === null && ids.has(b.service.id.toLowerCase())) {
        b.off = { kind: 'disabled-list', at: disabledAt.loc };
        b.service.enabled = false;
      }
    }
    for (const [id, w] of ids) if (!known.has(id)) report(unknownIdWarning('disabled', w));
  }
}

function unknownIdWarning(list: string, w: Word): Diagnostic {
  return diag('warning', at(w), `'${list}' names '${w.text}', but no service has that id (ids, not service names, go in this list)`, len(w));
}
