// The SIGUSR1 text dump of the service table, in the shape of xinetd's /var/run/xinetd.dump:
// a header with the current time, one indented block per service (xinetd's attribute labels and
// order, measured on xinetd 2.3.15.3), a few totals, and "END OF DUMP". Attributes xinetd does
// not print but tsinetd has (max_load, rlimits, banners, inetd rates...) follow in the same style.
// Pure: the daemon appends the text to its dump file.

import type { Service, ServiceTable, TimeInterval } from '../table.js';
import { systemDb } from '../sys/sysdb.js';
import { DEFAULT_CPS } from '../service-defaults.js';
import { inetdRateServed } from '../admission/limits.js';
import { defaultHardLimit } from '../log/log-format.js';
import { VERSION } from '../app/version.js';

export interface DumpOptions {
  /** Number of running servers per service, when the caller knows it. */
  runningServers?: (service: Service) => number;
  /** Protocol number lookup (default: /etc/protocols). */
  protocolNumber?: (name: string) => number | undefined;
  version?: string;
  /** What an RPC service has registered with rpcbind now (the running daemon knows). */
  rpcRegistrations?: (service: Service) => Array<{ vers: number; netid: string; addr: string }>;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) without the newline, in local time: "Tue Nov  4 05:06:07 2026". */
