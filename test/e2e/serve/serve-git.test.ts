// `git daemon --inetd` served by tsinetd exactly as from an xinetd.d file: a real clone over
// git://, the git protocol running on the socket the daemon hands over as fds 0-2.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { have, programService, startDaemon } from '../../helpers/daemon.js';
import { freePort, withTimeout } from '../../helpers/net.js';
import { bareGitRepo } from '../../helpers/packages.js';
import { tempDir } from '../../helpers/temp.js';

function gitAsync(args: string[], cwd: string, timeoutMs: number): Promise<{ status: number | null; stderr: string }> {
  return withTimeout(
    new Promise((resolve) => {
      const child = spawn('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => (stderr += d));
      child.on('close', (status) => resolve({ status, stderr }));
    }),
    timeoutMs,
    `git ${args.join(' ')}`,
  );
}

describe('git daemon --inetd', { skip: have('git') ? false : 'git is not installed' }, () => {
  test('git clone git://127.0.0.1:PORT/repo through tsinetd', async (t) => {
    const dir = tempDir(t, 'git');
    const base = bareGitRepo(dir, 'served through tsinetd\n');

    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [
        programService('git', port, spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim(), {
          server_args: `daemon --inetd --export-all --base-path=${base} ${base}`,
        }),
      ],
    });
    const clone = await gitAsync(['clone', '-q', `git://127.0.0.1:${port}/repo.git`, join(dir, 'clone')], dir, 30_000);
    assert.equal(clone.status, 0, clone.stderr);
    assert.equal(readFileSync(join(dir, 'clone', 'README'), 'utf8'), 'served through tsinetd\n');
    await daemon.waitForServiceLog(/EXIT: git status=0 pid=\d+ duration=\d+\(sec\)/);
    assert.match(daemon.serviceLog(), /START: git pid=\d+ from=::ffff:127\.0\.0\.1/);

    // A repository that does not exist: git reports it, tsinetd logs a normal exit.
    const missing = await gitAsync(['clone', '-q', `git://127.0.0.1:${port}/nothing.git`, join(dir, 'nothing')], dir, 30_000);
    assert.notEqual(missing.status, 0);
  });
});
