// Starts tsinetd with a command line of the test's choosing, optionally under a wrapper such as
// `setpriv --reuid=nobody ...` (which execs node, so the child's pid is the daemon's), and waits
// for a line of its daemon log (normally "Started working"). Used by the security tests, which
// need their own pid file and log paths, or a daemon that is not root. Cleanup is registered on
// the test at once: SIGTERM, then SIGKILL.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { CLI } from './daemon.js';
import { waitFor, withTimeout } from './net.js';

export interface LaunchOptions {
  /** Arguments after `cli.js`. */
  args: string[];
  /** The command to run (default: the checkout's CLI; stagedCli() for another user). */
  cli?: string;
  /** A command that runs node as another user (e.g. setpriv ...); none by default. */
  wrapper?: string[];
  env?: NodeJS.ProcessEnv;
  /** The daemon log file (-filelog) to watch. */
  daemonLog: string;
  /** The line that says it is ready (default: "Started working"). */
  ready?: RegExp;
  timeoutMs?: number;
}

export interface Launched {
  child: ChildProcess;
  stderr(): string;
  daemonLog(): string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export async function launch(t: TestContext, opts: LaunchOptions): Promise<Launched> {
  const argv = [process.execPath, opts.cli ?? CLI, ...opts.args];
  const cmd = [...(opts.wrapper ?? []), ...argv];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: opts.env ?? process.env });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    err += d;
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    try {
      await withTimeout(exit, 5000, 'tsinetd to stop');
    } catch {
      child.kill('SIGKILL');
      await exit;
    }
  };
  t.after(stop);
  const waitForLog = (re: RegExp, timeoutMs = 5000): Promise<string> =>
    waitFor(
      () => {
        const line = read(opts.daemonLog)
          .split('\n')
          .find((l) => re.test(l));
        if (line !== undefined) return line;
        if (exited) throw new Error(`tsinetd exited before logging ${re}:\n${err}\n${read(opts.daemonLog)}`);
        return undefined;
      },
      timeoutMs,
      `daemon log line ${re}\n${err}\n${read(opts.daemonLog)}`,
    );
  await waitForLog(opts.ready ?? /Started working/, opts.timeoutMs ?? 15_000);
  return { child, stderr: () => err, daemonLog: () => read(opts.daemonLog), waitForLog, stop };
}

/** The wrapper that runs a command as nobody:nogroup without supplementary groups, or null. */
export function asNobody(): string[] | null {
  if (process.geteuid?.() !== 0) return null;
  const probe = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true'], { stdio: 'ignore' });
  return probe.status === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : null;
}
