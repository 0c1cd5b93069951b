// Admission: may this peer use this service now? A thin stateful shell (AdmissionController)
// around the pure checks of limits.ts, token-bucket.ts and acl.ts (whose caches are in
// admission-acl.ts) and TCP wrappers (admission-wrap.ts). Its state is plain data:
// running servers per service id, per source and in total (-limit), rate windows, per-source
// tables, the SENSOR deny list, and compiled ACLs per Service object. The clock, the load
// average, the wall clock (access_times), the name resolver and the -limit value are injected.
//
// Order of the checks, as in xinetd (access.c parent_access_control, then the child's
// access_control), with tsinetd's additions where they fit:
//   1. service switched off by a rate trip → same reason as the trip, until it is back
//   2. cps                       'connections per second' (+ suspendSeconds: close the socket)
//   3. classic inetd rate        'inetd_rate' (+ suspendSeconds)            [inetd.conf .N]
//   4. max_load                  'load'
//   5. access_times              'time'
//   6. instances                 'service_limit' (not when it queues: FreeBSD max-child)
//   7. per_source                'per_source_limit'
//   8. per_source_per_minute     'per_source_limit'                         [FreeBSD inetd]
//   9. per_source_cps            'per_source_cps'                           [tsinetd]
//  10. -limit                    'process_limit'
//  11. SENSOR trap / global deny list, then only_from / no_access   'address'
//  12. TCP wrappers (hosts.allow, hosts.deny)                        'libwrap'
// xinetd spells a SENSOR refusal `address` too (measured: "FAIL: trap address from=..."), so
// fail2ban's stock filter keeps matching; the Decision's detail says which check it was.
// Every rate counts the connection even when a later check refuses it (as xinetd's cps does).
// Services are taken as immutable: ACLs are compiled once per Service object (a reload brings
// new objects); counters and rate windows are kept per service id, so they survive a reload.

import { AddressLists } from './admission-acl.js';
import type { Admission, Decision, LocalEnd } from './admission-types.js';
import { WrapperCheck } from './admission-wrap.js';
import type { Wrappers } from './wrappers/wrappers.js';
import { needsHostnames, type AclProblem, type ServiceAcl } from './acl.js';
import { formatAddress, parsePeerAddress } from './acl-address.js';
import { systemResolver, type NameResolver } from './acl-resolver.js';
import {
  CPS_FRESH,
  INETD_RATE_FRESH,
  cpsStep,
  denyListAdd,
  denyListHas,
  inetdRateStep,
  instancesExceeded,
  loadExceeded,
  perMinuteFresh,
  perMinuteIdle,
  perMinuteStep,
  perSourceExceeded,
  processLimitExceeded,
  processesPerConnection,
  runsCountedServer,
  sensorBanMs,
  withinAccessTimes,
  type CpsState,
  type DenyList,
  type InetdRateState,
  type PerMinuteState,
} from './limits.js';
import { createLoadSource } from './loadavg.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';
import { bucketIdle, bucketTake, type Bucket } from './token-bucket.js';
import { performance } from 'node:perf_hooks';
import { serviceKind } from '../service-kind.js';
import { addressChecks } from '../service-needs.js';
import { BoundedTable } from '../util/bounded-table.js';

export interface AdmissionOptions {
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** Local wall-clock time for access_times (default new Date()). */
  wallClock?: () => Date;
  /** 1-minute load average (default: /proc/loadavg, read asynchronously and cached). */
  load?: () => number;
  /** `-limit N`: global limit on running servers; null = none. */
  processLimit?: number | null;
  resolver?: NameResolver;
  /** Bound on each per-source table (per_source_cps, per_source_per_minute). */
  maxSources?: number;
  /** How long a peer's verified host names are reused (default 60 s). */
  hostnameTtlMs?: number;
  /** TCP wrappers: the rule files as they are now, and the lookups a verdict may need; absent: none. */
  wrappers?: Wrappers | null;
}

/** How many peer addresses admission keeps parsed (cleared all at once when full). */
const PARSED_PEERS_MAX = 1024;

interface ParsedPeer {
  addr: bigint;
  /** Canonical text: the key of per-source counts and lists. */
  source: string;
}

