// `tsinetd --explain SERVICE ADDRESS`: walks the admission chain of the loaded configuration for
// a client that has not connected, and says which step decides and why.
//
// The verdict is the daemon's own: a fresh AdmissionController (admission.ts) admits the
// client, with the same ACLs, the same TCP-wrappers evaluation and the same order. The steps
// printed beside it use the same functions one by one (acl.ts, limits.ts, hosts-match.ts
// through wrappers.ts), so the two cannot disagree. Checks that depend on what the running
// daemon is doing (instances, per_source, cps, load, -limit, SENSOR lists) are not evaluated:
// a fresh controller has nothing running.

import { isIP } from 'node:net';
import { AdmissionController, unknownAddressRefusal } from '../admission/admission.js';
import type { Decision, LocalEnd } from '../admission/admission-types.js';
import { compileServiceAcl, decideAccess, needsHostnames } from '../admission/acl.js';
import { parsePeerAddress } from '../admission/acl-address.js';
import { resolveAclNames, verifiedHostnames, type NameResolver } from '../admission/acl-resolver.js';
import { withinAccessTimes } from '../admission/limits.js';
import { listenPlan } from '../serve/listen-plan.js';
import { NO_PEER } from '../serve/serve-context.js';
import type { Peer } from '../peer.js';
import type { Service, ServiceTable } from '../table.js';
import { checkWrappers, wrapDaemonName, wrapsService, type Wrappers } from '../admission/wrappers/wrappers.js';
import { activated, rpcOverTcp } from '../service-needs.js';

export type StepOutcome = 'pass' | 'refuse' | 'not evaluated' | 'not applicable';

export interface ExplainStep {
  check: string;
  outcome: StepOutcome;
  detail: string;
  /** The rule or definition that decided, when there is one. */
  where?: { file: string; line: number; column?: number };
}

export interface Explanation {
  service: { id: string; name: string; file: string; line: number };
  /** The client as the daemon would see it (IPv4 clients of a dual-stack socket as ::ffff:a.b.c.d). */
  client: string;
  /** The TCP-wrappers daemon name, or null when TCP wrappers do not apply. */
  daemon: string | null;
  steps: ExplainStep[];
  verdict: { admitted: boolean; reason: string | null; detail: string | null };
}

export interface ExplainDeps {
  resolver: NameResolver;
  wrappers: Wrappers;
  wallClock: () => Date;
}

/** Finds the service by id, else by name (the first enabled one). */
export function findService(table: ServiceTable, key: string): Service | null {
  return (
    table.services.find((s) => s.id === key) ?? table.services.find((s) => s.name === key && s.enabled) ?? table.services.find((s) => s.name === key) ?? null
  );
}

/**
 * The peer a client at `address` would be, on the socket this service listens on. A client of a
 * unix-domain socket has no address whatever `address` says: the daemon admits it as NO_PEER
 * (connection.ts serveStream).
 */
export function peerFor(service: Service, address: string): Peer | null {
  if (service.protocol === 'unix') return NO_PEER;
  const kind = isIP(address);
  if (kind === 0) return null;
  if (kind === 6) return { address, port: 0, family: 'IPv6' };
  // An IPv4 client of an IPv6 socket that is not v6only arrives as ::ffff:a.b.c.d.
  const plan = listenPlan(service);
  const dualStack = plan.ok && plan.plan.family === 6 && !plan.plan.v6only;
  return dualStack ? { address: `::ffff:${address}`, port: 0, family: 'IPv6' } : { address, port: 0, family: 'IPv4' };
}

function localOf(service: Service, peer: Peer): LocalEnd {
  const plan = listenPlan(service);
  const host = plan.ok ? plan.plan.host : peer.family === 'IPv6' ? '::' : '0.0.0.0';
  return { address: host, port: service.port ?? 0 };
}

