// Service → xinetd.conf(5) text: one `service NAME { ... }` block that the xinetd loader (and
// real xinetd) reads back into the same Service. Used by `tsinetd --convert` (src/convert/convert.ts).
//
// The block is self-contained for the limits a `defaults` section could otherwise change:
// instances, per_source, cps and groups are always written (UNLIMITED, `0 0`, `no` included).
// Logging, access lists, umask, max_load, bind and v6only are written only when the Service sets
// them, so a block without them takes those from the defaults of the xinetd.conf it is read under.
//
// Attributes come in one canonical order. `flags` comes before `server_args` because real xinetd
// honours NAMEINARGS only when it reads the flag first. NAMEINARGS is written when the Service
// has it or when argv[0] is not the server's base name (xinetd's own argv[0]); server_args then
// holds argv[0] too. `type = UNLISTED` is added when /etc/services does not give the service's
// name and protocol that port; `port` is always written when the service has one.
//
// What xinetd cannot say (an inetd per-minute rate, FreeBSD's per-source per-minute limit and
// max-child queueing, a word with a blank in it) is not written as an attribute: it becomes a comment in the block
// and an entry of `lost`, for the caller to report. A block missing a word (which would run
// another command than the Service) is written with `disable = yes`.

import { basename } from 'node:path';
import { systemDb, type SysDb } from '../sys/sysdb.js';
import { inetdRateServed } from '../admission/limits.js';
import type { RlimitValue, Rlimits, Service, TimeInterval } from '../table.js';
import { startsProgram } from '../service-kind.js';
import { present } from '../util/invariant.js';

export interface WriteOptions {
  /** /etc/services, to decide `type = UNLISTED` (default: the system's). */
  db?: SysDb;
  /** Comment lines written above the block (without the leading `# `). */
  header?: readonly string[];
}

/** Something of the Service that the block does not carry. */
export interface LostField {
  /** The Service field, e.g. 'inetd_rate', 'server_argv'. */
  field: keyof Service;
  /** For a word that cannot be written: the word itself. */
  word?: string;
  /** What is lost and what a reader of the block gets instead. */
  message: string;
  /** 'error' when the service behaves differently in a way that matters (a mangled argv). */
  severity: 'error' | 'warning';
}

export interface WrittenService {
  text: string;
  lost: LostField[];
}

/** Service types that do not take their port from /etc/services. */
const PORTLESS_TYPES = ['RPC', 'TCPMUX', 'TCPMUXPLUS'];

/** xinetd words are split on blanks and cannot be quoted: such a word cannot be written. */
export function isWritableWord(word: string): boolean {
  return word.length > 0 && !/\s/.test(word);
}

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

function rlimit(v: RlimitValue): string {
  return v === 'unlimited' ? 'UNLIMITED' : String(v);
}

const RLIMIT_ORDER: readonly (keyof Rlimits)[] = ['as', 'cpu', 'data', 'rss', 'stack', 'files'];

/** Whether xinetd needs `type = UNLISTED` to run this service on its port. */
export function needsUnlisted(s: Service, db: SysDb): boolean {
  if (s.port === null || s.type.includes('UNLISTED') || s.type.some((t) => PORTLESS_TYPES.includes(t))) return false;
  const listed = db.serviceByName(s.name, s.protocol);
  return listed === undefined || listed.port !== s.port;
}

/** Whether argv[0] differs from what xinetd gives without NAMEINARGS (the server's base name). */
export function needsNameInArgs(s: Service): boolean {
  if (s.server === null || s.redirect !== null) return false;
  const argv0 = s.server_argv[0];
  return argv0 !== undefined && argv0 !== basename(s.server);
}

