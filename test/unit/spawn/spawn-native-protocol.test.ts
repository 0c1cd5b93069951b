// The pure half of the native spawner: the requests it sends to tsinetd-spawnd, the replies
// it accepts from it, signal numbers and the error texts a failed spawn produces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describeErrno } from '../../../src/sys/errno.js';
import { NativeSpawnError, signalNumber } from '../../../src/spawn/native/spawn-native-errors.js';
import {
  batchMessage,
  batchMessages,
  encodeSpawnRequest,
  parseHelperMessage,
  parseHelperRequest,
  requestBytes,
  requests,
  type PlainRequest,
  type Sized,
  type SpawnRequest,
} from '../../../src/spawn/native/spawnd-messages.js';
import { MAX_REPLY_BYTES, MAX_REQUEST_BYTES } from '../../../src/spawn/native/spawnd-protocol.js';
import type { SpawnSpec } from '../../../src/spawn/spawn-types.js';

const base: SpawnSpec = {
  path: '/usr/sbin/in.telnetd',
  argv: ['in.telnetd', '-h'],
  env: ['PATH=/bin', 'REMOTE_HOST=::ffff:127.0.0.1'],
  uid: 65534,
  gid: 65534,
  groups: [1, 2],
  umask: 0o022,
  nice: 10,
  rlimits: { as: 1048576, cpu: 'unlimited', files: 64 },
};

test('a spec becomes a spawn request with every field the helper reads', () => {
  const r = encodeSpawnRequest(7, base);
  assert.ok(r.ok);
  assert.deepEqual(r.request, {
    cmd: 'spawn',
    id: 7,
    path: '/usr/sbin/in.telnetd',
    argv: ['in.telnetd', '-h'],
    env: ['PATH=/bin', 'REMOTE_HOST=::ffff:127.0.0.1'],
    uid: 65534,
    gid: 65534,
    groups: [1, 2],
    umask: 18,
    nice: 10,
    rlimits: { as: 1048576, cpu: 'unlimited', files: 64 },
  } satisfies SpawnRequest);
});

test('unset ids, groups, nice and rlimits are sent as null or left out', () => {
  const r = encodeSpawnRequest(1, { ...base, uid: null, gid: null, groups: null, nice: null, rlimits: {} });
  assert.ok(r.ok);
  assert.equal(JSON.stringify(r.request).includes('undefined'), false);
  assert.deepEqual([r.request.uid, r.request.gid, r.request.groups, r.request.nice, r.request.rlimits], [null, null, null, null, {}]);
  // an empty list is kept: it means "no supplementary groups at all"
  const none = encodeSpawnRequest(2, { ...base, groups: [] });
  assert.ok(none.ok);
  assert.deepEqual(none.request.groups, []);
});

test('specs the helper would refuse are refused here, with the reason', () => {
  const cases: Array<[Partial<SpawnSpec>, RegExp]> = [
    [{ path: '' }, /path/],
    [{ path: '/bin/a\0b' }, /path/],
    [{ argv: [] }, /argv/],
    [{ argv: ['a', 'b\0'] }, /argv/],
    [{ env: ['A=\0'] }, /env/],
    [{ uid: -1 }, /uid/],
    [{ uid: 2 ** 32 - 1 }, /uid/],
    [{ gid: 1.5 }, /gid/],
    [{ groups: [1, -2] }, /groups/],
    [{ groups: new Array<number>(65537).fill(1) }, /groups/],
    [{ umask: 0o1000 }, /umask/],
    [{ umask: -1 }, /umask/],
    [{ nice: 41 }, /nice/],
    [{ nice: 0.5 }, /nice/],
    [{ rlimits: { files: -1 } }, /rlimit_files/],
    [{ rlimits: { as: 2 ** 60 } }, /rlimit_as/],
    [{ env: ['BIG=' + 'x'.repeat(MAX_REQUEST_BYTES)] }, /larger than/],
  ];
  for (const [over, why] of cases) {
    const r = encodeSpawnRequest(1, { ...base, ...over });
    assert.equal(r.ok, false, JSON.stringify(over).slice(0, 80));
    assert.match(r.error, why);
  }
});

