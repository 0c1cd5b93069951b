// Limits and rates as pure functions over plain state: xinetd's cps, instances, per_source,
// process_limit (-limit), max_load, access_times and SENSOR deny list; the classic inetds'
// spawn rate (`nowait.N`), FreeBSD's max-child queueing and per-source connections per
// minute; and a bounded table for per-source state. Time is always passed in (monotonic
// milliseconds, or a Date for access_times); nothing here reads a clock, a file or a socket.

import type { InetdRate, InetdRateFlavour, Service, TimeInterval } from '../table.js';
import { builtinForks, builtinOf } from '../serve/builtins.js';
import { serviceKind } from '../service-kind.js';

// ---------------------------------------------------------------------------------------
// cps (xinetd): not a token bucket but a running average over a window that lasts fewer
// than N seconds. From xinetd's access.c: the first connection opens the window; each next
// one inside it counts, and when count / max(1, seconds since the window opened) exceeds N
// (integer division) the service is turned off for WAIT seconds. A connection arriving N
// or more seconds after the window opened starts a new window. The count survives the
// pause (xinetd keeps it), so the first connections after it rarely trip again.

export interface CpsState {
  count: number;
  /** Whole seconds (clock / 1000, floored) when the window opened. */
  windowStart: number;
}

export const CPS_FRESH: CpsState = { count: 0, windowStart: 0 };

export function cpsStep(state: CpsState, cps: readonly [number, number], nowSec: number): { state: CpsState; trip: boolean } {
  const [max] = cps;
  if (max <= 0) return { state, trip: false };
  if (state.count === 0) return { state: { count: 1, windowStart: nowSec }, trip: false };
  const elapsed = nowSec - state.windowStart;
  if (elapsed < max) {
    const count = state.count + 1;
    const trip = Math.floor(count / Math.max(1, elapsed)) > max;
    return { state: { count, windowStart: state.windowStart }, trip };
  }
  return { state: { count: 1, windowStart: nowSec }, trip: false };
}

// ---------------------------------------------------------------------------------------
// Classic inetd spawn rate (`wait|nowait.N`). Every inetd counts the starts of forked servers:
// the first start opens a window and counts 1; each later start adds 1, and once the count is
// past the limit the window's age decides: older than `windowSeconds`, the count restarts at 1
// and the start is served; otherwise the service is terminated for `shutdownSeconds` ("server
// failing (looping), service terminated") and that start refused. Where the inetds differ is
// what "past the limit" means, kept here as data, one row per flavour:
//   openbsd  OpenBSD inetd.c (and Debian's openbsd-inetd, busybox, FreeBSD's global -R rate):
//            `se_count >= se_max`, se_max = `.N` or TOOMANY 256: the N-th start trips.
//   gnu      GNU inetutils inetd.c (since 1.6): `(se_max && se_count > se_max) || se_count >=
//            toomany`, toomany = TOOMANY 1000: a written `.N` trips at the (N+1)-th start, and
//            the default still trips at the 1000th even when `.N` is larger; `.0` is no `.N`.
// Both: CNT_INTVL 60 s (`now - se_time > CNT_INTVL` restarts the count), RETRYTIME 600 s.

export interface InetdRateRule {
  /** Starts that trip the service when the wait field gives no `.N` (inetd's TOOMANY). */
  defaultMax: number;
  /** How a written `.N` compares with the count (the new start included): 'reach' trips at count >= N, 'exceed' at count > N. */
  writtenTrips: 'reach' | 'exceed';
  /** Whether the default still trips (count >= defaultMax) when a `.N` is written. */
  defaultAlsoApplies: boolean;
  windowSeconds: number;
  shutdownSeconds: number;
}

export const INETD_RATE_RULES: Readonly<Record<InetdRateFlavour, InetdRateRule>> = {
  openbsd: { defaultMax: 256, writtenTrips: 'reach', defaultAlsoApplies: false, windowSeconds: 60, shutdownSeconds: 600 },
  gnu: { defaultMax: 1000, writtenTrips: 'exceed', defaultAlsoApplies: true, windowSeconds: 60, shutdownSeconds: 600 },
};

/** The rate a service of this flavour gets: its written `.N` (null: none), or the default. */
export function inetdRateOf(flavour: InetdRateFlavour, written: number | null): InetdRate {
  const rule = INETD_RATE_RULES[flavour];
  return {
    flavour,
    max: written ?? rule.defaultMax,
    written: written !== null,
    per_seconds: rule.windowSeconds,
    shutdown_seconds: rule.shutdownSeconds,
  };
}

