// The SIGUSR1 text dump of the service table, in the shape of xinetd's /var/run/xinetd.dump:
// a header with the current time, one indented block per service (xinetd's attribute labels and
// order, measured on xinetd 2.3.15.3), a few totals, and "END OF DUMP". Attributes xinetd does
// not print but tsinetd has (max_load, rlimits, banners, inetd rates...) follow in the same style.
// Each attribute's lines and their place are its row's (src/config/xinetd/attributes.ts, src/config/xinetd/attribute-dump.ts).
// Pure: the daemon appends the text to its dump file.

import { ATTRIBUTES, handled } from '../config/xinetd/attributes.js';
import type { DumpContext, DumpLine } from '../config/xinetd/attribute-dump.js';
import type { Service, ServiceTable } from '../table.js';
import { systemDb } from '../sys/sysdb.js';
import { inetdRateServed } from '../admission/limits.js';
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

/**
 * Service fields that no attribute sets (inetd.conf's rate limits), placed among the attributes'
 * lines by the same dump order (src/config/xinetd/attributes.ts): after per_source_cps.
 */
const INETD_LINES: readonly { order: number; handler: DumpLine }[] = [
  {
    order: 341,
    handler: (s) => {
      const r = s.inetd_rate;
      return r === null
        ? []
        : [
            `Inetd rate = ${r.flavour} max:${r.max}${r.written ? '' : ' (default)'} served:${inetdRateServed(r)} per:${r.per_seconds}s off:${r.shutdown_seconds}s`,
          ];
    },
  },
  { order: 342, handler: (s) => (s.per_source_per_minute === null ? [] : [`Per-source per minute = ${s.per_source_per_minute}`]) },
];

/** The lines of a service block, in dump order; attributes that share an order share their lines. */
const LINES: readonly DumpLine[] = (() => {
  const byOrder = new Map<number, DumpLine>();
  for (const r of ATTRIBUTES) if (handled(r.dump) && !byOrder.has(r.dump.order)) byOrder.set(r.dump.order, r.dump.handler);
  for (const l of INETD_LINES) byOrder.set(l.order, l.handler);
  return [...byOrder].sort(([a], [b]) => a - b).map(([, line]) => line);
})();

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
  const context: DumpContext = { protocolNumber: opts.protocolNumber ?? ((n: string) => systemDb.protocolNumber(n)) };
  for (const line of LINES) for (const l of line(s, context)) a(l);
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
  const runningServers = opts.runningServers;
  if (runningServers !== undefined) {
    const running = table.services.reduce((n, s) => n + runningServers(s), 0);
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
