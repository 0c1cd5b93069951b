import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionController } from '../../../src/admission/admission.js';
import type { Decision } from '../../../src/admission/admission-types.js';
import {
  CPS_FRESH,
  INETD_RATE_FRESH,
  MAX_GLOBAL_NO_ACCESS,
  cpsStep,
  denyListAdd,
  denyListHas,
  inetdRateStep,
  perMinuteFresh,
  perMinuteIdle,
  perMinuteStep,
  processLimitExceeded,
  runsCountedServer,
  sensorBanMs,
  withinAccessTimes,
  type CpsState,
  type DenyList,
  acceptPaused,
  inetdRateOf,
  inetdRateServed,
  INETD_RATE_RULES,
} from '../../../src/admission/limits.js';
import { createLoadSource, parseLoadavg } from '../../../src/admission/loadavg.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import type { InetdRate, Service } from '../../../src/table.js';
import { bucketIdle, bucketTake } from '../../../src/admission/token-bucket.js';
import { BoundedTable } from '../../../src/util/bounded-table.js';

function svc(over: Partial<Service> = {}): Service {
  return { ...newService('svc', 'xinetd', { file: 'test.conf', line: 1 }), ...over };
}

const v4 = (address: string): Peer => ({ address, port: 40000, family: 'IPv4' });
const v6 = (address: string): Peer => ({ address, port: 40000, family: 'IPv6' });

/** A controller on a hand-driven clock; nothing resolves names or reads /proc. */
function harness(options: { load?: number; date?: Date; processLimit?: number | null } = {}) {
  const clock = { ms: 1_000_000, load: options.load ?? 0, date: options.date ?? new Date(2024, 0, 1, 12, 0) };
  const ctl = new AdmissionController({
    now: () => clock.ms,
    load: () => clock.load,
    wallClock: () => clock.date,
    processLimit: options.processLimit ?? null,
    resolver: {
      lookupHost: () => Promise.reject(new Error('no DNS in tests')),
      lookupNetwork: () => Promise.resolve(null),
      reverse: () => Promise.resolve([]),
    },
  });
  const admit = (s: Service, p: Peer): Decision => {
    const d = ctl.admit(s, p);
    assert.ok(!(d instanceof Promise), 'numeric checks decide synchronously');
    return d;
  };
  return { clock, ctl, admit };
}

function reason(d: Decision): string {
  return d.allow ? 'allow' : d.reason;
}

// --- cps ------------------------------------------------------------------------------

test('cps step: N per second pass, the next one trips (xinetd measured: cps = 3 2 served 3, refused the 4th)', () => {
  let s: CpsState = CPS_FRESH;
  const trips: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    const r = cpsStep(s, [3, 2], 100);
    s = r.state;
    trips.push(r.trip);
  }
  assert.deepEqual(trips, [false, false, false, true]);
});

test('cps step: the average is taken over the seconds since the window opened; an old window restarts', () => {
  let s: CpsState = CPS_FRESH;
  // 5 per second for 3 seconds under cps 5: 15 connections, count/elapsed never above 5 once elapsed >= 1
  const results: boolean[] = [];
  for (let sec = 0; sec < 3; sec++) {
    for (let i = 0; i < 5; i++) {
      const r = cpsStep(s, [5, 1], 100 + sec);
      s = r.state;
      results.push(r.trip);
    }
  }
  // second 0: counts 1..5 (5/1 = 5, not above 5); second 1: counts 6..10 / 1 → 6 > 5 trips
  assert.equal(results.slice(0, 5).includes(true), false);
  assert.equal(results[5], true);
  // a connection 5 or more seconds after the window opened starts a new one
  const fresh = cpsStep({ count: 400, windowStart: 100 }, [5, 1], 105);
  assert.deepEqual(fresh, { state: { count: 1, windowStart: 105 }, trip: false });
  assert.deepEqual(cpsStep({ count: 7, windowStart: 1 }, [0, 10], 1), { state: { count: 7, windowStart: 1 }, trip: false });
});

