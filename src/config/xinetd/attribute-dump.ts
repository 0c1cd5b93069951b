// The --dump lines of the attribute table (src/config/xinetd/attributes.ts): one small function per attribute,
// giving its lines in a service's block of the SIGUSR1 dump, with xinetd 2.3.15.3's labels where
// xinetd prints the attribute (measured), in the same style where only tsinetd does. The block
// and the order of its lines (each row's dump order) are src/ops/dump.ts's.

import { DEFAULT_CPS } from '../../service-defaults.js';
import { defaultHardLimit } from '../../log/log-format.js';
import type { Service, TimeInterval } from '../../table.js';
import { present } from '../../util/invariant.js';

export interface DumpContext {
  /** Protocol number lookup (/etc/protocols). */
  protocolNumber(name: string): number | undefined;
}

/** The lines of one attribute for `s` (none when the dump leaves it out); a leading tab indents further. */
export type DumpLine = (s: Service, c: DumpContext) => string[];

/** xinetd's order when it prints log_on_success / log_on_failure flags. */
const LOG_FLAG_ORDER = ['HOST', 'DURATION', 'EXIT', 'PID', 'ATTEMPT', 'USERID', 'TRAFFIC'];

function orderedFlags(list: readonly string[]): string[] {
  const up = [...new Set(list.map((f) => f.toUpperCase()))];
  const rank = (f: string): number => {
    const i = LOG_FLAG_ORDER.indexOf(f);
    return i < 0 ? LOG_FLAG_ORDER.length : i;
  };
  return up.sort((a, b) => rank(a) - rank(b));
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function interval(t: TimeInterval): string {
  return `${hhmm(t.start)}-${hhmm(t.end)}`;
}

function addressList(list: string[] | null, whenNull: string, whenEmpty: string): string {
  if (list === null) return ` ${whenNull}`;
  if (list.length === 0) return ` ${whenEmpty}`;
  return ' ' + list.map((a) => ` ${a}`).join('');
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const words = (list: readonly string[]): string => list.map((w) => ' ' + w).join('');

/** `label = value` when the value is set, nothing otherwise. */
const when =
  <T>(label: string, value: (s: Service) => T | null, show: (v: T) => string = String): DumpLine =>
  (s) => {
    const v = value(s);
    return v === null ? [] : [`${label} = ${show(v)}`];
  };

export const id: DumpLine = (s) => [`id = ${s.id}`];
export const flags: DumpLine = (s) => [`flags =${words(s.flags)}`];
export const type: DumpLine = (s) => (s.type.length > 0 ? [`type = ${s.type.join(' ')}`] : []);
export const socketType: DumpLine = (s) => [`socket_type = ${s.socket_type}`];
export const protocol: DumpLine = (s, c) => [`Protocol (name,number) = (${s.protocol},${c.protocolNumber(s.protocol) ?? '?'})`];
export const port = when('port', (s) => s.port);
export const instances: DumpLine = (s) =>
  s.instances === null ? [] : [`Instances = ${s.instances}${s.instances_at_limit === 'queue' ? ' (queued at the limit)' : ''}`];
export const wait: DumpLine = (s) => [`wait = ${yesNo(s.wait)}`];
export const user = when('user', (s) => s.user);
export const group = when('group', (s) => s.group);
export const groups: DumpLine = (s) => [`Groups = ${yesNo(s.groups)}`];
export const umask = when(
  'umask',
  (s) => s.umask,
  (n) => n.toString(8),
);
export const nice = when('Nice', (s) => s.nice);
/** CPS only when it is not xinetd's implicit limit. */
export const cps: DumpLine = (s) => (s.cps[0] !== DEFAULT_CPS[0] || s.cps[1] !== DEFAULT_CPS[1] ? [`CPS = max conn:${s.cps[0]} wait:${s.cps[1]}`] : []);
export const perSource: DumpLine = (s) => [`PER_SOURCE = ${s.per_source ?? -1}`];
/** bind, and interface (which sets bind). */
export const bind: DumpLine = (s) => [`Bind = ${s.bind ?? 'All addresses.'}`];
export const server = when('Server', (s) => s.server);
export const serverArgs: DumpLine = (s) => (s.server_argv.length > 0 ? [`Server argv = ${s.server_argv.join(' ')}`] : []);
export const redirect = when(
  'Redirect',
  (s) => s.redirect,
  (r) => `${r.host}:${r.port}`,
);
export const accessTimes: DumpLine = (s) => (s.access_times.length > 0 ? [`Access times = ${s.access_times.map(interval).join(' ')}`] : []);
export const onlyFrom: DumpLine = (s) => [`Only from:${addressList(s.only_from, 'All sites', 'No sites')}`];
export const noAccess: DumpLine = (s) => [`No access:${addressList(s.no_access, 'No blocked sites', 'No blocked sites')}`];
/** xinetd prints the deny time of SENSOR services only. */
export const denyTime: DumpLine = (s) => (s.flags.some((f) => f.toUpperCase() === 'SENSOR') ? [`Deny Time: ${s.deny_time === null ? 0 : s.deny_time}`] : []);

export const logType: DumpLine = (s) => {
  const t = s.log_type;
  if (t === null) return ['No logging'];
  if (t.kind === 'syslog') return [`Logging to syslog. Facility = ${t.facility}, level = ${t.level}`];
  if (t.soft === null && t.hard === null) return [`Logging to file: ${t.path} (no limits)`];
  const soft = t.soft ?? present(t.hard, 'a hard limit where no soft one is set');
  const hard = t.hard ?? defaultHardLimit(soft);
  return [`Logging to file: ${t.path} (soft=${soft} hard=${hard})`];
};

export const logOnSuccess: DumpLine = (s) => [`Log_on_success flags =${words(orderedFlags(s.log_on_success))}`];
export const logOnFailure: DumpLine = (s) => [`Log_on_failure flags =${words(orderedFlags(s.log_on_failure))}`];
export const passenv: DumpLine = (s) => (s.passenv === null ? [] : [`Passenv =${words(s.passenv)}`]);
export const env: DumpLine = (s) => (s.env.length > 0 ? ['Environment additions:', ...s.env.map((e) => '\t' + e)] : []);

// tsinetd's attributes that xinetd's dump leaves out.
export const maxLoad = when('Max load', (s) => s.max_load);

/** All the rlimit_* attributes on one line, in the order the configuration set them. */
export const rlimits: DumpLine = (s) => {
  const rl = Object.entries(s.rlimits).filter(([, v]) => v !== undefined);
  return rl.length > 0 ? [`Rlimits = ${rl.map(([k, v]) => `${k}=${v}`).join(' ')}`] : [];
};

export const banner = when('Banner', (s) => s.banner);
export const bannerSuccess = when('Banner success', (s) => s.banner_success);
export const bannerFail = when('Banner fail', (s) => s.banner_fail);
export const perSourceCps = when(
  'Per-source CPS',
  (s) => s.per_source_cps,
  ([rate, burst]) => `rate:${rate} burst:${burst}`,
);
export const v6only = when('v6only', (s) => s.v6only, yesNo);
export const libwrap = when('Libwrap', (s) => s.libwrap);
export const rpcNumber = when('RPC number', (s) => s.rpc_number);
export const rpcVersion = when(
  'RPC version',
  (s) => s.rpc_version,
  ([lo, hi]) => `${lo}-${hi}`,
);
