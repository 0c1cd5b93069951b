// A service's user that cannot execute its server, found when the configuration is loaded:
// `--check` (any user: it judges as a root daemon would), and the daemon at start and at SIGHUP
// (root only: a daemon that is not root runs its servers as itself). Real files with real modes:
// a directory the user cannot search, a file without the execute bit for the user, a missing file.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { SysDb } from '../../../src/sys/sysdb.js';
import { programService, renderConfig, runCli, startDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';

const NOBODY = new SysDb().user('nobody');
const UID = process.geteuid?.() ?? 0;
const SKIP = NOBODY === undefined ? 'no user nobody on this machine' : UID === NOBODY.uid ? 'runs as nobody itself' : false;

interface Layout {
  unsearchable: string;
  ownerOnly: string;
  missing: string;
  fine: string;
}

/** dir (0755) holding private/ (0700) with a program in it, a 0744 program, a 0755 one, and no `missing`. */
function layout(t: TestContext): Layout {
  const dir = tempDir(t, 'exec');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'private'), { mode: 0o700 });
  const script = '#!/bin/sh\necho hi\n';
  const unsearchable = join(dir, 'private', 'srv');
  const ownerOnly = join(dir, 'owner-only');
  const fine = join(dir, 'fine');
  writeFileSync(unsearchable, script, { mode: 0o755 });
  writeFileSync(ownerOnly, script, { mode: 0o744 });
  writeFileSync(fine, script, { mode: 0o755 });
  for (const [p, m] of [
    [unsearchable, 0o755],
    [ownerOnly, 0o744],
    [fine, 0o755],
  ] as const)
    chmodSync(p, m);
  return { unsearchable, ownerOnly, missing: join(dir, 'missing'), fine };
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('the service user cannot execute its server', { skip: SKIP }, () => {
  test('--check: one located warning per service for each of the three cases, none for a good one', async (t) => {
    const l = layout(t);
    const dir = tempDir(t, 'exec-conf');
    const conf = join(dir, 'xinetd.conf');
    const services: ServiceDef[] = [
      programService('hidden', 7101, l.unsearchable, { user: 'nobody', type: 'UNLISTED' }),
      programService('noexec', 7102, l.ownerOnly, { user: 'nobody', type: 'UNLISTED' }),
      programService('absent', 7103, l.missing, { user: 'nobody', type: 'UNLISTED' }),
      programService('good', 7104, l.fine, { user: 'nobody', type: 'UNLISTED' }),
    ];
    writeFileSync(conf, renderConfig(services, {}), { mode: 0o644 });
    const text = renderConfig(services, {}).split('\n');
    const at = (server: string): string => {
      const line = text.findIndex((x) => x.includes(`= ${server}`)) + 1;
      return `${conf}:${line}:${text[line - 1]!.indexOf(server) + 1}`;
    };
    const r = await runCli(['--check', '-f', conf]);
    const warnings = r.stderr.split('\n').filter((x) => / warning: user 'nobody' \(uid \d+\) cannot execute server /.test(x));
    assert.deepEqual(
      warnings.map((w) => w.replace(/: user 'nobody'.*$/, '')),
      [at(l.unsearchable), at(l.ownerOnly), at(l.missing)].map((w) => `${w}: warning`),
      r.stderr,
    );
    assert.match(
      warnings[0]!,
      new RegExp(`cannot execute server ${esc(l.unsearchable)}: no search permission on directory ${esc(join(l.unsearchable, '..'))} \\(mode 0700, `),
    );
    assert.match(warnings[1]!, new RegExp(`cannot execute server ${esc(l.ownerOnly)}: no execute permission on ${esc(l.ownerOnly)} for it \\(mode 0744, `));
    assert.match(
      warnings[2]!,
      new RegExp(`cannot execute server ${esc(l.missing)}: ${esc(l.missing)} does not exist; every connection to service 'absent' would fail`),
    );
    assert.doesNotMatch(r.stderr, /service 'good'/);
  });

  test(
    'the daemon (root) warns at load and again at each SIGHUP, once per service',
    { skip: UID === 0 ? false : 'needs root (a daemon that is not root runs servers as itself)' },
    async (t) => {
      const l = layout(t);
      const [p1, p2] = [await freePort(), await freePort()];
      const services = [programService('hidden', p1, l.unsearchable, { user: 'nobody' }), programService('good', p2, l.fine, { user: 'nobody' })];
      const d = await startDaemon(t, { services });
      const warning = new RegExp(
        `${esc(d.config)}:\\d+:\\d+: warning: user 'nobody' \\(uid \\d+\\) cannot execute server ${esc(l.unsearchable)}: no search permission`,
      );
      const count = (): number =>
        d
          .daemonLog()
          .split('\n')
          .filter((x) => warning.test(x)).length;
      await waitFor(() => (count() === 1 ? true : undefined), 5000, `the warning at load\n${d.daemonLog()}`);
      d.rewrite(services);
      d.signal('SIGHUP');
      await waitFor(() => (count() === 2 ? true : undefined), 8000, `the warning again at SIGHUP\n${d.daemonLog()}`);
      assert.doesNotMatch(d.daemonLog(), new RegExp(`cannot execute server ${esc(l.fine)}`));
      assert.equal(count(), 2);
    },
  );
});