interface ServiceRates {
  cps: CpsState;
  inetd: InetdRateState;
  /** While set and in the future, the service is off: the reason and the end (ms). */
  off: { reason: 'connections per second' | 'inetd_rate'; until: number } | null;
  perMinute: BoundedTable<PerMinuteState> | null;
  buckets: { rate: number; burst: number; table: BoundedTable<Bucket> } | null;
}

/** What the daemon may show about admission (dump, metrics). */
export interface AdmissionSnapshot {
  runningTotal: number;
  running: Record<string, number>;
  /** Seconds left for services switched off by cps or the inetd rate. */
  off: Record<string, number>;
  /** SENSOR offenders: seconds left, or 'forever'. */
  denied: Record<string, number | 'forever'>;
}

export class AdmissionController implements Admission {
  processLimit: number | null;
  private readonly now: () => number;
  private readonly wallClock: () => Date;
  private readonly load: () => number;
  private readonly maxSources: number;
  private readonly lists: AddressLists;
  private readonly wrap: WrapperCheck;

  private readonly running = new Map<string, number>();
  private readonly runningBySource = new Map<string, Map<string, number>>();
  private runningTotal = 0;
  private readonly rates = new Map<string, ServiceRates>();
  private readonly denyList: DenyList = new Map();
  private readonly parsedPeers = new BoundedTable<ParsedPeer | null>(PARSED_PEERS_MAX);
  /** The first read of the load average (resolved at once when the load is injected). */
  private readonly loadReady: Promise<void> = Promise.resolve();

  constructor(options: AdmissionOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.wallClock = options.wallClock ?? (() => new Date());
    if (options.load !== undefined) {
      this.load = options.load;
    } else {
      const source = createLoadSource();
      // Fill the cache now: the first client must not be judged by the fallback value
      // (prepare() waits for this read, and the daemon prepares before it listens).
      this.loadReady = source.refresh();
      this.load = () => source.current();
    }
    this.processLimit = options.processLimit ?? null;
    this.maxSources = options.maxSources ?? 10_000;
    this.lists = new AddressLists(options.resolver ?? systemResolver(), this.now, options.hostnameTtlMs ?? 60_000);
    this.wrap = new WrapperCheck(options.wrappers ?? null);
  }

  /**
   * Resolves host and network names and compiles the ACLs of these services (call at load
   * and on every reload; admit() also does it on first use). Rate state of service ids no
   * longer present is dropped; running counts stay until their servers finish.
   * Returns the ACL problems per service id (for --check and the daemon log).
   */
  async prepare(services: readonly Service[]): Promise<Map<string, AclProblem[]>> {
    await this.loadReady;
    const problems = new Map<string, AclProblem[]>();
    await Promise.all(
      services.map(async (s) => {
        const acl = await this.lists.aclOf(s);
        problems.set(s.id, [...acl.onlyFrom.problems, ...acl.noAccess.problems]);
      }),
    );
    const ids = new Set(services.map((s) => s.id));
    for (const id of this.rates.keys()) if (!ids.has(id)) this.rates.delete(id);
    return problems;
  }

  admit(service: Service, peer: Peer, local?: LocalEnd): Decision | Promise<Decision> {
    const now = this.now();
    const parsed = this.parsePeer(peer);
    // No usable address (wait = yes services before their server runs): per-source checks and
    // the lists do not apply, as in xinetd ("The IP address is unknown... accept it").
    const addr = parsed === null ? null : parsed.addr;
    const source = parsed === null ? null : parsed.source;

    const early = this.parentChecks(service, peer, source, now);
    if (early !== null) return early;
    if (addr === null || source === null) return this.unknownAddress(service, peer, local);
    const sensor = this.sensorChecks(service, peer, source, now);
    if (sensor !== null) return sensor;

    const acl = this.lists.compiled(service);
    if (acl !== null && !needsHostnames(acl, addr)) {
      const d = this.lists.addressDecision(service, peer, acl, addr, null);
      if (!d.allow) return d;
      const wrapped = this.wrap.wrapperStep(service, peer, local);
      return wrapped instanceof Promise ? wrapped.then((w) => (w.allow ? this.recount(service, source, w) : w)) : wrapped;
    }
    return this.admitAfterLookups(service, peer, source, addr, acl, local);
  }