test('any valid spec survives the JSON round trip unchanged', () => {
  const cstring = fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\0'));
  const id = fc.integer({ min: 0, max: 0xfffffffe });
  const rlimit = fc.oneof(fc.constant('unlimited' as const), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
  fc.assert(
    fc.property(
      fc.record({
        path: cstring.filter((s) => s !== ''),
        argv: fc.array(cstring, { minLength: 1, maxLength: 5 }),
        env: fc.array(cstring, { maxLength: 5 }),
        uid: fc.option(id),
        gid: fc.option(id),
        groups: fc.option(fc.array(id, { maxLength: 5 })),
        umask: fc.integer({ min: 0, max: 0o777 }),
        nice: fc.option(fc.integer({ min: -40, max: 40 })),
        rlimits: fc.record({ as: rlimit, cpu: rlimit, data: rlimit, rss: rlimit, stack: rlimit, files: rlimit }, { requiredKeys: [] }),
      }),
      fc.nat(),
      (spec, n) => {
        const r = encodeSpawnRequest(n, spec);
        assert.ok(r.ok, r.ok ? '' : r.error);
        // The size bound batches are cut by is never below the real size.
        assert.ok(r.bytes >= requestBytes(r.request), `${r.bytes} < ${requestBytes(r.request)}`);
        assert.deepEqual(parseHelperRequest(JSON.parse(JSON.stringify(r.request))), r.request);
        // (fast-check builds the rlimits record without a prototype)
        assert.deepEqual(JSON.parse(JSON.stringify(r.request)), { cmd: 'spawn', id: n, ...spec, rlimits: { ...spec.rlimits } });
      },
    ),
  );
});

test('helper replies are accepted only with the expected shape', () => {
  assert.deepEqual(parseHelperMessage({ t: 'ready', pid: 10, version: 3, children: 'clone' }), { t: 'ready', pid: 10, version: 3, children: 'clone' });
  assert.deepEqual(parseHelperMessage({ t: 'ready', pid: 10, version: 1 }), { t: 'ready', pid: 10, version: 1, children: null });
  assert.deepEqual(parseHelperMessage({ t: 'spawned', id: 3, pid: 42 }), { t: 'spawned', id: 3, pid: 42 });
  assert.deepEqual(parseHelperMessage({ t: 'exit', pid: 42, code: 0, signal: null }), { t: 'exit', pid: 42, code: 0, signal: null });
  assert.deepEqual(parseHelperMessage({ t: 'exit', pid: 42, code: null, signal: 9 }), { t: 'exit', pid: 42, code: null, signal: 9 });
  assert.deepEqual(parseHelperMessage({ t: 'error', id: 3, pid: null, stage: 'exec', errno: 2, message: 'No such file or directory' }), {
    t: 'error',
    id: 3,
    pid: null,
    stage: 'exec',
    errno: 2,
    message: 'No such file or directory',
  });
  assert.deepEqual(parseHelperMessage({ t: 'warn', message: 'x' }), { t: 'warn', message: 'x' });
  assert.deepEqual(parseHelperMessage({ t: 'pong', id: 1, children: 0 }), { t: 'pong', id: 1, children: 0 });
  assert.deepEqual(parseHelperMessage({ t: 'sender', id: 7, addr: '::ffff:127.0.0.2', port: 1069 }), {
    t: 'sender',
    id: 7,
    addr: '::ffff:127.0.0.2',
    port: 1069,
  });
  for (const bad of [
    null,
    'ready',
    [1],
    {},
    { t: 'spawned', id: '3', pid: 42 },
    { t: 'spawned', id: 3 },
    { t: 'exit', pid: 42, code: null, signal: null },
    { t: 'exit', pid: 42, code: 1, signal: 9 },
    { t: 'exit', pid: 1.5, code: 0, signal: null },
    { t: 'error', id: 3, pid: null, stage: 5, errno: 2 },
    { t: 'warn' },
    { t: 'sender', id: 7, addr: 127, port: 1069 },
    { t: 'sender', id: 7, addr: '127.0.0.2' },
    { cmd: 'NODE_HANDLE_ACK' },
  ]) {
    assert.equal(parseHelperMessage(bad), null, JSON.stringify(bad));
  }
});

test('signals by name or number', () => {
  assert.equal(signalNumber('SIGTERM'), 15);
  assert.equal(signalNumber('SIGKILL'), 9);
  assert.equal(signalNumber(1), 1);
  assert.equal(signalNumber(0), 0);
  assert.equal(signalNumber(-1), null);
  assert.equal(signalNumber(65), null);
  assert.equal(signalNumber('SIGNOPE' as NodeJS.Signals), null);
});

test('spawn failures carry errno, step and program, in words an administrator can act on', () => {
  const exec = new NativeSpawnError('/usr/sbin/in.fingerd', 'exec', 2, 'No such file or directory');
  assert.equal(exec.code, 'ENOENT');
  assert.equal(exec.errno, -2);
  assert.equal(exec.syscall, 'execve');
  assert.equal(exec.stage, 'exec');
  assert.equal(exec.path, '/usr/sbin/in.fingerd');
  assert.equal(exec.message, 'cannot exec /usr/sbin/in.fingerd: no such file or directory (ENOENT)');
  assert.equal(new NativeSpawnError('/bin/x', 'setuid', 1, '').message, 'cannot start /bin/x: setuid failed: operation not permitted (EPERM)');
  assert.equal(
    new NativeSpawnError('/bin/x', 'fork', 11, '').message,
    'cannot start /bin/x: fork failed in the spawn helper: resource temporarily unavailable (EAGAIN)',
  );
  assert.equal(
    new NativeSpawnError('/bin/x', 'recv', 24, 'the socket was lost in transit').message,
    'cannot start /bin/x: the socket was lost in transit (EMFILE)',
  );
  assert.equal(new NativeSpawnError('/bin/x', 'request', 22, 'argv must be ...').message, 'cannot start /bin/x: argv must be ... (EINVAL)');
  assert.deepEqual(describeErrno(100000), ['errno 100000', 'unknown error']);
});

test('a spawn for a connection the helper holds names it, and its size counts it', () => {
  const r = encodeSpawnRequest(3, base, { cid: 12 });
  assert.ok(r.ok);
  assert.equal(r.request.cid, 12);
  assert.ok(JSON.stringify(r.request).startsWith('{"cmd":"spawn","id":3,"cid":12,'));
  assert.equal(encodeSpawnRequest(3, base, { cid: -1 }).ok, false);
  // A unix datagram socket the helper holds is named by its lid instead (protocol 5).
  const u = encodeSpawnRequest(5, base, { lid: 7 });
  assert.ok(u.ok);
  assert.ok(JSON.stringify(u.request).startsWith('{"cmd":"spawn","id":5,"lid":7,"path":'));
  assert.equal(u.request.cid, undefined);
  assert.equal(encodeSpawnRequest(5, base, { lid: 1.5 }).ok, false);
  // A large group list is measured too (65536 ids of 10 digits: over 700 kB).
  const big = encodeSpawnRequest(4, { ...base, groups: new Array<number>(65536).fill(4_000_000_000) });
  assert.ok(big.ok);
  assert.ok(big.bytes >= requestBytes(big.request));
});

test('requests other than spawn come from one builder each, with a size bound that holds', () => {
  const built: Array<Sized<PlainRequest>> = [
    requests.kill(2 ** 31 - 1, 64),
    requests.ping(Number.MAX_SAFE_INTEGER),
    requests.unlisten(Number.MAX_SAFE_INTEGER),
    requests.accepting(7, false),
    requests.accepting(7, true),
    requests.drop(Number.MAX_SAFE_INTEGER),
    requests.reply(Number.MAX_SAFE_INTEGER, Buffer.alloc(MAX_REPLY_BYTES, 0xff))!,
  ];
  for (const b of built) {
    assert.ok(b.bytes >= requestBytes(b.request), JSON.stringify(b.request).slice(0, 60));
    assert.deepEqual(parseHelperRequest(JSON.parse(JSON.stringify(b.request))), b.request);
  }
  assert.deepEqual(
    built.slice(3, 5).map((b) => b.request),
    [
      { cmd: 'pause', lid: 7 },
      { cmd: 'resume', lid: 7 },
    ],
  );
  // The helper writes at most MAX_REPLY_BYTES: a longer answer cannot be asked for.
  assert.equal(requests.reply(1, Buffer.alloc(MAX_REPLY_BYTES + 1)), null);
  assert.deepEqual(requests.listen(3), { cmd: 'listen', lid: 3 });
  assert.deepEqual(requests.peek(4), { cmd: 'peek', id: 4 });
});

test('requests of the wrong shape are not read', () => {
  for (const bad of [
    null,
    { cmd: 'frob' },
    { cmd: 'kill', pid: '1', sig: 15 },
    { cmd: 'reply', cid: 1 },
    { cmd: 'batch', list: [{ cmd: 'listen', lid: 1 }] },
    { cmd: 'batch', list: [{ cmd: 'batch', list: [] }] },
    { cmd: 'spawn', id: 1, path: '/bin/true', argv: ['true'], env: [], uid: null, gid: null, groups: null, umask: 18, nice: null, rlimits: { core: 1 } },
    { cmd: 'spawn', id: 1, path: '/bin/true', argv: 'true', env: [], uid: null, gid: null, groups: null, umask: 18, nice: null, rlimits: {} },
  ]) {
    assert.equal(parseHelperRequest(bad), null, JSON.stringify(bad));
  }
});

test('batches are cut by count and by size, in order, and none is over the request limit', () => {
  const pings = Array.from({ length: 130 }, (_, i) => requests.ping(i));
  const byCount = batchMessages(pings, 64);
  assert.deepEqual(
    byCount.map((b) => b.length),
    [64, 64, 2],
  );
  assert.deepEqual(
    byCount.flat().map((r) => (r as { id: number }).id),
    pings.map((_, i) => i),
  );
  // Spawns of about 1.5 MB each (a large environment): two fit in one line, not three.
  const env = ['BIG=' + 'x'.repeat(1_500_000)];
  const spawns = [1, 2, 3, 4, 5].map((id) => {
    const r = encodeSpawnRequest(id, { ...base, env }, { cid: id });
    assert.ok(r.ok);
    return { request: r.request, bytes: r.bytes };
  });
  const bySize = batchMessages([...spawns, requests.drop(9)], 64);
  assert.deepEqual(
    bySize.map((b) => b.length),
    [2, 2, 2],
  );
  for (const b of bySize) assert.ok(requestBytes(batchMessage(b)) <= MAX_REQUEST_BYTES, `${requestBytes(batchMessage(b))}`);
  // One request alone is sent as itself.
  assert.deepEqual(batchMessage([requests.drop(1).request]), { cmd: 'drop', cid: 1 });
  assert.equal(batchMessage(byCount[2]!).cmd, 'batch');
});
