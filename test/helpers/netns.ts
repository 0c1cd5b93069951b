// A private network and mount namespace for tests that need well-known local endpoints of their
// own (rpcbind's port 111 and /run/rpcbind.sock): `unshare -m -n` holds it, with loopback up and
// a tmpfs over /run, and commands enter it with `nsenter -t PID -m -n` (which execs them, so a
// process started that way keeps its pid). Nothing of it reaches the machine's network or /run.
// Needs root, unshare, nsenter and ip; noNetns() says why not.

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { waitFor } from './net.js';

/** Why a private network namespace cannot be made here (false: it can). */
export function noNetns(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (unshare -m -n)';
  for (const tool of ['unshare', 'nsenter', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed`;
  }
  const r = spawnSync('unshare', ['-m', '-n', '--propagation', 'private', 'true'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'cannot make a private network namespace (unshare -m -n)';
}

export interface Netns {
  /** The process holding the namespaces. */
  readonly pid: number;
  /** The prefix that runs a command inside (startDaemon's `wrap`). */
  readonly enter: string[];
  /** Runs a command inside to completion. */
  run(argv: string[], timeoutMs?: number): SpawnSyncReturns<string>;
  /** Starts a command inside; it is killed (SIGKILL) when the test ends if still running. */
  start(argv: string[]): ChildProcess;
  /** Runs a command inside without blocking; killed (SIGKILL) after `timeoutMs`, status null then. */
  output(argv: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string }>;
}

/** Makes the namespaces; they end with the test. */
export async function privateNetns(t: TestContext): Promise<Netns> {
  const holder = spawn('unshare', ['-m', '-n', '--propagation', 'private', 'sh', '-c', 'ip link set lo up && mount -t tmpfs tmpfs /run && exec sleep 3600'], {
    stdio: 'ignore',
  });
  const pid = holder.pid ?? 0;
  const started: ChildProcess[] = [];
  t.after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    holder.kill('SIGKILL');
  });
  // Ready once the set-up is done and `sleep` has taken the holder's place.
  await waitFor(
    () => {
      if (holder.exitCode !== null) throw new Error(`unshare exited with status ${holder.exitCode}`);
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' ? true : undefined;
      } catch {
        return undefined;
      }
    },
    5000,
    'the namespace holder to be set up',
  );
  const enter = ['nsenter', '-t', String(pid), '-m', '-n'];
  return {
    pid,
    enter,
    run: (argv, timeoutMs = 10_000) => spawnSync(enter[0] ?? 'nsenter', [...enter.slice(1), ...argv], { encoding: 'utf8', timeout: timeoutMs }),
    start: (argv) => {
      const c = spawn(enter[0] ?? 'nsenter', [...enter.slice(1), ...argv], { stdio: 'ignore' });
      started.push(c);
      return c;
    },
    output: (argv, timeoutMs) =>
      new Promise((resolve) => {
        const c = spawn(enter[0] ?? 'nsenter', [...enter.slice(1), ...argv], {
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
        });
        let stdout = '';
        c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        c.once('close', (code) => resolve({ status: code, stdout }));
      }),
  };
}
