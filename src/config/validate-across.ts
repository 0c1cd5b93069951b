// The checks across services: port clashes and RPC registrations over the whole service table
// (the xinetd files and the inetd.conf files together) and duplicate ids. Pure, like the per-service checks of
// validate.ts, whose findings and helpers they share.

import { isIP } from 'node:net';
import type { BuiltService } from './xinetd/build.js';
import { diag, type Severity, type SourcePosition } from '../diagnostics.js';
import type { Service } from '../table.js';
import { present } from '../util/invariant.js';
import { MAX_RPC_VERSIONS, rpcLosses, type RpcAsk, type RpcLoss } from '../serve/rpc-plan.js';
import { finding, label, serviceLabel, span, where, type Effect, type Finding } from './validate.js';

// ---- Checks across services -------------------------------------------------------------------------

function place(b: BuiltService): string {
  return sourceOf(b.service);
}

function sourceOf(s: Service): string {
  return `${s.source.file}:${s.source.line}`;
}

/**
 * A service as the port-clash check sees it: its definition and where a finding about it points
 * (the name of an xinetd service block; the start of an inetd.conf line, which is where the other
 * inetd.conf diagnostics point).
 */
export interface PlacedService {
  service: Service;
  at: SourcePosition;
  length: number;
}

/** An xinetd service block, placed at its name. */
export function placedBlock(b: BuiltService): PlacedService {
  return { service: b.service, at: where(b.node.name.loc), length: span(b.node.name.loc) };
}

/** An inetd.conf service, placed at the start of its line. */
export function placedLine(s: Service): PlacedService {
  return { service: s, at: { file: s.source.file, line: s.source.line, column: 1 }, length: 1 };
}

/**
 * The (family, address, port) slots a service's sockets occupy. The default socket is the
 * IPv6 wildcard, dual-stack unless `v6only = yes`, so it also takes the IPv4 wildcard;
 * `flags = IPv4` takes only the IPv4 wildcard, `flags = IPv6` with `v6only` only the IPv6 one;
 * an inetd.conf line with one socket per family (`family_sockets`) takes the IPv4 slot and the
 * IPv6 one. A `bind` address takes its own slot (a host name is keyed by its name).
 * (A "socket identity": when one shared definition of it exists, this should be built on it.)
 */
function listeningKeys(s: Service): string[] {
  const at = (family: string, addr: string): string => `${s.port}/${s.protocol}/${family}/${addr}`;
  const bind = s.bind === null ? null : s.bind.toLowerCase();
  if (s.family_sockets && (bind === null || isIP(bind) === 0)) return [at('4', bind ?? '0.0.0.0'), at('6', bind ?? '::')];
  if (bind !== null) {
    if (bind === '::' && s.v6only !== true) return [at('6', '::'), at('4', '0.0.0.0')];
    return [at(bind.includes(':') ? '6' : '4', bind)];
  }
  if (s.flags.includes('IPv4') && !s.flags.includes('IPv6')) return [at('4', '0.0.0.0')];
  if (s.v6only === true) return [at('6', '::')];
  return [at('6', '::'), at('4', '0.0.0.0')];
}

/**
 * Two enabled services on the same port, protocol and address, over the whole service table:
 * the xinetd services, then those of the inetd.conf files (--inetd, -inetd_compat), in the order
 * the daemon binds them. `enabled(i)` says whether service i is still on after the other checks.
 * Real xinetd (2.3.15.3, -inetd_compat, measured) treats /etc/inetd.conf services exactly like
 * its own: the service bound first keeps the port.
 *   - TCP: the later one cannot listen (xinetd: "bind failed (Address already in use)", ten
 *     retries, then "Service X failed to start and is deactivated"), so it is turned off here.
 *   - UDP: xinetd binds every datagram socket with SO_REUSEADDR, so both start; Linux gives each
 *     datagram to one socket: of sockets bound alike, the one bound last (the later service), and
 *     an IPv4 datagram to an IPv4-only socket before a dual-stack one. tsinetd binds in the same
 *     order with the same option, so the kernel chooses as it does under xinetd: a warning only.
 */
