// The value appliers of the attribute table (src/config/xinetd/attributes.ts): one small function per
// attribute, which reads the words of one line, as xinetd's parsers.c does, into the service or
// defaults being built. Whether the line may be applied at all (placement, operator, value
// count, a scalar already set) is decided before, in src/config/xinetd/build-attributes.ts; what a value error
// does to the service (xinetd disables it) is decided there too. An applier only reads values
// and stores them.

import { checkAclWords } from '../../admission/addresses.js';
import { LOG_ON_FAILURE, LOG_ON_SUCCESS, SERVICE_FLAGS, SERVICE_TYPES, SOCKET_TYPES } from './attribute-words.js';
import { diag, type Diagnostic } from '../../diagnostics.js';
import type { NumericAttribute } from './numbers.js';
import type { AttributeNode, Word } from './syntax.js';
import type { SysDb } from '../../sys/sysdb.js';
import type { Rlimits, Service, SocketType } from '../../table.js';
import * as V from './values.js';
import { present } from '../../util/invariant.js';

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

export function newDraft(svc: Service, isDefaults: boolean): Draft {
  return { svc, isDefaults, set: new Map(), serverArgs: null, enabledList: null, disabledList: null, disable: null, failed: null, dropped: false };
}

export function at(w: Word | AttributeNode): { file: string; line: number; column: number } {
  return { file: w.loc.file, line: w.loc.line, column: w.loc.column };
}

export function len(w: Word): number {
  return Math.max(1, w.text.length);
}

/** One line to apply, once build-attributes.ts has accepted it. */
export interface ApplyInput {
  d: Draft;
  a: AttributeNode;
  /** The attribute's canonical name and the key it sets (`interface` sets `bind`). */
  name: string;
  key: string;
  /** The operator in force (`=` on a list in defaults already reads as `+=`). */
  op: string;
  db: SysDb;
  /** Whether the attribute spelled `name` takes a fixed number of values in a service. */
  scalar(name: string): boolean;
}

/** What applying a line gave: the value error that disables the service, and warnings. */
export interface Applied {
  error?: Diagnostic;
  warnings: Diagnostic[];
}

export type Applier = (x: ApplyInput) => Applied;

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

const first = (x: ApplyInput): Word => present(x.a.values[0], 'a value: the arity check let through a line with one');

/** A word kept as written, in the Service field `field`. */
const word =
  (field: 'id' | 'user' | 'group' | 'server' | 'libwrap' | 'banner' | 'banner_success' | 'banner_fail'): Applier =>
  (x) => {
    x.d.svc[field] = first(x).text;
    return done();
  };

/** yes / no, in the Service field of the same name. */
const yesNo =
  (field: 'wait' | 'groups' | 'v6only'): Applier =>
  (x) =>
    take(V.yesNo(first(x), field), (v) => (x.d.svc[field] = v));

export const id = word('id');
export const user = word('user');
export const group = word('group');
export const server = word('server');
export const libwrap = word('libwrap');
export const banner = word('banner');
export const bannerSuccess = word('banner_success');
export const bannerFail = word('banner_fail');

// Numbers, read as xinetd reads each one (src/config/xinetd/numbers.ts).
export const instances: Applier = (x) => take(V.numberWord('instances', first(x)), (v) => (x.d.svc.instances = v));
export const perSource: Applier = (x) => take(V.numberWord('per_source', first(x)), (v) => (x.d.svc.per_source = v));
export const nice: Applier = (x) => take(V.numberWord('nice', first(x)), (v) => (x.d.svc.nice = v));
export const rpcVersion: Applier = (x) => take(V.numberWord('rpc_version', first(x)), (v) => (x.d.svc.rpc_version = v));
export const rpcNumber: Applier = (x) => take(V.numberWord('rpc_number', first(x)), (v) => (x.d.svc.rpc_number = v));
export const port: Applier = (x) => take(V.numberWord('port', first(x)), (v) => (x.d.svc.port = v));
export const umask: Applier = (x) => take(V.numberWord('umask', first(x)), (v) => (x.d.svc.umask = v));
export const denyTime: Applier = (x) => take(V.numberWord('deny_time', first(x)), (v) => (x.d.svc.deny_time = v));
export const maxLoad: Applier = (x) => take(V.maxLoad(first(x)), (v) => (x.d.svc.max_load = v));
export const wait = yesNo('wait');
export const groups = yesNo('groups');
export const v6only = yesNo('v6only');

export const type: Applier = (x) => take(V.enumList(x.a.values, SERVICE_TYPES, 'type', 'service type'), (v) => (x.d.svc.type = v));

export const flags: Applier = (x) => take(V.enumList(x.a.values, SERVICE_FLAGS, 'flags', 'flag'), (v) => (x.d.svc.flags = v));

export const socketType: Applier = (x) =>
  take(V.enumList([first(x)], SOCKET_TYPES, 'socket_type', 'socket type'), (v) => (x.d.svc.socket_type = v[0] as SocketType));