export async function explain(table: ServiceTable, key: string, address: string, deps: ExplainDeps): Promise<Explanation | { error: string }> {
  const service = findService(table, key);
  if (service === null) return { error: `no service '${key}' in the configuration` };
  const peer = peerFor(service, address);
  if (peer === null) return { error: `'${address}' is not a numeric IPv4 or IPv6 address` };
  const local = localOf(service, peer);
  const steps: ExplainStep[] = [];
  const where = { file: service.source.file, line: service.source.line };

  if (!service.enabled) steps.push({ check: 'enabled', outcome: 'refuse', detail: 'the service is disabled: nothing listens', where });
  else if (service.problems.length > 0) steps.push({ check: 'enabled', outcome: 'refuse', detail: `not started: ${service.problems.join('; ')}`, where });
  else steps.push({ check: 'enabled', outcome: 'pass', detail: 'the service is enabled', where });

  steps.push({
    check: 'cps, load, instances, per_source, -limit',
    outcome: 'not evaluated',
    detail: 'depend on what the running daemon is doing; a client alone passes them',
  });

  if (service.access_times.length === 0) steps.push({ check: 'access_times', outcome: 'not applicable', detail: 'not set' });
  else {
    const inside = withinAccessTimes(service.access_times, deps.wallClock());
    steps.push({
      check: 'access_times',
      outcome: inside ? 'pass' : 'refuse',
      detail: inside ? 'now is inside the allowed times' : 'now is outside the allowed times',
    });
  }

  const addr = parsePeerAddress(peer.address);
  const unixClient = service.protocol === 'unix';
  if (service.only_from === null && service.no_access === null) {
    steps.push({ check: 'only_from / no_access', outcome: 'not applicable', detail: 'neither is set' });
  } else if (addr !== null) {
    const acl = compileServiceAcl(service, await resolveAclNames(service, deps.resolver));
    const names = needsHostnames(acl, addr) ? await verifiedHostnames(addr, deps.resolver) : null;
    const v = decideAccess(acl, addr, names);
    const lists = `only_from = ${service.only_from === null ? '(unset)' : service.only_from.join(' ') || '(empty: nobody)'}; no_access = ${service.no_access === null ? '(unset)' : service.no_access.join(' ')}`;
    steps.push({
      check: 'only_from / no_access',
      outcome: v.allow ? 'pass' : 'refuse',
      detail: v.allow
        ? `allowed (${lists})`
        : `${v.why === 'both' ? 'on both lists' : v.why === 'no_access' ? 'matches no_access' : 'not in only_from'} (${lists})`,
      where,
    });
  }

  if (unixClient && (service.only_from !== null || service.no_access !== null)) {
    const refusal = unknownAddressRefusal(service);
    steps.push({
      check: 'only_from / no_access',
      outcome: refusal === null ? 'pass' : 'refuse',
      detail:
        refusal === null
          ? 'a unix-domain client has no address: no_access cannot match it'
          : 'a unix-domain client has no address, and only_from admits no unknown address',
      where,
    });
  }

  let daemon: string | null = null;
  // As at start: an RPC service over TCP is activated without the wrappers (after a reload that keeps it, with them).
  if (!wrapsService(activated(service))) {
    steps.push({
      check: 'TCP wrappers',
      outcome: 'not applicable',
      detail:
        service.dialect !== 'xinetd'
          ? 'not applied to inetd.conf services'
          : rpcOverTcp(service) && !service.flags.includes('NOLIBWRAP')
            ? 'an RPC service over TCP (xinetd sets NOLIBWRAP for it when it opens its socket; a reload that keeps it applies them)'
            : 'flags = NOLIBWRAP',
    });
  } else {
    daemon = wrapDaemonName(service);
    const tables = deps.wrappers.tables(service);
    const o = await checkWrappers(tables, daemon, peer, local, deps.wrappers.lookups);
    const v = o.verdict;
    const rule = v.rule;
    const file = v.table === 'allow' ? tables.allow.path : v.table === 'deny' ? tables.deny.path : null;
    let detail: string;
    if (rule !== null) detail = `daemon ${daemon}: ${file} line ${rule.line} matched: ${v.access}`;
    else if (v.problems.length > 0) detail = `daemon ${daemon}: ${v.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('; ')}: ${v.access}`;
    else detail = `daemon ${daemon}: no rule matched in ${tables.allow.path} or ${tables.deny.path}: ${v.access}`;
    const twist = v.options.find((x) => x.kind === 'twist');
    if (twist !== undefined && v.access === 'granted') detail += ` (twist: the command runs instead of the server)`;
    steps.push({
      check: 'TCP wrappers',
      outcome: v.access === 'granted' ? 'pass' : 'refuse',
      detail,
      ...(rule !== null ? { where: { file: rule.file, line: rule.line, column: rule.column } } : {}),
    });
  }

  let decision: Decision;
  if (!service.enabled || service.problems.length > 0) {
    decision = { allow: false, reason: 'address', detail: 'the service does not run' };
  } else {
    const admission = new AdmissionController({ resolver: deps.resolver, wrappers: deps.wrappers, wallClock: deps.wallClock, load: () => 0 });
    await admission.prepare([service]);
    decision = await admission.admit(service, peer, local);
  }
  const notRunning = !service.enabled || service.problems.length > 0;
  return {
    service: { id: service.id, name: service.name, file: service.source.file, line: service.source.line },
    client: unixClient ? 'a unix-domain client (no address)' : peer.address,
    daemon,
    steps,
    verdict: decision.allow
      ? { admitted: true, reason: null, detail: null }
      : { admitted: false, reason: notRunning ? 'not running' : decision.reason, detail: decision.detail ?? null },
  };
}

/** The explanation as text, one step a line. */
export function formatExplanation(e: Explanation): string {
  const lines = [
    `service ${e.service.id} (${e.service.file}:${e.service.line}), client ${e.client}${e.daemon !== null ? `, TCP wrappers daemon name ${e.daemon}` : ''}`,
  ];
  for (const s of e.steps) {
    const at = s.where !== undefined ? ` [${s.where.file}:${s.where.line}${s.where.column !== undefined ? `:${s.where.column}` : ''}]` : '';
    lines.push(`  ${s.check}: ${s.outcome}: ${s.detail}${at}`);
  }
  lines.push(e.verdict.admitted ? 'verdict: admitted' : `verdict: refused (${e.verdict.reason})${e.verdict.detail !== null ? `: ${e.verdict.detail}` : ''}`);
  return lines.join('\n') + '\n';
}