test('cps through the controller: trip → suspendSeconds, off for `wait` seconds, then back', () => {
  const { clock, admit } = harness();
  const s = svc({ cps: [3, 2] });
  for (let i = 0; i < 3; i++) assert.equal(admit(s, v4('127.0.0.1')).allow, true);
  const trip = admit(s, v4('127.0.0.1'));
  assert.deepEqual({ ...trip, detail: undefined }, { allow: false, reason: 'connections per second', suspendSeconds: 2, detail: undefined });
  assert.match(trip.allow ? '' : (trip.detail ?? ''), /^Deactivating service svc due to excessive incoming connections\. {2}Restarting in 2 seconds\.$/);
  clock.ms += 1999;
  const during = admit(s, v4('127.0.0.2'));
  assert.equal(reason(during), 'connections per second');
  assert.equal(during.allow ? 0 : during.suspendSeconds, undefined, 'no second suspension while off');
  clock.ms += 1;
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
});

test('the default cps (50 10) trips on the 51st connection within one second', () => {
  const { admit } = harness();
  const s = svc();
  for (let i = 0; i < 50; i++) assert.equal(admit(s, v4('127.0.0.1')).allow, true, `connection ${i + 1}`);
  const d = admit(s, v4('127.0.0.1'));
  assert.equal(reason(d), 'connections per second');
  assert.equal(d.allow ? 0 : d.suspendSeconds, 10);
});

// --- instances, per_source, process_limit ----------------------------------------------

test('instances: N held, N+1 refused, admitted again after one ends', () => {
  const { admit, ctl } = harness();
  const s = svc({ instances: 2 });
  const a = v4('127.0.0.1');
  const b = v4('127.0.0.2');
  assert.equal(admit(s, a).allow, true);
  ctl.started(s, a);
  assert.equal(admit(s, b).allow, true);
  ctl.started(s, b);
  assert.equal(reason(admit(s, a)), 'service_limit');
  ctl.finished(s, a);
  assert.equal(admit(s, a).allow, true);
  assert.equal(reason(admit(svc({ instances: 0 }), a)), 'service_limit');
});

test('instances: internal time/daytime and datagram echo/chargen/discard are never counted; stream discard is', () => {
  const { admit, ctl } = harness();
  const daytime = svc({ name: 'daytime', id: 'daytime', type: ['INTERNAL'], instances: 1 });
  for (let i = 0; i < 3; i++) {
    assert.equal(admit(daytime, v4('127.0.0.1')).allow, true);
    ctl.started(daytime, v4('127.0.0.1'));
  }
  const discard = svc({ name: 'discard', id: 'discard', type: ['INTERNAL'], instances: 1 });
  ctl.started(discard, v4('127.0.0.1'));
  assert.equal(reason(admit(discard, v4('127.0.0.1'))), 'service_limit');
  const table: [string, 'stream' | 'dgram', boolean][] = [
    ['time', 'stream', false],
    ['time', 'dgram', false],
    ['daytime', 'dgram', false],
    ['echo', 'dgram', false],
    ['chargen', 'dgram', false],
    ['discard', 'dgram', false],
    ['echo', 'stream', true],
    ['chargen', 'stream', true],
    ['discard', 'stream', true],
  ];
  for (const [name, socket_type, counted] of table) {
    assert.equal(runsCountedServer(svc({ name, socket_type, type: ['INTERNAL'] })), counted, `${name}/${socket_type}`);
  }
  assert.equal(runsCountedServer(svc({ name: 'time' })), true, 'a non-internal service named time forks');
  assert.equal(runsCountedServer(svc({ name: 'trap', flags: ['SENSOR'] })), false);
});

test('per_source: counts the same host whether seen mapped or plain, other hosts unaffected', () => {
  const { admit, ctl } = harness();
  const s = svc({ per_source: 1 });
  ctl.started(s, v6('::ffff:127.0.0.1'));
  assert.equal(reason(admit(s, v4('127.0.0.1'))), 'per_source_limit');
  assert.equal(reason(admit(s, v6('::ffff:127.0.0.1'))), 'per_source_limit');
  assert.equal(admit(s, v4('127.0.0.2')).allow, true);
  assert.equal(admit(s, v6('::1')).allow, true);
  ctl.finished(s, v4('127.0.0.1'));
  assert.equal(admit(s, v6('::ffff:127.0.0.1')).allow, true);
  assert.deepEqual(ctl.snapshot().running, {});
});

