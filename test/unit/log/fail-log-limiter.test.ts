import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FAIL_LOG_LIMITS, FailLogLimiter, type FailLogKey } from '../../../src/log/fail-log-limiter.js';

const key = (source: string, reason = 'address', serviceId = 'ssh'): FailLogKey => ({ serviceId, source, reason });

test('a burst of 5 lines is written, then one per second with the count of what was dropped', () => {
  let now = 0;
  const lim = new FailLogLimiter(() => now);
  const verdicts = Array.from({ length: 8 }, () => lim.decide(key('10.0.0.1')));
  assert.deepEqual(verdicts.slice(0, 5), Array(5).fill({ write: true, suppressed: 0 }));
  assert.deepEqual(verdicts.slice(5), Array(3).fill({ write: false }));
  now = 999;
  assert.deepEqual(lim.decide(key('10.0.0.1')), { write: false });
  now = 1000;
  assert.deepEqual(lim.decide(key('10.0.0.1')), { write: true, suppressed: 4 });
  assert.deepEqual(lim.decide(key('10.0.0.1')), { write: false });
});

test('sources, reasons and services are limited separately: every offender gets its first line', () => {
  const lim = new FailLogLimiter(() => 0);
  for (let i = 0; i < 10; i++) lim.decide(key('10.0.0.1'));
  assert.deepEqual(lim.decide(key('10.0.0.2')), { write: true, suppressed: 0 });
  assert.deepEqual(lim.decide(key('10.0.0.1', 'per_source_limit')), { write: true, suppressed: 0 });
  assert.deepEqual(lim.decide(key('10.0.0.1', 'address', 'telnet')), { write: true, suppressed: 0 });
});

test('flush() reports the counts of keys that went quiet, once, and forgets them', () => {
  let now = 0;
  const lim = new FailLogLimiter(() => now);
  for (let i = 0; i < 12; i++) lim.decide(key('10.0.0.1'));
  lim.decide(key('10.0.0.2'));
  assert.deepEqual(lim.flush(), [], 'nothing is quiet yet');
  now = 10_000;
  assert.deepEqual(lim.flush(), [{ serviceId: 'ssh', source: '10.0.0.1', reason: 'address', count: 7 }]);
  assert.deepEqual(lim.flush(), []);
  assert.equal(lim.size, 0);
});

test('a flood from many sources is capped by the global bucket; the counts are kept per key', () => {
  let now = 0;
  const lim = new FailLogLimiter(() => now, { ...DEFAULT_FAIL_LOG_LIMITS, globalBurst: 3, globalPerSecond: 1 });
  const written = Array.from({ length: 10 }, (_, i) => lim.decide(key(`10.0.1.${i}`))).filter((v) => v.write).length;
  assert.equal(written, 3);
  now = 1000;
  // the key refused by the global cap kept its own token: its next line is written with the count
  assert.deepEqual(lim.decide(key('10.0.1.3')), { write: true, suppressed: 1 });
});

test('memory stays bounded; evicted keys with counts are reported by the next flush', () => {
  const lim = new FailLogLimiter(() => 0, { ...DEFAULT_FAIL_LOG_LIMITS, maxKeys: 100, globalBurst: 1e9, globalPerSecond: 1e9 });
  for (let i = 0; i < 6; i++) lim.decide(key('first'));
  for (let i = 0; i < 1000; i++) lim.decide(key(`s${i}`));
  assert.ok(lim.size <= 100);
  const reports = lim.flush();
  assert.deepEqual(
    reports.find((r) => r.source === 'first'),
    { serviceId: 'ssh', source: 'first', reason: 'address', count: 1 },
  );
});
