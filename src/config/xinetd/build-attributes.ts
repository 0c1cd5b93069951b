// One attribute line applied to a service or to the defaults, as xinetd's parsers.c does:
// a scalar keeps its first value, `+=`/`-=` work only on lists, a wrong number of values
// makes the line ignored (a warning), a value that cannot be parsed disables the service (an
// error). The draft is what build.ts completes into a Service.

import { checkAclWords } from '../../admission/addresses.js';
import {
  attributeSpec,
  LOG_ON_FAILURE,
  LOG_ON_SUCCESS,
  SERVICE_FLAGS,
  SERVICE_TYPES,
  SOCKET_TYPES,
  suggestAttribute,
  type AttributeSpec,
} from './attributes.js';
import { diag, type Diagnostic } from '../../diagnostics.js';
import type { AttributeNode, Word } from './syntax.js';
import type { SysDb } from '../../sys/sysdb.js';
import type { Rlimits, Service, SocketType } from '../../table.js';
import * as V from './values.js';

/** A service or the defaults while its attributes are applied. */
export interface Draft {
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

export type Report = (d: Diagnostic) => void;

export function at(w: Word | AttributeNode): { file: string; line: number; column: number } {
  return { file: w.loc.file, line: w.loc.line, column: w.loc.column };
}

export function len(w: Word): number {
  return Math.max(1, w.text.length);
}

export function newDraft(svc: Service, isDefaults: boolean): Draft {
  return { svc, isDefaults, set: new Map(), serverArgs: null, enabledList: null, disabledList: null, disable: null, failed: null, dropped: false };
}

// ---- Attributes --------------------------------------------------------------------------------

export function applyAttribute(d: Draft, a: AttributeNode, db: SysDb, report: Report): void {
  const name = a.name.text;
  const spec = attributeSpec(name);
  const where = at(a.name);
  if (spec === undefined) {
    const hint = suggestAttribute(name);
    report(
      diag(
        'unknown-attribute',
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
        'misplaced-attribute',
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
    report(
      diag(
        'unsupported-attribute',
        'warning',
        where,
        `not supported by tsinetd: '${spec.name}' (service registration over multicast DNS) is ignored; xinetd 2.3.15 ignores it too`,
        len(a.name),
      ),
    );
    return;
  }
  let op = a.op.text;
  if (arity !== 'list') {
    const earlier = d.set.get(spec.key);
    if (earlier !== undefined) {
      report(
        diag(
          'duplicate-attribute',
          'warning',
          where,
          `'${spec.key}' is already set on line ${earlier.loc.line}: this line is ignored (xinetd keeps the first value)`,
          len(a.name),
        ),
      );
      return;
    }
    if (op !== '=') {
      report(
        diag(
          'operator-on-scalar',
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
        'value-count',
        'warning',
        where,
        `'${spec.name}' expects ${expects}, found ${a.values.length}${V.commentHint(a.values)}: this line is ignored, as xinetd does`,
        len(a.name),
      ),
    );
    return;
  }
  if (arity === 'any' && a.values.length === 0) {
    fail(d, a, diag('missing-value', 'error', where, `'${spec.name}' needs at least one value`, len(a.name)), report);
    return;
  }
  if (op === '-=' && spec.noMinus === true) {
    fail(d, a, diag('bad-operator', 'error', at(a.op), `'-=' cannot be used with '${spec.name}'`, 2), report);
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
export function take<T>(r: V.Parsed<T>, store: (v: T) => void): Applied {
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
          're-enabled',
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
        return { error: diag('bad-value', 'error', at(one), `bad value for 'protocol': '${one.text}' is not in /etc/protocols`, len(one)), warnings: [] };
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
          'comment-inside-value',
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
      if (w.length === 0) return { error: diag('missing-value', 'error', at(a.name), "'log_type' needs at least one value", len(a.name)), warnings: [] };
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
      s.passenv = modify(
        s.passenv,
        op,
        w.map((x) => x.text),
        false,
      );
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
          ? [diag('operator-ignored', 'warning', at(a.op), `xinetd ignores '-=' on '${spec.key}' and adds these ids to the list; tsinetd does the same`, 2)]
          : [];
      if (spec.key === 'enabled') d.enabledList = [...(d.enabledList ?? []), ...w];
      else d.disabledList = [...(d.disabledList ?? []), ...w];
      if (spec.key === 'enabled' && w.length === 0 && (d.enabledList ?? []).length === 0) {
        warnings.push(
          diag(
            'enables-nothing',
            'warning',
            at(a.name),
            "'enabled' is set but lists no service: xinetd then disables every service, and so does tsinetd",
            len(a.name),
          ),
        );
      }
      return done(warnings);
    }
    default:
      return done();
  }
}