test('process_limit (-limit): the total of running servers of every service', () => {
  const { admit, ctl } = harness({ processLimit: 2 });
  const a = svc({ id: 'a' });
  const b = svc({ id: 'b' });
  ctl.started(a, v4('127.0.0.1'));
  assert.equal(admit(b, v4('127.0.0.1')).allow, true);
  ctl.started(b, v4('127.0.0.1'));
  assert.equal(reason(admit(a, v4('127.0.0.2'))), 'process_limit');
  ctl.finished(b, v4('127.0.0.1'));
  assert.equal(admit(a, v4('127.0.0.2')).allow, true);
  assert.equal(processLimitExceeded(3, 2, 2), true, 'INTERCEPT needs two processes');
  assert.equal(processLimitExceeded(null, 100, 1), false);
  assert.equal(processLimitExceeded(0, 100, 1), false, '-limit 0 is no limit, as in xinetd');
});

test('finished() without started() keeps the counts at zero', () => {
  const { admit, ctl } = harness();
  const s = svc({ instances: 1 });
  ctl.finished(s, v4('127.0.0.1'));
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
  assert.equal(ctl.snapshot().runningTotal, 0);
});

// --- load, access_times -----------------------------------------------------------------

test('max_load: refused at or above the limit, with the injected load', () => {
  const { admit, clock } = harness({ load: 1.99 });
  const s = svc({ max_load: 2 });
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
  clock.load = 2;
  const d = admit(s, v4('127.0.0.1'));
  assert.equal(reason(d), 'load');
  assert.equal(d.allow ? '' : d.detail, 'refused connect from 127.0.0.1 due to excessive load');
  clock.load = 50;
  assert.equal(admit(svc({ id: 'other' }), v4('127.0.0.1')).allow, true, 'no max_load, no check');
});

test('access_times: both bounds included, minute resolution, local time', () => {
  const ranges = [
    { start: 2 * 60, end: 9 * 60 },
    { start: 12 * 60, end: 23 * 60 + 59 },
  ];
  const at = (h: number, m: number, s = 0) => new Date(2024, 5, 1, h, m, s);
  assert.equal(withinAccessTimes(ranges, at(1, 59, 59)), false);
  assert.equal(withinAccessTimes(ranges, at(2, 0)), true);
  assert.equal(withinAccessTimes(ranges, at(9, 0, 59)), true);
  assert.equal(withinAccessTimes(ranges, at(9, 1)), false);
  assert.equal(withinAccessTimes(ranges, at(11, 59)), false);
  assert.equal(withinAccessTimes(ranges, at(23, 59, 59)), true);
  assert.equal(withinAccessTimes(ranges, at(0, 0)), false);
  assert.equal(withinAccessTimes([], at(3, 3)), true);
  const { admit, clock } = harness({ date: at(10, 0) });
  const s = svc({ access_times: ranges });
  assert.equal(reason(admit(s, v4('127.0.0.1'))), 'time');
  clock.date = at(12, 0);
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
});

test('load average: parsed from /proc/loadavg text, read asynchronously and cached', async () => {
  assert.equal(parseLoadavg('0.42 0.30 0.25 1/123 4567\n'), 0.42);
  assert.equal(parseLoadavg('garbage'), null);
  let reads = 0;
  let t = 0;
  const src = createLoadSource({
    now: () => t,
    maxAgeMs: 1000,
    read: async () => {
      reads++;
      return `${reads}.50 0 0 1/1 1\n`;
    },
    fallback: () => 7,
  });
  assert.equal(src.current(), 7, 'fallback before the first read');
  await src.refresh();
  assert.equal(src.current(), 1.5);
  assert.equal(reads, 1);
  t = 999;
  assert.equal(src.current(), 1.5);
  assert.equal(reads, 1, 'no read while fresh');
  t = 1000;
  assert.equal(src.current(), 1.5, 'stale value served while refreshing');
  await src.refresh();
  assert.equal(src.current(), 2.5);
  const broken = createLoadSource({ read: () => Promise.reject(new Error('ENOENT')), fallback: () => 3 });
  await broken.refresh();
  assert.equal(broken.current(), 3);
});

// --- SENSOR -----------------------------------------------------------------------------

test('SENSOR: deny_time in minutes bans the source from every service, then expires', () => {
  const { admit, clock, ctl } = harness();
  const trap = svc({ id: 'trap', name: 'trap', flags: ['SENSOR'], deny_time: 1 });
  const real = svc({ id: 'real' });
  assert.equal(admit(real, v4('127.0.0.2')).allow, true);
  const hit = admit(trap, v6('::ffff:127.0.0.2'));
  assert.equal(reason(hit), 'address');
  assert.equal(hit.allow ? '' : hit.detail, 'Adding ::ffff:127.0.0.2 to the global_no_access list for 1 minutes');
  assert.equal(reason(admit(real, v4('127.0.0.2'))), 'address', 'plain and mapped forms are the same source');
  assert.equal(admit(real, v4('127.0.0.1')).allow, true);
  assert.deepEqual(ctl.snapshot().denied, { '127.0.0.2': 60 });
  clock.ms += 59_999;
  assert.equal(reason(admit(real, v4('127.0.0.2'))), 'address');
  clock.ms += 1;
  assert.equal(admit(real, v4('127.0.0.2')).allow, true);
});