  handedOver(service: Service, peer: Peer, local?: LocalEnd): Decision | Promise<Decision> {
    const parsed = this.parsePeer(peer);
    if (parsed === null) return this.unknownAddress(service, peer, local);
    const listed = this.denyListed(peer, parsed.source, this.now());
    if (listed !== null) return listed;
    const acl = this.lists.compiled(service);
    if (acl !== null && !needsHostnames(acl, parsed.addr)) {
      const d = this.lists.addressDecision(service, peer, acl, parsed.addr, null);
      return d.allow ? this.wrap.wrapperStep(service, peer, local) : d;
    }
    return this.handedOverAfterLookups(service, peer, parsed.addr, acl, local);
  }

  private async handedOverAfterLookups(service: Service, peer: Peer, addr: bigint, known: ServiceAcl | null, local: LocalEnd | undefined): Promise<Decision> {
    const acl = known ?? (await this.lists.aclOf(service));
    const names = needsHostnames(acl, addr) ? await this.lists.hostnamesOf(addr) : null;
    const decision = this.lists.addressDecision(service, peer, acl, addr, names);
    return decision.allow ? this.wrap.wrapperStep(service, peer, local) : decision;
  }

  /**
   * A client whose address is never known (a wait = yes stream service, whose server accepts
   * the connection): xinetd checks an empty address. only_from then refuses every client
   * (measured: `FAIL: id address from=<no address>`); no_access and the per-source limits match
   * nothing and let it in; TCP wrappers see the client as `unknown` (so `ALL` and `UNKNOWN`
   * patterns match it).
   */
  private unknownAddress(service: Service, peer: Peer, local: LocalEnd | undefined): Decision | Promise<Decision> {
    return unknownAddressRefusal(service) ?? this.wrap.wrapperStep(service, peer, local, true);
  }

  /** After an asynchronous step, other connections may have started: instances and limits again. */
  private recount(service: Service, source: string, allowed: Decision): Decision {
    return this.countChecks(service, source) ?? this.processCheck(service) ?? allowed;
  }

  /** Whether a decision for `service` now depends on the client's address (addressChecks, or SENSOR offenders listed). */
  needsAddress(service: Service): boolean {
    return this.denyList.size > 0 || addressChecks(service).length > 0 || this.wrap.wrapped(service) !== null;
  }

  started(service: Service, peer: Peer): void {
    if (!runsCountedServer(service)) return;
    const source = this.sourceOf(peer);
    this.running.set(service.id, (this.running.get(service.id) ?? 0) + 1);
    this.runningTotal++;
    if (source === null) return;
    let bySource = this.runningBySource.get(service.id);
    if (bySource === undefined) {
      bySource = new Map();
      this.runningBySource.set(service.id, bySource);
    }
    bySource.set(source, (bySource.get(source) ?? 0) + 1);
  }

  finished(service: Service, peer: Peer): void {
    if (!runsCountedServer(service)) return;
    const source = this.sourceOf(peer);
    const n = this.running.get(service.id) ?? 0;
    if (n <= 0) return; // never counted (or already finished): keep the counts sane
    if (n === 1) this.running.delete(service.id);
    else this.running.set(service.id, n - 1);
    this.runningTotal = Math.max(0, this.runningTotal - 1);
    if (source === null) return;
    const bySource = this.runningBySource.get(service.id);
    const m = bySource?.get(source) ?? 0;
    if (bySource !== undefined) {
      if (m <= 1) bySource.delete(source);
      else bySource.set(source, m - 1);
      if (bySource.size === 0) this.runningBySource.delete(service.id);
    }
  }

  snapshot(): AdmissionSnapshot {
    const now = this.now();
    const off: Record<string, number> = {};
    for (const [id, r] of this.rates) if (r.off !== null && r.off.until > now) off[id] = Math.ceil((r.off.until - now) / 1000);
    const denied: Record<string, number | 'forever'> = {};
    for (const [k, until] of this.denyList) {
      if (until === 'forever') denied[k] = 'forever';
      else if (until > now) denied[k] = Math.ceil((until - now) / 1000);
    }
    return { runningTotal: this.runningTotal, running: Object.fromEntries(this.running), off, denied };
  }

