// Privilege boundaries, seen from inside the server process: the ids a server really runs
// with (real, effective, saved and file-system uid and gid, supplementary groups, capabilities),
// with both spawners; a service whose user does not exist is not started; and a daemon that is
// not root (run as nobody) refuses services that name another user, and never runs a server
// as a user the configuration did not name.
//
// The server is /usr/bin/grep reading its own /proc/self/status: no shell, no fixture script.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { SysDb } from '../../../src/sys/sysdb.js';
import { programService, renderConfig, type Attrs, type ServiceDef } from '../../helpers/daemon.js';
import { asNobody, launch } from '../../helpers/launch.js';
import { freePort, tcpRequest } from '../../helpers/net.js';
import { stagedCli } from '../../helpers/stage.js';
import { tempDir } from '../../helpers/temp.js';

const ROOT = process.geteuid?.() === 0;
const NOBODY = asNobody();
const db = new SysDb();
const SPAWNERS = ['native', 'node'] as const;

interface Ids {
  uid: number[];
  gid: number[];
  groups: number[];
  capEff: string;
  capPrm: string;
}

/** A service whose server prints the ids it runs with, as the user `extra` names. */
function idService(name: string, port: number, extra: Attrs & { user: string }): ServiceDef {
  return programService(name, port, '/usr/bin/grep', { server_args: '-E ^(Uid|Gid|Groups|CapEff|CapPrm): /proc/self/status', ...extra });
}

function parseIds(text: string): Ids {
  const field = (name: string): string[] => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
    assert.ok(line !== undefined, `no ${name} line in ${JSON.stringify(text)}`);
    return line
      .slice(name.length + 1)
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
  };
  return {
    uid: field('Uid').map(Number),
    gid: field('Gid').map(Number),
    groups: field('Groups').map(Number),
    capEff: field('CapEff')[0] ?? '',
    capPrm: field('CapPrm')[0] ?? '',
  };
}

async function idsAt(port: number): Promise<Ids> {
  const r = await tcpRequest({ port });
  assert.equal(r.ended, 'eof', r.data.toString());
  return parseIds(r.data.toString());
}

interface Setup {
  dir: string;
  conf: string;
  log: string;
}

/** A directory (readable by everyone, owned by `owner`) with the configuration in it. */
function setup(t: TestContext, services: ServiceDef[], owner: number | null = null): Setup {
  const dir = tempDir(t, 'sec');
  chmodSync(dir, 0o755);
  if (owner !== null) chownSync(dir, owner, owner);
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, renderConfig(services, { log_type: `FILE ${join(dir, 'services.log')}`, log_on_success: 'PID HOST EXIT', log_on_failure: 'HOST' }), {
    mode: 0o644,
  });
  return { dir, conf, log: join(dir, 'daemon.log') };
}

function args(s: Setup): string[] {
  return ['-dontfork', '-f', s.conf, '-filelog', s.log, '--dump-file', join(s.dir, 'dump')];
}

const ALL_UID = (n: number): number[] => [n, n, n, n];

/** A user listed as a member of some group in /etc/group (so that groups = yes adds a group). */
function userWithSupplementaryGroups(): { name: string; groups: number[] } | null {
  const text = (spawnSync('getent', ['group'], { encoding: 'utf8' }).stdout as string | null) ?? ''; // null when getent cannot run
  for (const line of text.split('\n')) {
    const members = (line.split(':')[3] ?? '').split(',').filter((m) => m !== '');
    for (const m of members) {
      const u = db.user(m);
      if (u !== undefined && u.uid !== 0) {
        const groups = db.supplementaryGroups(u);
        if (groups.length > 1) return { name: u.name, groups };
      }
    }
  }
  return null;
}