test('SENSOR: FOREVER never expires; NEVER and an unset deny_time only log', () => {
  const { admit, clock } = harness();
  const real = svc({ id: 'real' });
  assert.equal(reason(admit(svc({ id: 'never', flags: ['SENSOR'], deny_time: 'NEVER' }), v4('127.0.0.3'))), 'address');
  assert.equal(reason(admit(svc({ id: 'unset', flags: ['SENSOR'], deny_time: null }), v4('127.0.0.3'))), 'address');
  assert.equal(admit(real, v4('127.0.0.3')).allow, true);
  const forever = admit(svc({ id: 'forever', flags: ['SENSOR'], deny_time: 'FOREVER' }), v4('127.0.0.4'));
  assert.equal(forever.allow ? '' : forever.detail, 'Adding 127.0.0.4 to the global_no_access list for -1 minutes');
  clock.ms += 365 * 24 * 3600 * 1000;
  assert.equal(reason(admit(real, v4('127.0.0.4'))), 'address');
});

test('deny list: a new hit only lengthens a ban; the list is bounded', () => {
  const list: DenyList = new Map();
  assert.equal(denyListAdd(list, 'a', 60_000, 0), 'added');
  assert.equal(denyListAdd(list, 'a', 1_000, 10), 'unchanged');
  assert.equal(denyListAdd(list, 'a', 60_000, 10), 'extended');
  assert.equal(denyListHas(list, 'a', 60_009), true);
  assert.equal(denyListHas(list, 'a', 60_010), false);
  assert.equal(list.size, 0, 'expired entries are removed');
  assert.equal(denyListAdd(list, 'b', 'forever', 0), 'added');
  assert.equal(denyListAdd(list, 'b', 60_000, 0), 'unchanged');
  assert.equal(denyListAdd(list, 'c', null, 0), 'log-only');
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assert.equal above narrowed list.size to 0; denyListAdd grows it
  for (let i = 0; list.size < MAX_GLOBAL_NO_ACCESS; i++) denyListAdd(list, `x${i}`, 'forever', 0);
  assert.equal(denyListAdd(list, 'late', 60_000, 0), 'full');
  assert.deepEqual([sensorBanMs(2), sensorBanMs('FOREVER'), sensorBanMs('NEVER'), sensorBanMs(null), sensorBanMs(0)], [120_000, 'forever', null, null, null]);
  // xinetd's FOREVER is -1 (deny_time = -1, or 4294967295 that wraps to it); other negative
  // numbers ban until its next scrub of the list.
  assert.deepEqual([sensorBanMs(-1), sensorBanMs(-5)], ['forever', 60_000]);
});

// --- per_source_cps ---------------------------------------------------------------------

test('per_source_cps bucket: burst at once, then refills at the rate', () => {
  let b = bucketTake(undefined, 2, 3, 0);
  assert.equal(b.ok, true);
  b = bucketTake(b.bucket, 2, 3, 0);
  b = bucketTake(b.bucket, 2, 3, 0);
  assert.equal(b.ok, true, 'third of a burst of 3');
  b = bucketTake(b.bucket, 2, 3, 0);
  assert.equal(b.ok, false);
  b = bucketTake(b.bucket, 2, 3, 499);
  assert.equal(b.ok, false, 'not yet one token after 499 ms at 2/s');
  b = bucketTake(b.bucket, 2, 3, 500);
  assert.equal(b.ok, true);
  assert.equal(bucketIdle(b.bucket, 2, 3, 500 + 1499), false);
  assert.equal(bucketIdle(b.bucket, 2, 3, 500 + 1500), true);
});

