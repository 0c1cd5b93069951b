// The per-connection shortcuts of the performance work give exactly what the plain
// computations give: spawn specs from a per-service template, the daytime reply and the log
// timestamp cached per second, log lines batched per turn of the event loop, and every
// suppressed FAIL count reported at shutdown.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { daytimeBytes, daytimeText, localZoneAbbreviation } from '../../../src/serve/builtins.js';
import { buildSpawnSpec, type ChildContext } from '../../../src/spawn/child-env.js';
import { FailLogLimiter } from '../../../src/log/fail-log-limiter.js';
import { DAEMON_V8_FLAGS, tuneHeapForDaemon } from '../../../src/app/heap-tuning.js';
import { fromEnv } from '../../../src/app/options.js';
import { LineBatch } from '../../../src/log/line-batch.js';
import { xinetdTimestamp } from '../../../src/log/log-format.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import { cachedSpawnSpec } from '../../../src/spawn/spawn-spec-cache.js';
import { SysDb } from '../../../src/sys/sysdb.js';
import type { Service } from '../../../src/table.js';

function service(attrs: Partial<Service> = {}): Service {
  return Object.assign(newService('svc', 'xinetd', { file: 't.conf', line: 1 }), { server: '/usr/sbin/in.svcd', server_argv: ['in.svcd', '-v'] }, attrs);
}

const v4: Peer = { address: '::ffff:127.0.0.1', port: 40000, family: 'IPv6' };
const v6: Peer = { address: '::1', port: 40001, family: 'IPv6' };

function context(env: Record<string, string | undefined>): ChildContext {
  return {
    env,
    db: new SysDb({ services: '/nonexistent', protocols: '/nonexistent', passwd: '/nonexistent', group: '/nonexistent' }),
    uid: 1000,
    umask: 0o022,
  };
}

describe('cachedSpawnSpec', () => {
  test('gives what buildSpawnSpec gives, for each client', () => {
    const ctx = context({ PATH: '/usr/bin:/bin', HOME: '/root', UNSET: undefined });
    const cases: Array<Partial<Service>> = [
      {},
      { env: ['A=1', 'PATH=/opt/bin'] },
      { passenv: ['HOME'], env: ['B=2'] },
      { passenv: [] },
      { umask: 0o077, nice: 5 },
    ];
    for (const attrs of cases) {
      const s = service(attrs);
      for (const peer of [v4, v6, null, v4]) {
        assert.deepEqual(cachedSpawnSpec(s, peer, ctx), buildSpawnSpec(s, peer, ctx), JSON.stringify(attrs));
      }
    }
  });

  test('an inherited REMOTE_HOST is replaced in place, as xinetd does', () => {
    const ctx = context({ A: '1', REMOTE_HOST: 'stale', B: '2' });
    const s = service();
    const r = cachedSpawnSpec(s, v6, ctx);
    assert.ok(r.ok);
    assert.deepEqual(r.spec.env, ['A=1', 'REMOTE_HOST=::1', 'B=2']);
    assert.deepEqual(cachedSpawnSpec(s, v4, ctx), buildSpawnSpec(s, v4, ctx));
  });

  test('each call gets its own environment array', () => {
    const ctx = context({ A: '1' });
    const s = service();
    const a = cachedSpawnSpec(s, v4, ctx);
    const b = cachedSpawnSpec(s, v6, ctx);
    assert.ok(a.ok && b.ok);
    assert.notEqual(a.spec.env, b.spec.env);
    assert.deepEqual(a.spec.env, ['A=1', 'REMOTE_HOST=::ffff:127.0.0.1']);
  });

  test('a new Service object (a reload) gets a fresh template; errors are kept as errors', () => {
    const ctx = context({ A: '1' });
    assert.deepEqual(cachedSpawnSpec(service({ env: ['X=1'] }), v4, ctx), buildSpawnSpec(service({ env: ['X=1'] }), v4, ctx));
    const noServer = service({ server: null });
    assert.deepEqual(cachedSpawnSpec(noServer, v4, ctx), buildSpawnSpec(noServer, v4, ctx));
    assert.equal(cachedSpawnSpec(noServer, v4, ctx).ok, false);
  });
});