/** The block for one Service, and what it could not carry. */
export function writeService(s: Service, opts: WriteOptions = {}): WrittenService {
  const db = opts.db ?? systemDb;
  const lost: LostField[] = [];
  const rows: [string, string][] = [];
  const notes: string[] = [];
  const runsProgram = startsProgram(s);

  /** Adds `name = words...` when every word can be written; reports the field otherwise. */
  const put = (attr: string, words: readonly string[], field: keyof Service): void => {
    const bad = words.find((w) => !isWritableWord(w));
    if (bad !== undefined) {
      lost.push({
        field,
        word: bad,
        severity: 'error',
        message:
          bad === ''
            ? `an empty word cannot be written in xinetd's '${attr}' (values are split on blanks, without quoting)`
            : `'${bad}' contains a blank: xinetd splits '${attr}' on blanks and has no quoting, so it cannot be written`,
      });
      notes.push(`${attr} not written: a value contains a blank or is empty`);
      return;
    }
    rows.push([attr, words.join(' ')]);
  };

  let name = s.name;
  if (!isWritableWord(name)) {
    name = name.replace(/\s/g, '_') || 'unnamed';
    lost.push({ field: 'name', word: s.name, severity: 'error', message: `the service name '${s.name}' cannot be written in xinetd (written as '${name}')` });
  }

  if (s.id !== s.name) put('id', [s.id], 'id');
  const types = [...s.type];
  if (needsUnlisted(s, db)) types.push('UNLISTED');
  if (types.length > 0) put('type', types, 'type');
  const nameInArgs = runsProgram && (s.flags.includes('NAMEINARGS') || needsNameInArgs(s));
  const flags = s.flags.filter((f) => f !== 'NAMEINARGS' || nameInArgs);
  if (nameInArgs && !flags.includes('NAMEINARGS')) flags.unshift('NAMEINARGS');
  if (flags.length > 0) put('flags', flags, 'flags');
  put('socket_type', [s.socket_type], 'socket_type');
  put('protocol', [s.protocol], 'protocol');
  if (s.port !== null) put('port', [String(s.port)], 'port');
  put('wait', [yesNo(s.wait)], 'wait');
  if (s.user !== null) put('user', [s.user], 'user');
  if (s.group !== null) put('group', [s.group], 'group');
  put('groups', [yesNo(s.groups)], 'groups');
  if (runsProgram) {
    put('server', [present(s.server, 'a server on a service that starts a program')], 'server');
    const args = nameInArgs ? s.server_argv : s.server_argv.slice(1);
    if (args.length > 0) put('server_args', args, 'server_argv');
  }
  if (s.redirect !== null) put('redirect', [s.redirect.host, String(s.redirect.port)], 'redirect');
  if (s.bind !== null) put('bind', [s.bind], 'bind');
  if (s.family_sockets) {
    // xinetd has one socket per service: the dual-stack one serves both families.
    notes.push('inetd opened an IPv4 and an IPv6 socket; xinetd opens one dual-stack socket, where an IPv4 client is an IPv4-mapped IPv6 peer');
    put('v6only', ['no'], 'v6only');
  } else if (s.v6only !== null) put('v6only', [yesNo(s.v6only)], 'v6only');
  put('instances', [limit(s.instances)], 'instances');
  put('per_source', [limit(s.per_source)], 'per_source');
  put('cps', [String(s.cps[0]), String(s.cps[1])], 'cps');
  if (s.per_source_cps !== null) put('per_source_cps', [String(s.per_source_cps[0]), String(s.per_source_cps[1])], 'per_source_cps');
  if (s.max_load !== null) put('max_load', [String(s.max_load)], 'max_load');
  if (s.deny_time !== null) put('deny_time', [String(s.deny_time)], 'deny_time');
  if (s.only_from !== null) put('only_from', s.only_from, 'only_from');
  if (s.no_access !== null) put('no_access', s.no_access, 'no_access');
  if (s.access_times.length > 0) put('access_times', s.access_times.map(interval), 'access_times');
  if (s.log_type !== null) {
    const t = s.log_type;
    if (t.kind === 'syslog') put('log_type', ['SYSLOG', t.facility, t.level], 'log_type');
    else {
      const sizes = t.soft === null ? [] : t.hard === null ? [String(t.soft)] : [String(t.soft), String(t.hard)];
      put('log_type', ['FILE', t.path, ...sizes], 'log_type');
    }
  }
  if (s.log_on_success.length > 0) put('log_on_success', s.log_on_success, 'log_on_success');
  if (s.log_on_failure.length > 0) put('log_on_failure', s.log_on_failure, 'log_on_failure');
  if (s.env.length > 0) put('env', s.env, 'env');
  if (s.passenv !== null) put('passenv', s.passenv, 'passenv');
  if (s.banner !== null) put('banner', [s.banner], 'banner');
  if (s.banner_success !== null) put('banner_success', [s.banner_success], 'banner_success');
  if (s.banner_fail !== null) put('banner_fail', [s.banner_fail], 'banner_fail');
  if (s.nice !== null) put('nice', [String(s.nice)], 'nice');
  if (s.umask !== null) put('umask', [s.umask.toString(8).padStart(3, '0')], 'umask');
  for (const r of RLIMIT_ORDER) {
    const v = s.rlimits[r];
    if (v !== undefined) put(`rlimit_${r}`, [rlimit(v)], 'rlimits');
  }
  if (s.libwrap !== null) put('libwrap', [s.libwrap], 'libwrap');
  if (s.rpc_version !== null) {
    const [lo, hi] = s.rpc_version;
    put('rpc_version', [lo === hi ? String(lo) : `${lo}-${hi}`], 'rpc_version');
  }
  if (s.rpc_number !== null) put('rpc_number', [String(s.rpc_number)], 'rpc_number');
  // A block that would run something else than the Service (a lost argument) is written off.
  const wrong = lost.some((l) => l.severity === 'error');
  if (wrong && s.enabled) notes.push('written with disable = yes: a value it needs cannot be written (see above)');
  // xinetd stops reading an entry at `disable = yes`: it comes last so the rest is still read.
  if (!s.enabled || wrong) put('disable', ['yes'], 'enabled');

  if (s.instances !== null && s.instances_at_limit === 'queue') {
    notes.push(`FreeBSD max-child ${s.instances}: a client past it waited to be accepted; xinetd's instances refuses it instead`);
    lost.push({
      field: 'instances_at_limit',
      severity: 'warning',
      message:
        `FreeBSD's max-child ${s.instances} made a client past the limit wait until a server ended; xinetd has no queueing: ` +
        `\`instances = ${s.instances}\` refuses that client at once (kept as a comment)`,
    });
  }
  if (s.inetd_rate !== null) {
    const r = s.inetd_rate;
    const what = `${inetdRateServed(r)} starts served in ${r.per_seconds} s, the next one stops the service for ${r.shutdown_seconds} s`;
    notes.push(`inetd rate limit, which xinetd does not have: ${what}`);
    lost.push({
      field: 'inetd_rate',
      severity: 'warning',
      message: `inetd's rate limit (${what}) has no xinetd attribute: the converted service has no such limit (kept as a comment)`,
    });
  }
  if (s.per_source_per_minute !== null) {
    notes.push(`FreeBSD per-source limit, which xinetd does not have: at most ${s.per_source_per_minute} connections a minute from one address`);
    lost.push({
      field: 'per_source_per_minute',
      severity: 'warning',
      message: `FreeBSD's limit of ${s.per_source_per_minute} connections a minute per client address has no xinetd attribute: the converted service has no such limit (kept as a comment)`,
    });
  }

  const width = Math.max(...rows.map(([n]) => n.length));
  const lines: string[] = [];
  for (const h of (opts.header ?? []).flatMap((x) => x.split('\n'))) lines.push(h === '' ? '#' : `# ${h}`);
  lines.push(`service ${name}`, '{');
  for (const n of notes) lines.push(`\t# ${n}`);
  for (const [attr, value] of rows) lines.push(`\t${attr.padEnd(width)} = ${value}`.trimEnd());
  lines.push('}');
  return { text: lines.join('\n') + '\n', lost };
}

/** The xinetd.d block for one Service (see writeService for what it contains). */
export function serviceToXinetd(service: Service, opts: WriteOptions = {}): string {
  return writeService(service, opts).text;
}
