// The --convert writers of the attribute table (src/config/xinetd/attributes.ts): one small function per
// attribute, which puts the attribute's line for a Service into an xinetd.conf block. The block,
// the order of its lines (each row's write order) and what no attribute can carry are
// src/convert/xinetd-writer.ts's.

import type { RlimitValue, Rlimits, Service, TimeInterval } from '../../table.js';
import { present } from '../../util/invariant.js';

/** What a writer writes with, and what the block has decided about the Service. */
export interface WriteContext {
  /** Adds `attr = words...`, or reports `field` as lost when a word cannot be written. */
  put(attr: string, words: readonly string[], field: keyof Service): void;
  /** A comment line in the block. */
  note(text: string): void;
  /** Whether a word the Service needs could not be written so far (the block is then written off). */
  lostAnError(): boolean;
  /** xinetd needs `type = UNLISTED` to run the Service on its port. */
  unlisted: boolean;
  /** The Service starts a program (neither internal nor redirected). */
  runsProgram: boolean;
  /** The block sets NAMEINARGS: server_args then holds argv[0] too. */
  nameInArgs: boolean;
}

/** Writes the line(s) of the attribute `name` for `s`, or nothing when the Service does not set it. */
export type Writer = (s: Service, w: WriteContext, name: string) => void;