export function ctime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`
  );
}

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

function loggingLine(s: Service): string {
  const t = s.log_type;
  if (t === null) return 'No logging';
  if (t.kind === 'syslog') return `Logging to syslog. Facility = ${t.facility}, level = ${t.level}`;
  if (t.soft === null && t.hard === null) return `Logging to file: ${t.path} (no limits)`;
  const soft = t.soft ?? t.hard!;
  const hard = t.hard ?? defaultHardLimit(soft);
  return `Logging to file: ${t.path} (soft=${soft} hard=${hard})`;
}

function stateOf(s: Service): string {
  if (!s.enabled) return 'Disabled';
  if (s.problems.length > 0) return 'Not running (configuration problems)';
  return 'Active';
}

function serviceBlock(s: Service, opts: DumpOptions): string[] {
  const out: string[] = [];
  const a = (line: string): void => {
    out.push('\t\t' + line);
  };
  out.push(`Service = ${s.id}`);
  out.push(`\tState = ${stateOf(s)}`);
  out.push(`\tService configuration: ${s.name}`);
  a(`id = ${s.id}`);
  a(`flags =${s.flags.map((f) => ' ' + f).join('')}`);
  if (s.type.length > 0) a(`type = ${s.type.join(' ')}`);
  a(`socket_type = ${s.socket_type}`);
  const protoNum = (opts.protocolNumber ?? ((n: string) => systemDb.protocolNumber(n)))(s.protocol);
  a(`Protocol (name,number) = (${s.protocol},${protoNum ?? '?'})`);
  if (s.port !== null) a(`port = ${s.port}`);
  if (s.instances !== null) a(`Instances = ${s.instances}${s.instances_at_limit === 'queue' ? ' (queued at the limit)' : ''}`);
  a(`wait = ${s.wait ? 'yes' : 'no'}`);
  if (s.user !== null) a(`user = ${s.user}`);
  if (s.group !== null) a(`group = ${s.group}`);
  a(`Groups = ${s.groups ? 'yes' : 'no'}`);
  if (s.umask !== null) a(`umask = ${s.umask.toString(8)}`);
  if (s.nice !== null) a(`Nice = ${s.nice}`);
  if (s.cps[0] !== DEFAULT_CPS[0] || s.cps[1] !== DEFAULT_CPS[1]) a(`CPS = max conn:${s.cps[0]} wait:${s.cps[1]}`);
  a(`PER_SOURCE = ${s.per_source ?? -1}`);
  a(`Bind = ${s.bind ?? 'All addresses.'}`);
  if (s.server !== null) a(`Server = ${s.server}`);
  if (s.server_argv.length > 0) a(`Server argv = ${s.server_argv.join(' ')}`);
  if (s.redirect !== null) a(`Redirect = ${s.redirect.host}:${s.redirect.port}`);
  if (s.access_times.length > 0) a(`Access times = ${s.access_times.map(interval).join(' ')}`);
  a(`Only from:${addressList(s.only_from, 'All sites', 'No sites')}`);
  a(`No access:${addressList(s.no_access, 'No blocked sites', 'No blocked sites')}`);
  if (s.flags.some((f) => f.toUpperCase() === 'SENSOR')) {
    const dt = s.deny_time;
    a(`Deny Time: ${dt === null ? 0 : dt}`);
  }
  a(loggingLine(s));
  a(
    `Log_on_success flags =${orderedFlags(s.log_on_success)
      .map((f) => ' ' + f)
      .join('')}`,
  );
  a(
    `Log_on_failure flags =${orderedFlags(s.log_on_failure)
      .map((f) => ' ' + f)
      .join('')}`,
  );
  if (s.passenv !== null) a(`Passenv =${s.passenv.map((p) => ' ' + p).join('')}`);
  if (s.env.length > 0) {
    a('Environment additions:');
    for (const e of s.env) out.push('\t\t\t' + e);
  }
  // tsinetd's attributes that xinetd's dump leaves out.
  if (s.max_load !== null) a(`Max load = ${s.max_load}`);
  const rl = Object.entries(s.rlimits).filter(([, v]) => v !== undefined);
  if (rl.length > 0) a(`Rlimits = ${rl.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (s.banner !== null) a(`Banner = ${s.banner}`);
  if (s.banner_success !== null) a(`Banner success = ${s.banner_success}`);
  if (s.banner_fail !== null) a(`Banner fail = ${s.banner_fail}`);
  if (s.per_source_cps !== null) a(`Per-source CPS = rate:${s.per_source_cps[0]} burst:${s.per_source_cps[1]}`);
  if (s.inetd_rate !== null) {
    const r = s.inetd_rate;
    a(`Inetd rate = ${r.flavour} max:${r.max}${r.written ? '' : ' (default)'} served:${inetdRateServed(r)} per:${r.per_seconds}s off:${r.shutdown_seconds}s`);
  }
  if (s.per_source_per_minute !== null) a(`Per-source per minute = ${s.per_source_per_minute}`);
  if (s.v6only !== null) a(`v6only = ${s.v6only ? 'yes' : 'no'}`);
  if (s.libwrap !== null) a(`Libwrap = ${s.libwrap}`);
  if (s.rpc_number !== null) a(`RPC number = ${s.rpc_number}`);
  if (s.rpc_version !== null) a(`RPC version = ${s.rpc_version[0]}-${s.rpc_version[1]}`);
  if (s.type.includes('RPC') && opts.rpcRegistrations !== undefined) {
    const regs = opts.rpcRegistrations(s);
    a(`RPC registered =${regs.length === 0 ? ' none' : regs.map((r) => ` v${r.vers} ${r.netid} ${r.addr}`).join(',')}`);
  }
  a(`Defined at = ${s.source.file}:${s.source.line} (${s.dialect})`);
  for (const p of s.problems) a(`Problem: ${p}`);
  if (opts.runningServers !== undefined) out.push(`\trunning servers = ${opts.runningServers(s)}`);
  out.push('');
  return out;
}

/** The text xinetd-style SIGUSR1 dump of a service table at time `now`. */
export function formatServiceDump(table: ServiceTable, now: Date, opts: DumpOptions = {}): string {
  const lines: string[] = [];
  lines.push(`INTERNAL STATE DUMP: tsinetd ${opts.version ?? VERSION}`);
  lines.push(`Current time: ${ctime(now)}`);
  lines.push('');
  lines.push('Services:');
  for (const s of table.services) lines.push(...serviceBlock(s, opts));
  const available = table.services.filter((s) => s.enabled);
  const active = available.filter((s) => s.problems.length === 0);
  lines.push(`active_services = ${active.length}`);
  lines.push(`available_services = ${available.length}`);
  if (opts.runningServers !== undefined) {
    const running = table.services.reduce((n, s) => n + opts.runningServers!(s), 0);
    lines.push(`running_servers = ${running}`);
  }
  lines.push('');
  if (table.files.length > 0) lines.push(`config_file = ${table.files[0]}`);
  for (const f of table.files.slice(1)) lines.push(`included_file = ${f}`);
  lines.push('');
  lines.push('END OF DUMP');
  lines.push('');
  return lines.join('\n') + '\n';
}