describe('per-second caches', () => {
  test('daytimeBytes is daytimeText of the same second', () => {
    for (const d of [
      new Date(2026, 10, 24, 15, 52, 59, 10),
      new Date(2026, 10, 24, 15, 52, 59, 990),
      new Date(2026, 10, 24, 15, 53, 0, 0),
      new Date(2026, 6, 1, 12, 0, 0),
    ]) {
      assert.equal(daytimeBytes(d).toString('latin1'), daytimeText(d, localZoneAbbreviation(d)));
    }
  });

  test('within one second the same reply object is reused', () => {
    const a = daytimeBytes(new Date(2030, 0, 2, 3, 4, 5, 100));
    const b = daytimeBytes(new Date(2030, 0, 2, 3, 4, 5, 900));
    assert.equal(a, b);
  });

  test('xinetdTimestamp keeps up with every second, in order and out of order', () => {
    const base = new Date(2026, 10, 24, 23, 59, 58).getTime();
    const seconds = [0, 0, 1, 2, 2, 1, 0, 3600];
    for (const s of seconds) {
      const d = new Date(base + s * 1000 + 250);
      const p2 = (n: number): string => String(n).padStart(2, '0');
      const expected = `${p2(d.getFullYear() % 100)}/${d.getMonth() + 1}/${d.getDate()}@${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
      assert.equal(xinetdTimestamp(d), expected);
    }
  });

  test('the zone abbreviation does not need Intl for a zone file that names it', () => {
    const before = process.env['TZ'];
    try {
      process.env['TZ'] = 'UTC';
      assert.equal(localZoneAbbreviation(new Date(2026, 0, 1)), 'UTC');
      assert.match(daytimeBytes(new Date(Date.UTC(2031, 1, 3, 4, 5, 6))).toString('latin1'), /^03 FEB 2031 04:05:06 UTC\r\n$/);
    } finally {
      if (before === undefined) delete process.env['TZ'];
      else process.env['TZ'] = before;
    }
  });
});

describe('LineBatch', () => {
  test('lines added in one turn of the event loop are written together, in order', async () => {
    const out: Array<[string, number]> = [];
    const b = new LineBatch((text, lines) => out.push([text, lines]));
    b.add('one\n', 4);
    b.add('two\n', 4);
    assert.equal(b.pendingBytes, 8);
    assert.deepEqual(out, []);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out, [['one\ntwo\n', 2]]);
    b.add('three\n', 6);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out, [
      ['one\ntwo\n', 2],
      ['three\n', 1],
    ]);
  });

  test('with a delay, lines of several turns of the loop go out together once it has passed; flush() does not wait', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
    const out: Array<[string, number]> = [];
    const b = new LineBatch((text, lines) => out.push([text, lines]), 5);
    b.add('one\n', 4);
    t.mock.timers.tick(1);
    b.add('two\n', 4);
    t.mock.timers.tick(3);
    assert.equal(out.length, 0, 'nothing before 5 ms'); // (deepEqual to [] would narrow `out` to never[] for what follows)
    t.mock.timers.tick(1);
    assert.deepEqual(out, [['one\ntwo\n', 2]]);
    b.add('three\n', 6);
    b.flush();
    assert.deepEqual(out.at(-1), ['three\n', 1]);
    t.mock.timers.tick(10);
    b.add('four\n', 5);
    assert.equal(b.discard(), 1);
    t.mock.timers.tick(10);
    assert.equal(out.length, 2, 'a flushed or discarded batch is not written again by its timer');
  });

  test('flush() writes at once; discard() drops and counts; nothing is written twice', async () => {
    const out: string[] = [];
    const b = new LineBatch((text) => out.push(text));
    b.add('a\n', 2);
    b.flush();
    assert.deepEqual(out, ['a\n']);
    b.add('b\n', 2);
    b.add('c\n', 2);
    assert.equal(b.discard(), 2);
    assert.equal(b.pendingBytes, 0);
    b.flush();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out, ['a\n']);
  });
});

describe('FailLogLimiter.flush(all)', () => {
  test('reports the counts of keys still busy, which a plain flush keeps', () => {
    let now = 0;
    const limiter = new FailLogLimiter(() => now);
    const key = { serviceId: 's', source: '127.0.0.1', reason: 'service_limit' };
    let written = 0;
    for (let i = 0; i < 100; i++) if (limiter.decide(key).write) written++;
    now = 10; // the bucket is far from idle
    assert.deepEqual(limiter.flush(), []);
    const all = limiter.flush(true);
    assert.deepEqual(all, [{ ...key, count: 100 - written }]);
    assert.equal(limiter.size, 0);
    assert.deepEqual(limiter.flush(true), []);
  });
});

describe('tuneHeapForDaemon', () => {
  test('applies the daemon flags, unless told to keep the defaults', () => {
    assert.deepEqual(tuneHeapForDaemon(fromEnv({ TSINETD_V8_DEFAULTS: '1' })), []);
    assert.deepEqual(tuneHeapForDaemon(fromEnv({})), DAEMON_V8_FLAGS);
  });
});
