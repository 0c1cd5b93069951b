// The README's first promise, from a fresh copy of the project: `npm install && npm start`
// serves the bundled default configuration, the health monitor answers JSON on 127.0.0.1:7101
// within a few seconds, and Ctrl-C (SIGINT) stops everything cleanly.
//
// The copy holds exactly the files git tracks (as they are in the working tree), so it is what
// a clone of this commit would hold; `npm install` in it runs the real `prepare` build.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../../helpers/daemon.js';
import { tcpRequest, waitFor, withTimeout } from '../../helpers/net.js';

const PORTS = [7101, 7180, 9418, 7007, 7013];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function trackedFiles(): string[] | null {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return null;
  // Files deleted in the working tree but not yet committed are left out, as a commit would.
  return r.stdout.split('\0').filter((f) => f.length > 0 && existsSync(join(ROOT, f)));
}

const files = trackedFiles();
const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = files === null ? 'not a git checkout' : !npm ? 'npm is not on PATH' : false;

test('README: `npm install && npm start` on a fresh copy serves the health monitor on 7101, then stops on SIGINT', { skip, timeout: 240_000 }, async (t) => {
  for (const p of PORTS) {
    if (!(await portFree(p))) {
      t.skip(`port ${p} is in use (is \`npm start\` already running?)`);
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-fresh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of files!) {
    mkdirSync(join(dir, dirname(f)), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f));
  }

  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);

  const start = spawn('npm', ['start'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  start.stdout.on('data', (d: Buffer) => (output += d.toString()));
  start.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    start.on('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (start.exitCode === null && start.pid !== undefined) {
      try {
        process.kill(-start.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  const reply = await waitFor(
    async () => {
      try {
        const r = await tcpRequest({ port: 7101, host: '127.0.0.1', timeoutMs: 2000 });
        return r.data.length > 0 ? r.data.toString() : undefined;
      } catch {
        return undefined;
      }
    },
    15_000,
    `the health monitor on 7101 (npm start said:\n${output})`,
    200,
  );
  assert.deepEqual(JSON.parse(reply), { status: 'OK' });

  // Ctrl-C reaches the whole foreground process group, as in a terminal.
  process.kill(-start.pid!, 'SIGINT');
  const { code, signal } = await withTimeout(exited, 10_000, 'npm start to stop after SIGINT');
  // npm re-raises the SIGINT it received (as after Ctrl-C in a terminal); tsinetd itself must
  // have stopped in order, and every port must be free again.
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with code ${code}, signal ${signal}:\n${output}`);
  // npm may exit before its children have finished stopping: wait for every port to be free.
  for (const p of PORTS) {
    await waitFor(async () => ((await portFree(p)) ? true : undefined), 10_000, `port ${p} to be free after the stop`);
  }
});
