// The consistency check on a real server (startServer, loopback sockets, a real child process):
// the state the server reports is consistent while it serves, and a lost exit (a spawner that
// never reports its child's end, imitated here) is found, as -cc and SIGABRT would find it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { AdmissionController } from '../../../src/admission/admission.js';
import { checkConsistency, processExists } from '../../../src/ops/consistency.js';
import { startServer } from '../../../src/serve/server.js';
import { newService } from '../../../src/service-defaults.js';
import type { Spawner } from '../../../src/spawn/spawn-types.js';
import type { Service } from '../../../src/table.js';
import { MemoryLog } from '../../helpers/daemon.js';
import { tcpConnect, waitFor } from '../../helpers/net.js';

/** Starts `sleep` for each client and reports nothing when it ends: an exit that got lost. */
class ForgetfulSpawner implements Spawner {
  readonly name = 'forgetful';
  readonly capabilities = { uidGid: false, groups: false, umask: false, nice: false, rlimits: false };
  readonly pids: number[] = [];

  spawn(): Promise<number> {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    child.on('error', () => {});
    this.pids.push(child.pid!);
    return Promise.resolve(child.pid!);
  }
  onExit(): void {}
  kill(pid: number, signal: NodeJS.Signals | number): void {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
  async close(): Promise<void> {}
}

function service(): Service {
  const s = newService('sleepy', 'xinetd', { file: 'test.conf', line: 1 });
  return {
    ...s,
    type: ['UNLISTED'],
    port: 0,
    socket_type: 'stream',
    protocol: 'tcp',
    wait: false,
    server: '/bin/sleep',
    server_argv: ['sleep', '30'],
    bind: '127.0.0.1',
  };
}

test('a served state is consistent; a server whose exit was lost is reported', async (t) => {
  const spawner = new ForgetfulSpawner();
  const admission = new AdmissionController({ load: () => 0 });
  const log = new MemoryLog();
  const svc = service();
  const handle = await startServer([svc], { log, spawner, admission });
  t.after(async () => {
    for (const pid of spawner.pids) spawner.kill(pid, 'SIGKILL');
    await handle.close();
  });
  const port = handle.portOf('sleepy');
  assert.ok(port !== null && port > 0, log.daemonText());
  const input = () => ({ served: [svc], serving: handle.servingState(), admission: admission.snapshot(), processLimit: null, alive: processExists });
  assert.deepEqual(checkConsistency(input()), []);

  const client = await tcpConnect(port);
  t.after(() => client.destroy());
  await waitFor(() => (handle.servingState().servers.length === 1 ? true : undefined), 5000, 'the server to be tracked');
  assert.deepEqual(checkConsistency(input()), [], 'one running server, counted by admission');

  const pid = spawner.pids[0]!;
  process.kill(pid, 'SIGKILL');
  await waitFor(() => (processExists(pid) ? undefined : true), 5000, 'the server to be gone');
  assert.deepEqual(
    checkConsistency(input()).map((p) => p.message),
    [`service sleepy: server ${pid} is counted as running but does not exist`],
  );
});