export function checkPortClashes(services: readonly PlacedService[], enabled: (i: number) => boolean): Finding[] {
  const out: Finding[] = [];
  const seen = new Map<string, number>();
  const off = new Set<number>();
  const placed = (i: number): PlacedService => present(services[i], `service ${i} of the ones checked`);
  const report = (i: number, severity: Severity, message: string, effect: Effect): void => {
    const p = placed(i);
    out.push({ index: i, diagnostic: diag('port-clash', severity, p.at, message, p.length), effect });
  };
  const bound = new Map<string, BoundSlot>(); // earlier services with a bind address, by protocol and port
  const on = (j: number): boolean => enabled(j) && !off.has(j);
  const visit = (s: Service, i: number, earlier: BoundSlot | undefined): void => {
    if (enabled(i) && s.unix !== null) {
      // One socket file per path: the later service would remove the earlier one's socket.
      const key = `unix/${s.unix.path}`;
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, i);
      } else {
        const other = placed(first).service;
        report(i, 'error', `unix socket ${s.unix.path} is already used by ${serviceLabel(other)} (${sourceOf(other)}): this service is disabled`, 'disable');
      }
      return;
    }
    if (!enabled(i) || s.port === null || s.port === 0) return;
    const twin = earlier === undefined ? null : boundTwin(s, earlier);
    if (twin !== null) {
      const other = placed(twin).service;
      const how = s.bind === null ? 'on all addresses' : 'on the same address';
      off.add(i);
      const message = `port ${s.port}/${s.protocol} ${how} as ${serviceLabel(other)} (${sourceOf(other)}, bound to ${String(other.bind)}): xinetd calls ${serviceLabel(s)} identical to it and disables it; so does tsinetd`;
      report(i, 'error', message, 'disable');
      return;
    }
    const keys = listeningKeys(s);
    const first = keys.map((k) => seen.get(k)).find((f) => f !== undefined);
    if (first === undefined || s.protocol === 'udp') for (const k of keys) seen.set(k, i);
    if (first === undefined) return;
    const other = placed(first).service;
    const addr = s.bind === null ? 'on all addresses' : `on ${s.bind}`;
    const used = `port ${s.port}/${s.protocol} ${addr} is already used by ${serviceLabel(other)} (${sourceOf(other)})`;
    if (s.protocol === 'udp') {
      const msg =
        `${used}; both start, as under xinetd (datagram sockets share a port), and the system gives each datagram to one of them: ` +
        `the socket bound last (${serviceLabel(s)}), unless only one of the two is IPv4-only, which then gets the IPv4 datagrams`;
      report(i, 'warning', msg, 'none');
      return;
    }
    report(i, 'error', `${used}; xinetd cannot start ${serviceLabel(s)} either (its bind fails): it is disabled`, 'disable');
  };
  services.forEach(({ service: s }, i) => {
    const slot = `${s.protocol}/${String(s.port)}`;
    const earlier = bound.get(slot);
    visit(s, i, earlier);
    // Once checked, whether it is on is settled: later services compare with it from here.
    if (s.bind === null || s.port === null || !on(i)) return;
    const entry = earlier ?? { first: i, byAddress: new Map<string, number>() };
    if (earlier === undefined) bound.set(slot, entry);
    const address = s.bind.toLowerCase();
    if (!entry.byAddress.has(address)) entry.byAddress.set(address, i);
  });
  return out;
}

/** `1-3, 5` for the versions 1, 2, 3 and 5. */
function versionList(vs: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < vs.length;) {
    let j = i;
    while (j + 1 < vs.length && vs[j + 1] === (vs[j] ?? 0) + 1) j++;
    runs.push(i === j ? String(vs[i]) : `${vs[i]}-${vs[j]}`);
    i = j + 1;
  }
  return runs.join(', ');
}

/**
 * Two RPC services asking rpcbind for the same program version over one transport, in the order
 * the daemon activates them (as checkPortClashes): the earlier one registers it (rpc-plan.ts
 * rpcLosses, the one definition, which the server follows too). A service left without any
 * version is disabled, as xinetd deactivates it; one that loses some is served with the others,
 * a warning. Services with problems are not activated, so they take nothing.
 */