  // -------------------------------------------------------------------------------------

  private sourceOf(peer: Peer): string | null {
    return this.parsePeer(peer)?.source ?? null;
  }

  /**
   * The peer's address as a number and in canonical text. admit(), started() and finished() all
   * need it for the same client, and clients repeat: the last PARSED_PEERS_MAX are remembered.
   */
  private parsePeer(peer: Peer): ParsedPeer | null {
    const hit = this.parsedPeers.get(peer.address);
    if (hit !== undefined) return hit;
    const addr = parsePeerAddress(peer.address);
    const parsed = addr === null ? null : { addr, source: formatAddress(addr) };
    this.parsedPeers.set(peer.address, parsed);
    return parsed;
  }

  private ratesOf(service: Service): ServiceRates {
    let r = this.rates.get(service.id);
    if (r === undefined) {
      r = { cps: CPS_FRESH, inetd: INETD_RATE_FRESH, off: null, perMinute: null, buckets: null };
      this.rates.set(service.id, r);
    }
    return r;
  }

  /** Checks 1–10: everything xinetd decides in the parent, before forking. */
  private parentChecks(service: Service, peer: Peer, source: string | null, now: number): Decision | null {
    const rates = this.ratesOf(service);
    const nowSec = Math.floor(now / 1000);

    if (rates.off !== null) {
      if (rates.off.until > now) {
        const left = Math.ceil((rates.off.until - now) / 1000);
        return { allow: false, reason: rates.off.reason, detail: `service ${service.name} is off for ${left} more second(s)` };
      }
      rates.off = null;
    }

    const cps = cpsStep(rates.cps, service.cps, nowSec);
    rates.cps = cps.state;
    if (cps.trip) {
      const wait = service.cps[1];
      rates.off = { reason: 'connections per second', until: now + wait * 1000 };
      return {
        allow: false,
        reason: 'connections per second',
        suspendSeconds: wait,
        detail: `Deactivating service ${service.name} due to excessive incoming connections.  Restarting in ${wait} seconds.`,
      };
    }

    if (service.inetd_rate !== null && runsCountedServer(service)) {
      const step = inetdRateStep(rates.inetd, service.inetd_rate, nowSec);
      rates.inetd = step.state;
      if (step.trip) {
        const wait = service.inetd_rate.shutdown_seconds;
        rates.off = { reason: 'inetd_rate', until: now + wait * 1000 };
        return {
          allow: false,
          reason: 'inetd_rate',
          suspendSeconds: wait,
          detail: `${service.name}/${service.protocol} server failing (looping), service terminated`,
        };
      }
    }

    if (service.max_load !== null && loadExceeded(service.max_load, this.load())) {
      return { allow: false, reason: 'load', detail: `refused connect from ${peer.address} due to excessive load` };
    }

    // The wall clock is read only for services that have access_times (a Date per client costs).
    if (service.access_times.length > 0 && !withinAccessTimes(service.access_times, this.wallClock())) {
      return { allow: false, reason: 'time', detail: 'outside access_times' };
    }

    const counts = this.countChecks(service, source);
    if (counts !== null) return counts;

    if (source !== null && service.per_source_per_minute !== null && service.per_source_per_minute > 0) {
      if (rates.perMinute === null) {
        rates.perMinute = new BoundedTable<PerMinuteState>(this.maxSources, (s) => perMinuteIdle(s, Math.floor(this.now() / 1000)));
      }
      const state = rates.perMinute.get(source) ?? perMinuteFresh();
      const refuse = perMinuteStep(state, service.per_source_per_minute, nowSec);
      rates.perMinute.set(source, state);
      if (refuse) {
        return {
          allow: false,
          reason: 'per_source_limit',
          detail: `${service.name} from ${peer.address} exceeded counts/min (limit ${service.per_source_per_minute}/min)`,
        };
      }
    }

    if (source !== null && service.per_source_cps !== null) {
      const [rate, burst] = service.per_source_cps;
      if (rates.buckets === null || rates.buckets.rate !== rate || rates.buckets.burst !== burst) {
        rates.buckets = {
          rate,
          burst,
          table: new BoundedTable<Bucket>(this.maxSources, (b) => bucketIdle(b, rate, burst, this.now())),
        };
      }
      const take = bucketTake(rates.buckets.table.get(source), rate, burst, now);
      rates.buckets.table.set(source, take.bucket);
      if (!take.ok) {
        return { allow: false, reason: 'per_source_cps', detail: `${peer.address} opens more than ${rate} connection(s) per second (burst ${burst})` };
      }
    }

    return this.processCheck(service);
  }