test('per_source_cps refuses only that source; other sources and later connections pass', () => {
  const { admit, clock } = harness();
  const s = svc({ per_source_cps: [1, 2] });
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
  assert.equal(admit(s, v6('::ffff:127.0.0.1')).allow, true);
  assert.equal(reason(admit(s, v4('127.0.0.1'))), 'per_source_cps');
  assert.equal(admit(s, v4('127.0.0.2')).allow, true, 'another source is not affected');
  assert.equal(admit(s, v6('::1')).allow, true);
  clock.ms += 1000;
  assert.equal(admit(s, v4('127.0.0.1')).allow, true, 'refilled after one second');
  assert.equal(reason(admit(s, v4('127.0.0.1'))), 'per_source_cps');
});

test('per-source tables stay bounded, idle entries going first', () => {
  let now = 0;
  const t = new BoundedTable<{ last: number }>(10, (v) => now - v.last >= 1000);
  for (let i = 0; i < 10; i++) t.set(`old${i}`, { last: 0 });
  now = 5000;
  t.set('busy', { last: 5000 });
  assert.ok(t.size <= 10);
  assert.equal(t.get('busy')?.last, 5000);
  assert.equal(t.get('old0'), undefined, 'idle entries were dropped');
  for (let i = 0; i < 100; i++) t.set(`new${i}`, { last: 5000 });
  assert.ok(t.size <= 10);
  assert.notEqual(t.get('new99'), undefined, 'the most recent entry survives');
  const { admit } = harness();
  const s = svc({ per_source_cps: [1, 1], cps: [0, 0] });
  for (let i = 0; i < 12_000; i++) admit(s, v6(`2001:db8::${i.toString(16)}`));
  assert.equal(admit(s, v6('2001:db8::ffff:1')).allow, true);
});

// --- classic inetd rates ----------------------------------------------------------------

test('inetd rate (nowait.N): the N-th start within the window trips, off for shutdown_seconds', () => {
  const rate = inetdRateOf('openbsd', 3);
  let s = INETD_RATE_FRESH;
  const trips: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const r = inetdRateStep(s, rate, 100 + i);
    s = r.state;
    trips.push(r.trip);
  }
  assert.deepEqual(trips, [false, false, true]);
  assert.deepEqual(s, INETD_RATE_FRESH, 'the count restarts after a trip');
  // more than per_seconds after the window opened: a new window
  let w = inetdRateStep(INETD_RATE_FRESH, rate, 0).state;
  w = inetdRateStep(w, rate, 30).state;
  assert.deepEqual(inetdRateStep(w, rate, 61), { state: { count: 1, windowStart: 61 }, trip: false });

  const { admit, clock } = harness();
  const svcRate = svc({ dialect: 'inetd', inetd_rate: rate, cps: [0, 0], protocol: 'tcp', name: 'finger' });
  assert.equal(admit(svcRate, v4('127.0.0.1')).allow, true);
  assert.equal(admit(svcRate, v4('127.0.0.1')).allow, true);
  const d = admit(svcRate, v4('127.0.0.1'));
  assert.deepEqual({ ...d }, { allow: false, reason: 'inetd_rate', suspendSeconds: 600, detail: 'finger/tcp server failing (looping), service terminated' });
  clock.ms += 599_999;
  assert.equal(reason(admit(svcRate, v4('127.0.0.1'))), 'inetd_rate');
  clock.ms += 1;
  assert.equal(admit(svcRate, v4('127.0.0.1')).allow, true);
});

/** Starts at one second apart from a fresh window: the 1-based number of the first that trips, or null. */
function firstTrip(rate: InetdRate, starts: number, gapSec = 0): number | null {
  let s = INETD_RATE_FRESH;
  for (let i = 1; i <= starts; i++) {
    const r = inetdRateStep(s, rate, 100 + (i - 1) * gapSec);
    if (r.trip) return i;
    s = r.state;
  }
  return null;
}

