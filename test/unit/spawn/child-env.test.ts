// What a server gets from xinetd, computed from its Service: environment, credentials, umask,
// argv; and which attributes a spawner cannot apply.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  applyNice,
  buildSpawnSpec,
  childArgv,
  childCredentials,
  childEnvironment,
  childUmask,
  daemonUmaskFrom,
  NO_ADDRESS,
} from '../../../src/spawn/child-env.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import { NODE_SPAWNER_CAPABILITIES } from '../../../src/spawn/spawn-node.js';
import { NATIVE_SPAWNER_CAPABILITIES } from '../../../src/spawn/native/spawn-native.js';
import { startsProgram } from '../../../src/service-kind.js';
import { unsupportedBySpawner } from '../../../src/spawn/spawner.js';
import { SysDb } from '../../../src/sys/sysdb.js';
import type { Service } from '../../../src/table.js';

function service(attrs: Partial<Service> = {}): Service {
  return Object.assign(newService('svc', 'xinetd', { file: 't.conf', line: 1 }), { server: '/usr/sbin/in.svcd', server_argv: ['in.svcd'] }, attrs);
}

const peer: Peer = { address: '::ffff:127.0.0.1', port: 40000, family: 'IPv6' };
const daemonEnv = { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', UNSET: undefined };

const dir = mkdtempSync(join(tmpdir(), 'tsinetd-child-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'passwd'),
  ['root:x:0:0:root:/root:/bin/bash', 'alice:x:1000:1000::/home/alice:/bin/sh', 'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin', ''].join('\n'),
);
writeFileSync(join(dir, 'group'), ['root:x:0:', 'alice:x:1000:', 'staff:x:50:alice,bob', 'audio:x:29:alice', 'nogroup:x:65534:', ''].join('\n'));
const db = new SysDb({ services: join(dir, 'none'), protocols: join(dir, 'none'), passwd: join(dir, 'passwd'), group: join(dir, 'group') });

describe('environment', () => {
  test("by default: the daemon's whole environment, then env entries, then REMOTE_HOST", () => {
    const env = childEnvironment(service({ env: ['FOO=bar', 'X=1=2'] }), peer, daemonEnv);
    assert.deepEqual(env, ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C.UTF-8', 'FOO=bar', 'X=1=2', 'REMOTE_HOST=::ffff:127.0.0.1']);
  });

  test('passenv set: only those names (when the daemon has them)', () => {
    const env = childEnvironment(service({ passenv: ['LANG', 'MISSING'] }), peer, daemonEnv);
    assert.deepEqual(env, ['LANG=C.UTF-8', 'REMOTE_HOST=::ffff:127.0.0.1']);
  });

  test('passenv set empty: nothing but env and REMOTE_HOST', () => {
    assert.deepEqual(childEnvironment(service({ passenv: [], env: ['A=b'] }), peer, daemonEnv), ['A=b', 'REMOTE_HOST=::ffff:127.0.0.1']);
  });

  test('env replaces an inherited variable in place; REMOTE_HOST cannot be forged by env', () => {
    const env = childEnvironment(service({ env: ['HOME=/srv', 'REMOTE_HOST=evil'] }), peer, daemonEnv);
    assert.deepEqual(env, ['PATH=/usr/bin:/bin', 'HOME=/srv', 'LANG=C.UTF-8', 'REMOTE_HOST=::ffff:127.0.0.1']);
  });

  test('without a peer address, REMOTE_HOST is xinetd\'s "<no address>"', () => {
    assert.ok(childEnvironment(service(), null, {}).includes(`REMOTE_HOST=${NO_ADDRESS}`));
  });

  test('malformed env entries (no name) are skipped', () => {
    assert.deepEqual(childEnvironment(service({ env: ['=x', 'NOEQUALS'], passenv: [] }), peer, {}), ['REMOTE_HOST=::ffff:127.0.0.1']);
  });
});

describe('credentials', () => {
  test('user alone: its uid, its primary group, no supplementary groups', () => {
    assert.deepEqual(childCredentials(service({ user: 'alice' }), db, 0), { ok: true, credentials: { uid: 1000, gid: 1000, groups: [] } });
  });

  test("groups = yes: the user's groups as initgroups() sets them, primary first", () => {
    assert.deepEqual(childCredentials(service({ user: 'alice', groups: true }), db, 0), {
      ok: true,
      credentials: { uid: 1000, gid: 1000, groups: [1000, 50, 29] },
    });
  });

  test("group overrides the primary group; initgroups still uses the user's own", () => {
    assert.deepEqual(childCredentials(service({ user: 'alice', group: 'staff', groups: true }), db, 0), {
      ok: true,
      credentials: { uid: 1000, gid: 50, groups: [1000, 50, 29] },
    });
  });

  test('numeric user and group, known or not', () => {
    assert.deepEqual(childCredentials(service({ user: '65534' }), db, 0), { ok: true, credentials: { uid: 65534, gid: 65534, groups: [] } });
    assert.deepEqual(childCredentials(service({ user: '4242', group: '77' }), db, 0), { ok: true, credentials: { uid: 4242, gid: 77, groups: [] } });
  });

  test('group alone: only the gid changes', () => {
    assert.deepEqual(childCredentials(service({ group: 'audio' }), db, 0), { ok: true, credentials: { uid: null, gid: 29, groups: [] } });
  });

  test('neither user nor group: nothing changes', () => {
    assert.deepEqual(childCredentials(service(), db, 0), { ok: true, credentials: { uid: null, gid: null, groups: null } });
  });

  test('unknown names are errors', () => {
    assert.deepEqual(childCredentials(service({ user: 'mallory' }), db, 0), { ok: false, error: 'unknown user mallory' });
    assert.deepEqual(childCredentials(service({ user: 'alice', group: 'wheel' }), db, 0), { ok: false, error: 'unknown group wheel' });
  });

  test('a daemon that is not root ignores user and group, as xinetd(8) says', () => {
    assert.deepEqual(childCredentials(service({ user: 'alice', groups: true }), db, 1000), {
      ok: true,
      credentials: { uid: null, gid: null, groups: null },
    });
  });
});

describe('umask, nice, argv', () => {
  test("xinetd's own umask is the inherited one ORed with 022; a service umask wins", () => {
    assert.equal(daemonUmaskFrom(0o007), 0o027);
    assert.equal(daemonUmaskFrom(0o000), 0o022);
    assert.equal(daemonUmaskFrom(0o077), 0o077);
    assert.equal(childUmask(service(), 0o027), 0o027);
    assert.equal(childUmask(service({ umask: 0o002 }), 0o027), 0o002);
  });

  test('nice is an increment, kept within -20..19', () => {
    assert.equal(applyNice(0, 5), 5);
    assert.equal(applyNice(10, 15), 19);
    assert.equal(applyNice(0, -30), -20);
  });

  test('argv as loaded; the basename of server when none was computed', () => {
    assert.deepEqual(childArgv(service({ server: '/bin/cat', server_argv: ['cat', '-u'] })), ['cat', '-u']);
    assert.deepEqual(childArgv(service({ server: '/usr/bin/git', server_argv: [] })), ['git']);
  });
});

describe('the spawn spec', () => {
  test('everything the spawner needs', () => {
    const r = buildSpawnSpec(service({ user: 'nobody', nice: 3, umask: 0o077, rlimits: { files: 64 }, env: ['A=1'], passenv: [] }), peer, {
      env: daemonEnv,
      db,
      uid: 0,
      umask: 0o022,
    });
    assert.deepEqual(r, {
      ok: true,
      spec: {
        path: '/usr/sbin/in.svcd',
        argv: ['in.svcd'],
        env: ['A=1', 'REMOTE_HOST=::ffff:127.0.0.1'],
        uid: 65534,
        gid: 65534,
        groups: [],
        umask: 0o077,
        nice: 3,
        rlimits: { files: 64 },
      },
    });
  });

  test('no server program, or an unknown user: an error, no spec', () => {
    assert.equal(buildSpawnSpec(service({ server: null }), peer, { env: {}, db, uid: 0, umask: 0o022 }).ok, false);
    assert.deepEqual(buildSpawnSpec(service({ user: 'mallory' }), peer, { env: {}, db, uid: 0, umask: 0o022 }), {
      ok: false,
      error: 'unknown user mallory',
    });
  });
});

describe('attributes a spawner cannot apply', () => {
  test('the Node spawner reports rlimits and groups = yes, nothing else', () => {
    const s = service({ user: 'alice', groups: true, umask: 0o077, nice: 5, rlimits: { as: 1 << 20, files: 'unlimited' } });
    assert.deepEqual(unsupportedBySpawner(s, NODE_SPAWNER_CAPABILITIES, 'node'), [
      'groups = yes cannot be applied by the node spawner: the server runs without supplementary groups [versus xinetd: tsinetd restricts the server less]',
      'rlimit_as cannot be applied by the node spawner [versus xinetd: tsinetd restricts the server less]',
      'rlimit_files cannot be applied by the node spawner [versus xinetd: tsinetd restricts the server less]',
    ]);
  });

  test('a spawner without any capability reports each configured attribute', () => {
    const none = { uidGid: false, groups: false, umask: false, nice: false, rlimits: false };
    const s = service({ user: 'alice', umask: 0o077, nice: 5 });
    assert.equal(unsupportedBySpawner(s, none).length, 3);
    assert.deepEqual(unsupportedBySpawner(service(), none), []);
  });

  test('a spawner that cannot peek: wait = yes datagram services whose admission needs the sender refuse every datagram', () => {
    const udp = { socket_type: 'dgram', protocol: 'udp', wait: true, port: 69 } as const;
    const guarded = service({ ...udp, only_from: ['127.0.0.1'], per_source: 0 });
    assert.deepEqual(unsupportedBySpawner(guarded, NODE_SPAWNER_CAPABILITIES, 'node'), [
      'the sender of a datagram cannot be learnt by the node spawner (only the spawn helper can peek at it): ' +
        'only_from, per_source need(s) it, so datagrams are refused and dropped [versus xinetd: tsinetd admits less]',
    ]);
    assert.deepEqual(unsupportedBySpawner(guarded, NATIVE_SPAWNER_CAPABILITIES, 'native'), []);
    // Nothing needs the address: served without it, nothing to report.
    assert.deepEqual(unsupportedBySpawner(service(udp), NODE_SPAWNER_CAPABILITIES, 'node'), []);
    // A SENSOR elsewhere in the configuration lists offenders for every service.
    assert.match(
      unsupportedBySpawner(service(udp), NODE_SPAWNER_CAPABILITIES, 'node', true)[0] ?? '',
      /the global no_access list \(SENSOR\) need\(s\) it, so datagrams are refused and dropped while that list holds any address \[versus xinetd: tsinetd admits less\]$/,
    );
    // Stream services are not concerned (their peer comes with the connection).
    assert.deepEqual(unsupportedBySpawner(service({ port: 69, only_from: ['127.0.0.1'] }), NODE_SPAWNER_CAPABILITIES, 'node'), []);
  });

  test('internal services and redirects start no program: nothing to report', () => {
    const internal = service({ type: ['INTERNAL'], server: null, rlimits: { cpu: 5 } });
    const redirect = service({ redirect: { host: '127.0.0.1', port: 80 }, server: null, rlimits: { cpu: 5 } });
    assert.equal(startsProgram(internal), false);
    assert.deepEqual(unsupportedBySpawner(internal, NODE_SPAWNER_CAPABILITIES), []);
    assert.deepEqual(unsupportedBySpawner(redirect, NODE_SPAWNER_CAPABILITIES), []);
  });
});