function limit(n: number | null): string {
  return n === null ? 'UNLIMITED' : String(n);
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function clock(minutes: number): string {
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
}

function interval(t: TimeInterval): string {
  return `${clock(t.start)}-${clock(t.end)}`;
}

/** A text field of the same name, when set. */
const text =
  (field: 'user' | 'group' | 'bind' | 'banner' | 'banner_success' | 'banner_fail' | 'libwrap'): Writer =>
  (s, w) => {
    const v = s[field];
    if (v !== null) w.put(field, [v], field);
  };

/** A list field of the same name: when set (null = unset), or when not empty. */
const list =
  (field: 'only_from' | 'no_access' | 'passenv' | 'log_on_success' | 'log_on_failure' | 'env', whenEmpty: boolean): Writer =>
  (s, w) => {
    const v = s[field];
    if (v !== null && (whenEmpty || v.length > 0)) w.put(field, v, field);
  };

export const user = text('user');
export const group = text('group');
export const bind = text('bind');
export const banner = text('banner');
export const bannerSuccess = text('banner_success');
export const bannerFail = text('banner_fail');
export const libwrap = text('libwrap');
export const onlyFrom = list('only_from', true);
export const noAccess = list('no_access', true);
export const passenv = list('passenv', true);
export const logOnSuccess = list('log_on_success', false);
export const logOnFailure = list('log_on_failure', false);
export const env = list('env', false);

export const id: Writer = (s, w) => {
  if (s.id !== s.name) w.put('id', [s.id], 'id');
};

export const type: Writer = (s, w) => {
  const types = [...s.type];
  if (w.unlisted) types.push('UNLISTED');
  if (types.length > 0) w.put('type', types, 'type');
};

/** flags, with NAMEINARGS first when the block needs it and only then. */
export const flags: Writer = (s, w) => {
  const out = s.flags.filter((f) => f !== 'NAMEINARGS' || w.nameInArgs);
  if (w.nameInArgs && !out.includes('NAMEINARGS')) out.unshift('NAMEINARGS');
  if (out.length > 0) w.put('flags', out, 'flags');
};

export const socketType: Writer = (s, w) => w.put('socket_type', [s.socket_type], 'socket_type');
export const protocol: Writer = (s, w) => w.put('protocol', [s.protocol], 'protocol');
export const wait: Writer = (s, w) => w.put('wait', [yesNo(s.wait)], 'wait');
export const groups: Writer = (s, w) => w.put('groups', [yesNo(s.groups)], 'groups');

// Limits a `defaults` section could change are always written, so the block stands alone.
export const instances: Writer = (s, w) => w.put('instances', [limit(s.instances)], 'instances');
export const perSource: Writer = (s, w) => w.put('per_source', [limit(s.per_source)], 'per_source');
export const cps: Writer = (s, w) => w.put('cps', [String(s.cps[0]), String(s.cps[1])], 'cps');

/** A number field of the same name, when set. */
const number =
  (field: 'port' | 'max_load' | 'nice' | 'rpc_number' | 'deny_time'): Writer =>
  (s, w) => {
    const v = s[field];
    if (v !== null) w.put(field, [String(v)], field);
  };

export const port = number('port');
export const maxLoad = number('max_load');
export const nice = number('nice');
export const rpcNumber = number('rpc_number');
export const denyTime = number('deny_time');

export const server: Writer = (s, w) => {
  if (w.runsProgram) w.put('server', [present(s.server, 'a server on a service that starts a program')], 'server');
};

/** server_args: argv after argv[0], or all of argv with NAMEINARGS. */
export const serverArgs: Writer = (s, w) => {
  if (!w.runsProgram) return;
  const args = w.nameInArgs ? s.server_argv : s.server_argv.slice(1);
  if (args.length > 0) w.put('server_args', args, 'server_argv');
};

export const redirect: Writer = (s, w) => {
  if (s.redirect !== null) w.put('redirect', [s.redirect.host, String(s.redirect.port)], 'redirect');
};

export const v6only: Writer = (s, w) => {
  if (s.family_sockets) {
    // xinetd has one socket per service: the dual-stack one serves both families.
    w.note('inetd opened an IPv4 and an IPv6 socket; xinetd opens one dual-stack socket, where an IPv4 client is an IPv4-mapped IPv6 peer');
    w.put('v6only', ['no'], 'v6only');
  } else if (s.v6only !== null) w.put('v6only', [yesNo(s.v6only)], 'v6only');
};

export const perSourceCps: Writer = (s, w) => {
  if (s.per_source_cps !== null) w.put('per_source_cps', [String(s.per_source_cps[0]), String(s.per_source_cps[1])], 'per_source_cps');
};

export const accessTimes: Writer = (s, w) => {
  if (s.access_times.length > 0) w.put('access_times', s.access_times.map(interval), 'access_times');
};

export const logType: Writer = (s, w) => {
  const t = s.log_type;
  if (t === null) return;
  if (t.kind === 'syslog') w.put('log_type', ['SYSLOG', t.facility, t.level], 'log_type');
  else {
    const sizes = t.soft === null ? [] : t.hard === null ? [String(t.soft)] : [String(t.soft), String(t.hard)];
    w.put('log_type', ['FILE', t.path, ...sizes], 'log_type');
  }
};

export const umask: Writer = (s, w) => {
  if (s.umask !== null) w.put('umask', [s.umask.toString(8).padStart(3, '0')], 'umask');
};

function rlimitWord(v: RlimitValue): string {
  return v === 'unlimited' ? 'UNLIMITED' : String(v);
}

/** rlimit_as, rlimit_cpu...: the limit of the resource the name ends with. */
export const rlimit: Writer = (s, w, name) => {
  const v = s.rlimits[name.slice('rlimit_'.length) as keyof Rlimits];
  if (v !== undefined) w.put(name, [rlimitWord(v)], 'rlimits');
};

export const rpcVersion: Writer = (s, w) => {
  if (s.rpc_version === null) return;
  const [lo, hi] = s.rpc_version;
  w.put('rpc_version', [lo === hi ? String(lo) : `${lo}-${hi}`], 'rpc_version');
};

/**
 * `disable = yes` for a Service that is off, or whose block would run something else than the
 * Service (a lost word). xinetd stops reading an entry at `disable = yes`: it is written last.
 */
export const disable: Writer = (s, w) => {
  const wrong = w.lostAnError();
  if (wrong && s.enabled) w.note('written with disable = yes: a value it needs cannot be written (see above)');
  if (!s.enabled || wrong) w.put('disable', ['yes'], 'enabled');
};