  /**
   * instances and per_source (checks 6–7), also repeated after an asynchronous ACL lookup. An
   * `instances` limit that queues (FreeBSD max-child) refuses nobody: the server stops accepting
   * at the limit instead (limits.ts acceptPaused, server.ts rebalance).
   */
  private countChecks(service: Service, source: string | null): Decision | null {
    if (service.instances_at_limit !== 'queue' && instancesExceeded(service.instances, this.running.get(service.id) ?? 0)) {
      return { allow: false, reason: 'service_limit', detail: `${service.instances} instance(s) running` };
    }
    if (source === null) return null;
    const fromSource = this.runningBySource.get(service.id)?.get(source) ?? 0;
    if (perSourceExceeded(service.per_source, fromSource)) {
      return { allow: false, reason: 'per_source_limit', detail: `${fromSource} server(s) running for ${source}` };
    }
    return null;
  }

  private processCheck(service: Service): Decision | null {
    if (processLimitExceeded(this.processLimit, this.runningTotal, processesPerConnection(service))) {
      return { allow: false, reason: 'process_limit', detail: `${this.runningTotal} server(s) running, -limit ${this.processLimit}` };
    }
    return null;
  }

  /** The SENSOR trap itself, then the global no-access list it fills. */
  private sensorChecks(service: Service, peer: Peer, source: string, now: number): Decision | null {
    if (serviceKind(service) === 'sensor') {
      const change = denyListAdd(this.denyList, source, sensorBanMs(service.deny_time), now);
      let detail: string;
      if (change === 'added') {
        const minutes = service.deny_time === 'FOREVER' ? -1 : service.deny_time;
        detail = `Adding ${peer.address} to the global_no_access list for ${minutes} minutes`;
      } else if (change === 'full') {
        detail = 'Maximum global_no_access count reached.';
      } else if (change === 'log-only') {
        detail = `SENSOR ${service.id} hit by ${peer.address} (deny_time: log only)`;
      } else {
        detail = `SENSOR ${service.id} hit again by ${peer.address}`;
      }
      return { allow: false, reason: 'address', detail };
    }
    return this.denyListed(peer, source, now);
  }

  /** The global no_access list a SENSOR fills. */
  private denyListed(peer: Peer, source: string, now: number): Decision | null {
    if (this.denyList.size > 0 && denyListHas(this.denyList, source, now)) {
      return { allow: false, reason: 'address', detail: `${peer.address} is on the global no_access list (SENSOR)` };
    }
    return null;
  }

  private async admitAfterLookups(
    service: Service,
    peer: Peer,
    source: string,
    addr: bigint,
    known: ServiceAcl | null,
    local: LocalEnd | undefined,
  ): Promise<Decision> {
    const acl = known ?? (await this.lists.aclOf(service));
    const names = needsHostnames(acl, addr) ? await this.lists.hostnamesOf(addr) : null;
    const decision = this.lists.addressDecision(service, peer, acl, addr, names);
    if (!decision.allow) return decision;
    const wrapped = await this.wrap.wrapperStep(service, peer, local);
    if (!wrapped.allow) return wrapped;
    // Other connections may have started while we waited: count again (no rate is charged twice).
    return this.recount(service, source, wrapped);
  }
}

/**
 * The address lists' verdict on a client whose address is not known (a wait = yes service
 * before its server runs, a unix-domain client): only_from admits no unknown address, and
 * no_access cannot match one. A refusal, or null when the lists let the client through.
 */
export function unknownAddressRefusal(service: Pick<Service, 'id' | 'only_from' | 'protocol'>): Decision | null {
  if (service.only_from === null) return null;
  return {
    allow: false,
    reason: 'address',
    detail: `service ${service.id}: the client address is not known (${service.protocol === 'unix' ? 'a unix-domain socket' : 'wait = yes'}), and only_from admits no unknown address`,
  };
}