/** Whether `count` starts in one window (the newest included) are past the limit. */
export function inetdRatePast(rate: InetdRate, count: number): boolean {
  const rule = INETD_RATE_RULES[rate.flavour];
  if (!rate.written) return count >= rate.max;
  const past = rule.writtenTrips === 'reach' ? count >= rate.max : count > rate.max;
  return past || (rule.defaultAlsoApplies && count >= rule.defaultMax);
}

/** How many starts one window serves before the next one trips (the first is always served). */
export function inetdRateServed(rate: InetdRate): number {
  // The largest count that inetdRatePast() lets through: a count >= M is past at M - 1, > M at M.
  const rule = INETD_RATE_RULES[rate.flavour];
  const reach = (m: number): number => Math.max(1, m - 1);
  if (!rate.written) return reach(rate.max);
  const own = rule.writtenTrips === 'reach' ? reach(rate.max) : Math.max(1, rate.max);
  return rule.defaultAlsoApplies ? Math.min(own, reach(rule.defaultMax)) : own;
}

export interface InetdRateState {
  count: number;
  windowStart: number; // whole seconds
}

export const INETD_RATE_FRESH: InetdRateState = { count: 0, windowStart: 0 };

export function inetdRateStep(state: InetdRateState, rate: InetdRate, nowSec: number): { state: InetdRateState; trip: boolean } {
  if (rate.max <= 0) return { state, trip: false };
  if (state.count === 0) return { state: { count: 1, windowStart: nowSec }, trip: false };
  const count = state.count + 1;
  if (!inetdRatePast(rate, count)) return { state: { count, windowStart: state.windowStart }, trip: false };
  if (nowSec - state.windowStart > rate.per_seconds) return { state: { count: 1, windowStart: nowSec }, trip: false };
  return { state: INETD_RATE_FRESH, trip: true };
}

// ---------------------------------------------------------------------------------------
// FreeBSD `max-connections-per-ip-per-minute` (inetd.c cpmip): six 10-second slots per
// source; every attempt counts (refused ones too), and the attempt is refused when the
// slots of the last minute hold more than the limit.

export const PER_MINUTE_SLOTS = 6;
export const PER_MINUTE_SLOT_SECONDS = 10;

export interface PerMinuteState {
  /** Slot number (seconds / 10) each slot was last used for. */
  ticks: number[];
  counts: number[];
}

export function perMinuteFresh(): PerMinuteState {
  return { ticks: Array<number>(PER_MINUTE_SLOTS).fill(-1), counts: Array<number>(PER_MINUTE_SLOTS).fill(0) };
}

/** Counts one attempt (mutating `state`); true when it must be refused. */
export function perMinuteStep(state: PerMinuteState, max: number, nowSec: number): boolean {
  const tick = Math.floor(nowSec / PER_MINUTE_SLOT_SECONDS);
  const slot = tick % PER_MINUTE_SLOTS;
  state.counts[slot] = (state.ticks[slot] === tick ? (state.counts[slot] ?? 0) : 0) + 1;
  state.ticks[slot] = tick;
  let total = 0;
  for (const [i, t] of state.ticks.entries()) {
    if (t <= tick && t > tick - PER_MINUTE_SLOTS) total += state.counts[i] ?? 0;
  }
  return max > 0 && total > max;
}

/** A source whose slots are all older than a minute can be forgotten. */
export function perMinuteIdle(state: PerMinuteState, nowSec: number): boolean {
  const tick = Math.floor(nowSec / PER_MINUTE_SLOT_SECONDS);
  return state.ticks.every((t) => t <= tick - PER_MINUTE_SLOTS);
}

// ---------------------------------------------------------------------------------------
// Counts of running servers

/** `instances`: refused when `running` servers of the service already reach the limit. */
export function instancesExceeded(limit: number | null, running: number): boolean {
  return limit !== null && running >= limit;
}

/**
 * FreeBSD's max-child (`instances_at_limit = 'queue'`): whether the service's socket must not be
 * accepted on now, `running` servers of it being counted (runsCountedServer) or about to start.
 * As FreeBSD's addchild()/reapchild(): off once the count reaches the limit, on again below it.
 * A service whose limit refuses (xinetd's instances) is never paused.
 */
export function acceptPaused(service: Pick<Service, 'instances' | 'instances_at_limit'>, running: number): boolean {
  return service.instances_at_limit === 'queue' && service.instances !== null && service.instances > 0 && running >= service.instances;
}

/** `per_source`: the same, counting only this source's servers of this service. */
export function perSourceExceeded(limit: number | null, runningFromSource: number): boolean {
  return limit !== null && runningFromSource >= limit;
}