export function checkRpcClashes(services: readonly PlacedService[], enabled: (i: number) => boolean): Finding[] {
  const asks: Array<RpcAsk & { index: number }> = [];
  services.forEach(({ service: s }, index) => {
    if (!enabled(index) || s.problems.length > 0 || !s.type.includes('RPC') || s.rpc_number === null || s.rpc_version === null) return;
    if (s.protocol !== 'tcp' && s.protocol !== 'udp') return;
    asks.push({ index, serviceId: s.id, prog: s.rpc_number, versions: s.rpc_version, transport: s.protocol });
  });
  const out: Finding[] = [];
  rpcLosses(asks).forEach((lost, k) => {
    const a = present(asks[k], `RPC service ${k}`);
    if (lost.length === 0) return;
    const p = present(services[a.index], `service ${a.index} of the ones checked`);
    const s = p.service;
    const byWinner = new Map<number, RpcLoss[]>();
    for (const l of lost) byWinner.set(l.winner, [...(byWinner.get(l.winner) ?? []), l]);
    const held = [...byWinner]
      .map(([w, ls]) => {
        const other = present(services[present(asks[w], `RPC service ${w}`).index], `the winner of RPC service ${k}`).service;
        const n = ls.length;
        return `version${n === 1 ? '' : 's'} ${versionList(ls.map((l) => l.vers))} ${n === 1 ? 'is' : 'are'} registered by ${serviceLabel(other)} (${sourceOf(other)}) first`;
      })
      .join('; ');
    const all = lost.length === Math.min(a.versions[1] - a.versions[0] + 1, MAX_RPC_VERSIONS);
    const what = `RPC program ${a.prog} over ${a.transport}: ${held}`;
    const message = all
      ? `${what}; rpcbind refuses each of them again, so xinetd logs "pmap_set failed" for every version and deactivates ${serviceLabel(s)} ("failed to start"): it is disabled`
      : `${what}; rpcbind refuses each of them again, so ${serviceLabel(s)} registers only its other versions (xinetd and tsinetd log "pmap_set failed" for these)`;
    out.push({ index: a.index, diagnostic: diag('rpc-clash', all ? 'error' : 'warning', p.at, message, p.length), effect: all ? 'disable' : 'none' });
  });
  return out;
}

/**
 * The earlier services with a `bind` address on one protocol and port that are still on: the
 * first of them, and the first for each address (lower case).
 */
interface BoundSlot {
  first: number;
  byAddress: Map<string, number>;
}

/**
 * xinetd's check_entry: an earlier service that has a `bind` address and the same port and
 * protocol makes a later one "identical" (disabled) when the later one has no `bind` address or
 * the same one. Earlier services without `bind` are not compared there. It compares
 * /etc/inetd.conf services too (measured: "service: X id: X is unique but its identical to
 * service: Y id: Y - DISABLING"). `earlier`: the earlier services with a bind address on the
 * same protocol and port that are on, looked up rather than scanned (10,000 services on one
 * port, one address each, are not compared pairwise).
 */
function boundTwin(s: Service, earlier: BoundSlot): number | null {
  if (s.bind === null) return earlier.first;
  return earlier.byAddress.get(s.bind.toLowerCase()) ?? null;
}

/** Ids should be unique: logs, dumps and reload identify services by id. */
export function checkDuplicateIds(services: readonly BuiltService[], enabled: (i: number) => boolean): Finding[] {
  const out: Finding[] = [];
  const seen = new Map<string, number>();
  services.forEach((b, i) => {
    if (!enabled(i)) return;
    const key = b.service.id.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    const other = present(services[first], `service ${first}, seen before`);
    out.push(
      finding(
        'duplicate-id',
        i,
        'warning',
        b.set.get('id')?.values[0] ?? b.node.name,
        `the id '${b.service.id}' is also used by ${label(other)} (${place(other)}): give each service its own 'id' (logs, dumps and reloads tell services apart by id)`,
        'none',
      ),
    );
  });
  return out;
}