/** disable = yes ends the entry (build.ts); `no` clears an earlier value error, as xinetd's SC_ENABLE does. */
export const disable: Applier = (x) => {
  const { d, a } = x;
  const r = V.yesNo(first(x), 'disable');
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
          x.scalar(cleared.name.text)
            ? `it runs without that line's '${cleared.name.text}'`
            : `of that line's '${cleared.name.text}', only the values before the bad one apply`
        }`,
      len(a.name),
    ),
  ]);
};

/** A name of /etc/protocols; tcp and udp by their numbers, whatever their spelling. */
export const protocol: Applier = (x) => {
  const one = first(x);
  const n = x.db.protocolNumber(one.text);
  if (n === undefined) {
    return { error: diag('bad-value', 'error', at(one), `bad value for 'protocol': '${one.text}' is not in /etc/protocols`, len(one)), warnings: [] };
  }
  x.d.svc.protocol = n === 6 ? 'tcp' : n === 17 ? 'udp' : one.text;
  return done();
};

/** The words as they are; argv is made of them when the service is complete (build.ts). */
export const serverArgs: Applier = (x) => {
  const w = x.a.values;
  x.d.serverArgs = w.map((v) => v.text);
  const hash = w.find((v) => v.text.startsWith('#'));
  if (hash === undefined) return done();
  const rest = w.slice(w.indexOf(hash)).map((v) => v.text);
  return done([
    diag(
      'comment-inside-value',
      'warning',
      at(hash),
      `'#' starts a comment only at the beginning of a line: the server gets ${rest.map((v) => `'${v}'`).join(' ')} as arguments (as with xinetd)`,
      rest.join(' ').length,
    ),
  ]);
};

/** only_from / no_access: on a fatal word xinetd keeps the addresses it read before it (parse_inet_addresses). */
const addressList =
  (field: 'only_from' | 'no_access'): Applier =>
  (x) => {
    const s = x.d.svc;
    const r = checkAclWords(x.a.values, field);
    s[field] = modify(s[field], x.op, r.entries);
    return r.fatal !== null ? { error: r.fatal, warnings: r.diagnostics } : done(r.diagnostics);
  };

export const onlyFrom = addressList('only_from');
export const noAccess = addressList('no_access');

export const accessTimes: Applier = (x) => take(V.accessTimes(x.a.values), (v) => (x.d.svc.access_times = v));

export const logType: Applier = (x) => {
  if (x.a.values.length === 0)
    return { error: diag('missing-value', 'error', at(x.a.name), "'log_type' needs at least one value", len(x.a.name)), warnings: [] };
  return take(V.logType(x.a.values), (v) => (x.d.svc.log_type = v));
};

/** log_on_success / log_on_failure: `=` with no value empties the list. */
const logFlags =
  (field: 'log_on_success' | 'log_on_failure', choices: readonly string[]): Applier =>
  (x) => {
    const s = x.d.svc;
    if (x.a.values.length === 0) {
      if (x.op === '=') s[field] = [];
      return done();
    }
    return take(V.enumList(x.a.values, choices, field, `${field} value`), (v) => (s[field] = modify(s[field], x.op, v)));
  };

export const logOnSuccess = logFlags('log_on_success', LOG_ON_SUCCESS);
export const logOnFailure = logFlags('log_on_failure', LOG_ON_FAILURE);

/** env: `=` replaces, `+=` appends (xinetd refuses `-=`). */
export const env: Applier = (x) => take(V.envEntries(x.a.values), (v) => (x.d.svc.env = x.op === '=' ? [...v] : [...x.d.svc.env, ...v]));

/** passenv: names compared with case, as the environment does. */
export const passenv: Applier = (x) => {
  x.d.svc.passenv = modify(
    x.d.svc.passenv,
    x.op,
    x.a.values.map((v) => v.text),
    false,
  );
  return done();
};

export const redirect: Applier = (x) => take(V.redirect(x.a.values, x.db), (v) => (x.d.svc.redirect = v));

/** bind, and interface (which sets bind): a host address, kept as written. */
export const bind: Applier = (x) => take(V.single('HostAddress', first(x), x.name), () => (x.d.svc.bind = first(x).text));

export const cps: Applier = (x) => take(V.cps(x.a.values), (v) => (x.d.svc.cps = v));

export const perSourceCps: Applier = (x) => take(V.perSourceCps(x.a.values), (v) => (x.d.svc.per_source_cps = v));

/** rlimit_as, rlimit_cpu...: one resource limit each. */
export const rlimit: Applier = (x) => {
  const which = x.key.slice('rlimit_'.length) as keyof Rlimits;
  return take(V.numberWord(x.key as NumericAttribute & `rlimit_${keyof Rlimits}`, first(x)), (v) => (x.d.svc.rlimits[which] = v));
};

/** defaults' enabled / disabled: ids collected for build.ts applyLists (xinetd adds on `-=` too). */
const idList =
  (list: 'enabledList' | 'disabledList', name: string): Applier =>
  (x) => {
    const { d, a } = x;
    const warnings =
      x.op === '-='
        ? [diag('operator-ignored', 'warning', at(a.op), `xinetd ignores '-=' on '${name}' and adds these ids to the list; tsinetd does the same`, 2)]
        : [];
    d[list] = [...(d[list] ?? []), ...a.values];
    if (list === 'enabledList' && a.values.length === 0 && (d.enabledList ?? []).length === 0) {
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
  };

export const enabled = idList('enabledList', 'enabled');
export const disabled = idList('disabledList', 'disabled');
