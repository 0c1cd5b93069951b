// Check 12 of admission, TCP wrappers, as libwrap decides in xinetd's child after
// only_from / no_access: the verdict is hosts-match.ts's, pure; this asks for it with what
// the connection knows, turns it into a Decision, and logs each problem of a rule file once.
// Part of AdmissionController (admission.ts).

import { ALLOW, type Decision, type LocalEnd } from './admission-types.js';
import type { WrapRequest, WrapVerdict } from './wrappers/hosts-match.js';
import type { HostsTable } from './wrappers/hosts-syntax.js';
import type { DaemonLevel } from '../log/log-types.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';
import { evaluateNow, finishWrappers, isVerdict, wrapDaemonName, wrapRequest, wrapsService, type RuleTables, type Wrappers } from './wrappers/wrappers.js';

export class WrapperCheck {
  /** TCP wrappers' problems already logged, per version of a rule file. */
  private readonly problemsSeen = new WeakMap<HostsTable, Set<string>>();

  constructor(private readonly wrappers: Wrappers | null) {}

  /**
   * Check 12, TCP wrappers, as libwrap decides in xinetd's child after only_from/no_access:
   * synchronous unless a rule needs a host name, a user or an aclexec status.
   */
  wrapperStep(service: Service, peer: Peer, local: LocalEnd | undefined, unknownClient = false): Decision | Promise<Decision> {
    const w = this.wrappers;
    if (w === null || local === undefined) return ALLOW;
    const tables = this.wrapped(service);
    if (tables === null) return ALLOW;
    const daemon = wrapDaemonName(service);
    const request = wrapRequest(daemon, unknownClient ? 'unknown' : peer, local);
    const first = evaluateNow(tables, request, w.lookups);
    if (isVerdict(first) && first.aclexec === undefined) return this.wrapDecision(service, peer, daemon, first, request, local, tables);
    return finishWrappers(tables, request, peer, local, w.lookups, first).then((o) =>
      this.wrapDecision(service, peer, daemon, o.verdict, o.request, local, tables),
    );
  }

  /**
   * Problems met while deciding (an option error, a file's fault) go to the daemon log once for
   * each version of the file they are in, not for every client as libwrap does.
   */
  private reportWrapProblems(verdict: WrapVerdict, tables: RuleTables): void {
    for (const p of verdict.problems) {
      const table = p.file === tables.allow.path ? tables.allow : tables.deny;
      let seen = this.problemsSeen.get(table);
      if (seen === undefined) {
        seen = new Set(table.diagnostics.map((d) => `${d.line}:${d.column}:${d.message}`));
        this.problemsSeen.set(table, seen);
      }
      // A file's fault was logged with its warnings when the file was read.
      if (table.fault !== null && p.line === table.fault.line) continue;
      const key = `${p.line}:${p.column}:${p.message}`;
      if (seen.has(key) || seen.size >= 1000) continue;
      seen.add(key);
      this.wrappers?.lookups.warn(`${p.severity}: ${p.file}, line ${p.line}: ${p.message}`);
    }
  }

  private wrapDecision(
    service: Service,
    peer: Peer,
    daemon: string,
    verdict: WrapVerdict,
    request: WrapRequest,
    local: LocalEnd,
    tables: RuleTables,
  ): Decision {
    this.reportWrapProblems(verdict, tables);
    if (verdict.access === 'denied') {
      const level = severityLevel(verdict);
      return {
        allow: false,
        reason: 'libwrap',
        detail: `libwrap refused connection to ${service.id} (libwrap=${daemon}) from ${peer.address}`,
        ...(level !== null ? { level } : {}),
      };
    }
    if (verdict.options.length === 0) return ALLOW;
    return {
      allow: true,
      wrap: {
        daemon,
        options: verdict.options,
        clientHostname: request.client.hostname ?? null,
        clientUser: request.client.user ?? null,
        local,
      },
    };
  }

  /** The rule tables when TCP wrappers apply to `service` and have something to say; else null. */
  wrapped(service: Service): RuleTables | null {
    if (this.wrappers === null || !wrapsService(service)) return null;
    const tables = this.wrappers.tables(service);
    const empty = (t: HostsTable): boolean => t.rules.length === 0 && t.fault === null;
    return empty(tables.allow) && empty(tables.deny) ? null : tables;
  }
}

/** syslog levels of TCP wrappers' `severity` option, as daemon-log levels. */
const SEVERITY_LEVELS: Readonly<Record<string, DaemonLevel>> = {
  emerg: 'error',
  alert: 'error',
  crit: 'error',
  err: 'error',
  warning: 'warning',
  notice: 'notice',
  info: 'info',
  debug: 'debug',
};

function severityLevel(verdict: WrapVerdict): DaemonLevel | null {
  for (const o of verdict.options) if (o.kind === 'severity') return SEVERITY_LEVELS[o.level] ?? null;
  return null;
}
