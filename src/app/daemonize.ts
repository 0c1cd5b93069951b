// Running in the background as xinetd does without -dontfork: the command starts a detached
// copy of itself and waits until that copy serves (it reports "ready" on a pipe) or fails (it
// reports "error MESSAGE"), so that the exit status of the command says whether the daemon runs.

import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { ENV_NAMES, type EnvOptions } from './options.js';

/** Set in the environment of the detached copy started by daemonize(); removed at once. */
export const DAEMON_CHILD_ENV = ENV_NAMES.daemonChild;
/** The descriptor on which the detached copy reports "ready" or "error MESSAGE". */
const READY_FD = 3;

export interface Readiness {
  ok(): void;
  fail(message: string): void;
}

export function readinessChannel(env: EnvOptions): Readiness | null {
  if (!env.daemonChild) return null;
  Reflect.deleteProperty(process.env, DAEMON_CHILD_ENV);
  let sent = false;
  const send = (line: string): void => {
    if (sent) return;
    sent = true;
    try {
      writeSync(READY_FD, line.replace(/\n/g, ' ') + '\n');
    } catch {
      // the starting process is gone; nothing to tell
    }
    try {
      closeSync(READY_FD);
    } catch {
      // already closed
    }
  };
  return { ok: () => send('ready'), fail: (message) => send(`error ${message}`) };
}

/** Starts a detached copy of this command and waits until it serves (0) or fails (1). */
export function daemonize(): Promise<number> {
  return new Promise<number>((resolve) => {
    const script = process.argv[1];
    if (script === undefined) {
      process.stderr.write('tsinetd: cannot daemonize: unknown script path\n');
      resolve(1);
      return;
    }
    const child = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
    });
    let settled = false;
    let text = '';
    const settle = (code: number, message?: string): void => {
      if (settled) return;
      settled = true;
      if (message !== undefined) process.stderr.write(`tsinetd: ${message}\n`);
      channel?.destroy();
      child.unref();
      resolve(code);
    };
    const channel = child.stdio[READY_FD] as (NodeJS.ReadableStream & { destroy(): void }) | null | undefined;
    channel?.setEncoding('utf8');
    channel?.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      if (line === 'ready') settle(0);
      else settle(1, line.startsWith('error ') ? line.slice(6) : `unexpected start-up report: ${line}`);
    });
    channel?.on('error', () => {});
    child.once('error', (err) => settle(1, `cannot start the daemon: ${err.message}`));
    child.once('exit', (code, signal) => {
      settle(1, `the daemon stopped during start-up (${signal !== null ? `signal ${signal}` : `status ${code}`})`);
    });
  });
}