describe('servers run exactly as the configured user (daemon as root)', { skip: ROOT ? false : 'needs root' }, () => {
  for (const spawner of SPAWNERS) {
    test(`${spawner} spawner: user = nobody drops every id, the daemon's supplementary groups and all capabilities`, async (t) => {
      const port = await freePort();
      const s = setup(t, [idService('ids', port, { user: 'nobody' })]);
      // The daemon itself has supplementary groups 4 and 27: none may reach the server.
      await launch(t, { args: args(s), daemonLog: s.log, wrapper: ['setpriv', '--groups=4,27'], env: { ...process.env, TSINETD_SPAWNER: spawner } });
      const ids = await idsAt(port);
      assert.deepEqual(ids.uid, ALL_UID(65534)); // real, effective, saved, file system
      assert.deepEqual(ids.gid, ALL_UID(65534));
      assert.deepEqual(ids.groups, []);
      assert.equal(ids.capEff, '0000000000000000');
      assert.equal(ids.capPrm, '0000000000000000');
    });

    test(`${spawner} spawner: group overrides the user's primary group`, async (t) => {
      const port = await freePort();
      const daemonGid = db.group('daemon')?.gid;
      if (daemonGid === undefined) {
        t.skip('no group daemon');
        return;
      }
      const s = setup(t, [idService('grp', port, { user: 'nobody', group: 'daemon' })]);
      await launch(t, { args: args(s), daemonLog: s.log, env: { ...process.env, TSINETD_SPAWNER: spawner } });
      const ids = await idsAt(port);
      assert.deepEqual(ids.uid, ALL_UID(65534));
      assert.deepEqual(ids.gid, ALL_UID(daemonGid));
      assert.ok(!ids.groups.includes(0), `root's group must not remain: ${ids.groups.join(' ')}`);
    });
  }

  test("native spawner: groups = yes gives the user's groups from /etc/group, and nothing else", async (t) => {
    const member = userWithSupplementaryGroups();
    if (member === null) {
      t.skip('no user with supplementary groups in /etc/group');
      return;
    }
    const [withGroups, without] = [await freePort(), await freePort()];
    const s = setup(t, [idService('with', withGroups, { user: member.name, groups: 'yes' }), idService('without', without, { user: member.name })]);
    await launch(t, { args: args(s), daemonLog: s.log, wrapper: ['setpriv', '--groups=4,27'], env: { ...process.env, TSINETD_SPAWNER: 'native' } });
    const uid = db.user(member.name)!.uid;
    const a = await idsAt(withGroups);
    assert.deepEqual(a.uid, ALL_UID(uid));
    assert.deepEqual(
      [...a.groups].sort((x, y) => x - y),
      [...member.groups].sort((x, y) => x - y),
    );
    const b = await idsAt(without);
    assert.deepEqual(b.uid, ALL_UID(uid));
    assert.deepEqual(b.groups, []);
  });

  test('node spawner: groups = yes cannot be applied; it is said at start and the server gets no group at all', async (t) => {
    const member = userWithSupplementaryGroups();
    if (member === null) {
      t.skip('no user with supplementary groups in /etc/group');
      return;
    }
    const port = await freePort();
    const s = setup(t, [idService('with', port, { user: member.name, groups: 'yes' })]);
    const d = await launch(t, { args: args(s), daemonLog: s.log, wrapper: ['setpriv', '--groups=4,27'], env: { ...process.env, TSINETD_SPAWNER: 'node' } });
    assert.match(d.daemonLog(), /service with: groups = yes cannot be applied by the node spawner/);
    const ids = await idsAt(port);
    assert.deepEqual(ids.uid, ALL_UID(db.user(member.name)!.uid));
    assert.deepEqual(ids.groups, []);
  });

  test('a user that does not exist: the service is not started (located error), the others serve', async (t) => {
    const [bad, good] = [await freePort(), await freePort()];
    const s = setup(t, [idService('ghost', bad, { user: 'no-such-user-tsinetd' }), idService('fine', good, { user: 'nobody' })]);
    const d = await launch(t, { args: args(s), daemonLog: s.log });
    assert.match(d.daemonLog(), new RegExp(`${s.conf.replace(/[.]/g, '\\.')}:\\d+:\\d+: error: unknown user 'no-such-user-tsinetd'`));
    assert.match(d.daemonLog(), /service ghost is not started: unknown user 'no-such-user-tsinetd'/);
    const refused = await tcpRequest({ port: bad, timeoutMs: 2000 });
    assert.equal(refused.ended, 'ECONNREFUSED');
    assert.deepEqual((await idsAt(good)).uid, ALL_UID(65534));
  });
});

describe('a daemon that is not root (run as nobody)', { skip: NOBODY === null ? 'needs root, setpriv and a user nobody with a group nogroup' : false }, () => {
  test('refuses services that name another user, with a located error; serves its own user; group ignored with a warning', async (t) => {
    const [rootPort, selfPort, numericPort] = [await freePort(), await freePort(), await freePort()];
    const s = setup(
      t,
      [
        idService('as-root', rootPort, { user: 'root' }),
        idService('as-self', selfPort, { user: 'nobody', group: 'daemon' }),
        idService('as-uid', numericPort, { user: '1' }),
      ],
      65534,
    );
    const d = await launch(t, { args: args(s), daemonLog: s.log, wrapper: NOBODY!, cli: stagedCli(t) });
    const log = d.daemonLog();
    const file = s.conf.replace(/[.]/g, '\\.');
    assert.match(log, new RegExp(`${file}:\\d+:\\d+: error: tsinetd runs as uid 65534 \\(nobody\\), not as root: it cannot start servers as user 'root'`));
    assert.match(log, /service as-root is not started: tsinetd runs as uid 65534 \(nobody\), not as root/);
    assert.match(log, /service as-uid is not started: .*as user '1'/);
    assert.match(log, new RegExp(`${file}:\\d+:\\d+: warning: group 'daemon' is ignored: tsinetd is not root`));
    // Refused services do not even listen: no client is ever served by the wrong user.
    assert.equal((await tcpRequest({ port: rootPort, timeoutMs: 2000 })).ended, 'ECONNREFUSED');
    assert.equal((await tcpRequest({ port: numericPort, timeoutMs: 2000 })).ended, 'ECONNREFUSED');
    const ids = await idsAt(selfPort);
    assert.deepEqual(ids.uid, ALL_UID(65534));
    assert.deepEqual(ids.gid, ALL_UID(65534)); // group ignored, as xinetd does when not root
    assert.deepEqual(ids.groups, []);
  });

  test('--check run as nobody says so with a located warning, and does not fail (the daemon may run as root)', async (t) => {
    const port = await freePort();
    const s = setup(t, [idService('as-root', port, { user: 'root' })], 65534);
    const r = spawnSync(NOBODY![0]!, [...NOBODY!.slice(1), process.execPath, stagedCli(t), '--check', '-f', s.conf], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^${s.conf.replace(/[.]/g, '\\.')}:\\d+:\\d+: warning: tsinetd runs as uid 65534 \\(nobody\\), not as root: it cannot start servers as user 'root'; a daemon started by this user would refuse the service`,
        'm',
      ),
    );
  });
});