test('inetd rate rules per flavour: OpenBSD trips at the N-th start, GNU at the (N+1)-th, and their defaults', () => {
  // OpenBSD (se_count >= se_max): nowait.5 serves 4, the 5th trips.
  assert.equal(firstTrip(inetdRateOf('openbsd', 5), 10), 5);
  assert.equal(inetdRateServed(inetdRateOf('openbsd', 5)), 4);
  // GNU inetutils (se_count > se_max): nowait.5 serves 5, the 6th trips.
  assert.equal(firstTrip(inetdRateOf('gnu', 5), 10), 6);
  assert.equal(inetdRateServed(inetdRateOf('gnu', 5)), 5);
  // .1: OpenBSD serves the first only (the first start is never checked); GNU serves one too, the second trips.
  assert.equal(firstTrip(inetdRateOf('openbsd', 1), 3), 2);
  assert.equal(firstTrip(inetdRateOf('gnu', 1), 3), 2);
  // Defaults: OpenBSD TOOMANY 256 (the 256th trips), GNU TOOMANY 1000 (the 1000th trips).
  const o = inetdRateOf('openbsd', null);
  const g = inetdRateOf('gnu', null);
  assert.deepEqual(o, { flavour: 'openbsd', max: 256, written: false, per_seconds: 60, shutdown_seconds: 600 });
  assert.deepEqual(g, { flavour: 'gnu', max: 1000, written: false, per_seconds: 60, shutdown_seconds: 600 });
  assert.equal(firstTrip(o, 300), 256);
  assert.equal(firstTrip(g, 1200), 1000);
  // GNU keeps its default as a ceiling: nowait.2000 still trips at the 1000th start; OpenBSD has none.
  assert.equal(firstTrip(inetdRateOf('gnu', 2000), 2500), 1000);
  assert.equal(inetdRateServed(inetdRateOf('gnu', 2000)), 999);
  assert.equal(firstTrip(inetdRateOf('openbsd', 2000), 2500), 2000);
  // The rows behind it.
  assert.equal(INETD_RATE_RULES.openbsd.writtenTrips, 'reach');
  assert.equal(INETD_RATE_RULES.gnu.writtenTrips, 'exceed');
});

test('inetd rate window: past 60 s the count restarts at 1 (the start that would trip is served), both flavours', () => {
  for (const flavour of ['openbsd', 'gnu'] as const) {
    const rate = inetdRateOf(flavour, 3);
    const past = flavour === 'openbsd' ? 3 : 4; // the count that is past the limit
    let s = INETD_RATE_FRESH;
    for (let i = 1; i < past; i++) s = inetdRateStep(s, rate, 100).state;
    // exactly 60 s after the window opened: still inside it (inetd's test is `> CNT_INTVL`)
    assert.equal(inetdRateStep(s, rate, 160).trip, true, `${flavour}: 60 s is inside the window`);
    const r = inetdRateStep(s, rate, 161);
    assert.deepEqual(r, { state: { count: 1, windowStart: 161 }, trip: false }, `${flavour}: 61 s opens a new window`);
    // spread over more than a minute, starts never trip
    assert.equal(firstTrip(rate, 20, 31), null, `${flavour}: one start every 31 s`);
  }
});

test('FreeBSD max-child queueing: paused at the limit, never for a refusing limit or no limit', () => {
  const q = { instances: 2, instances_at_limit: 'queue' as const };
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => acceptPaused(q, n)),
    [false, false, true, true],
  );
  assert.equal(acceptPaused({ instances: 2, instances_at_limit: 'refuse' }, 5), false);
  assert.equal(acceptPaused({ instances: null, instances_at_limit: 'queue' }, 5), false);
  assert.equal(acceptPaused({ instances: 0, instances_at_limit: 'queue' }, 5), false, 'max-child 0 is no limit');
});

test('FreeBSD per_source_per_minute: every attempt counts; refused above the limit until the minute passes', () => {
  const st = perMinuteFresh();
  const refused: boolean[] = [];
  for (let i = 0; i < 4; i++) refused.push(perMinuteStep(st, 3, 100));
  assert.deepEqual(refused, [false, false, false, true]);
  assert.equal(perMinuteStep(st, 3, 155), true, 'still inside the six 10-second slots');
  assert.equal(perMinuteIdle(st, 155), false);
  assert.equal(perMinuteStep(st, 3, 161), false, 'the slots of second 100 are out of the window (tick 16 vs 10)');
  assert.equal(perMinuteIdle(st, 230), true);

  const { admit, clock } = harness();
  const s = svc({ dialect: 'inetd-freebsd', per_source_per_minute: 2, cps: [0, 0], name: 'ftp' });
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
  assert.equal(admit(s, v6('::ffff:127.0.0.1')).allow, true);
  const d = admit(s, v4('127.0.0.1'));
  assert.equal(reason(d), 'per_source_limit');
  assert.equal(d.allow ? '' : d.detail, 'ftp from 127.0.0.1 exceeded counts/min (limit 2/min)');
  assert.equal(admit(s, v4('127.0.0.2')).allow, true, 'other sources pass');
  clock.ms += 70_000;
  assert.equal(admit(s, v4('127.0.0.1')).allow, true);
});