/** `-limit N` (process_limit): refused when the new process(es) would take the total above N. */
export function processLimitExceeded(limit: number | null, totalRunning: number, toCreate: number): boolean {
  return limit !== null && limit > 0 && totalRunning + toCreate > limit;
}

/** Processes one connection creates: 2 with INTERCEPT (xinetd forks an interceptor too). */
export function processesPerConnection(service: Pick<Service, 'flags'>): number {
  return service.flags.includes('INTERCEPT') ? 2 : 1;
}

/**
 * Whether a connection to this service runs a server process that xinetd counts for
 * instances, per_source and -limit. Internal time and daytime (stream and dgram), the
 * datagram echo/chargen/discard and SENSOR traps are handled inside xinetd without a fork
 * and are never counted (xinetd.conf(5) "INTERNAL SERVICES"; measured: 3 concurrent
 * daytime connections pass `instances = 1`, a second stream discard does not).
 */
export function runsCountedServer(service: Service): boolean {
  const kind = serviceKind(service);
  if (kind === 'program' || kind === 'redirect') return true;
  const builtin = builtinOf(service);
  return builtin !== null && builtinForks(builtin, service.socket_type);
}

// ---------------------------------------------------------------------------------------
// max_load and access_times

/**
 * max_load: refused when the 1-minute load average is at or above the limit, any limit but 0
 * (xinetd's access.c): a negative one refuses everybody, NaN nobody.
 */
export function loadExceeded(maxLoad: number | null, load: number): boolean {
  return maxLoad !== null && maxLoad !== 0 && load >= maxLoad;
}

/**
 * access_times: admitted when the local time (hours and minutes) lies in one interval,
 * both bounds included ("connections will be accepted at the bounds"). No interval = always.
 */
export function withinAccessTimes(intervals: readonly TimeInterval[], date: Date): boolean {
  if (intervals.length === 0) return true;
  const minute = date.getHours() * 60 + date.getMinutes();
  return intervals.some((i) => i.start <= minute && minute <= i.end);
}

// ---------------------------------------------------------------------------------------
// SENSOR: a global no-access list, shared by every service

/** xinetd's MAX_GLOBAL_NO_ACCESS: beyond it offenders are logged but not added. */
export const MAX_GLOBAL_NO_ACCESS = 10240;

/** Expiry (monotonic ms) or forever, per source key. */
export type DenyList = Map<string, number | 'forever'>;

/**
 * How long a SENSOR hit bans the source: minutes → ms, FOREVER, or null for "log only"
 * (NEVER, 0, or deny_time not set, as in xinetd). xinetd stores FOREVER as -1, so -1 is forever
 * too; any other negative number gives an expiry already past, which xinetd's scrub of the list
 * lifts within a minute: a minute here.
 */
export function sensorBanMs(denyTime: Service['deny_time']): number | 'forever' | null {
  if (denyTime === 'FOREVER' || denyTime === -1) return 'forever';
  if (denyTime === null || denyTime === 'NEVER' || denyTime === 0) return null;
  return denyTime < 0 ? 60_000 : denyTime * 60_000;
}

export type DenyListChange = 'added' | 'extended' | 'unchanged' | 'full' | 'log-only';

/** Records a SENSOR hit; a later hit only ever lengthens the ban. Mutates `list`. */
export function denyListAdd(list: DenyList, key: string, ban: number | 'forever' | null, nowMs: number): DenyListChange {
  if (ban === null) return 'log-only';
  const until = ban === 'forever' ? 'forever' : nowMs + ban;
  const old = list.get(key);
  if (old === undefined || (old !== 'forever' && old <= nowMs)) {
    if (old === undefined && list.size >= MAX_GLOBAL_NO_ACCESS) {
      denyListExpire(list, nowMs);
      if (list.size >= MAX_GLOBAL_NO_ACCESS) return 'full';
    }
    list.set(key, until);
    return 'added';
  }
  if (old === 'forever' || (until !== 'forever' && until <= old)) return 'unchanged';
  list.set(key, until);
  return 'extended';
}

/** Whether the source is banned now (an expired entry is removed). */
export function denyListHas(list: DenyList, key: string, nowMs: number): boolean {
  const until = list.get(key);
  if (until === undefined) return false;
  if (until === 'forever' || until > nowMs) return true;
  list.delete(key);
  return false;
}

export function denyListExpire(list: DenyList, nowMs: number): void {
  for (const [k, until] of list) if (until !== 'forever' && until <= nowMs) list.delete(k);
}
