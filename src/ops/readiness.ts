// Readiness signals for supervisors, sent once every listener is bound ("Started working"):
//
// - systemd (Type=notify): when NOTIFY_SOCKET is set, READY=1 (and STATUS=, MAINPID=) is sent
//   to it; RELOADING=1 with MONOTONIC_USEC= around a SIGHUP reload, STOPPING=1 on the way out.
//   NOTIFY_SOCKET is a unix datagram socket, which Node cannot send to, so each message is sent
//   by systemd-notify(1) with --pid=<our pid>. Run as root, systemd-notify sends the message with
//   our pid as the sender's credentials (measured: a listener with SO_PASSCRED sees the daemon's
//   pid), which NotifyAccess=main accepts; without root the kernel refuses that and the sender is
//   systemd-notify itself, which needs NotifyAccess=all. Messages are sent one after the other,
//   never two systemd-notify at once, so they arrive in order. The variable is removed from the
//   environment so that servers never see it.
// - --ready-fd N: "READY\n" is written to descriptor N, which is then closed (1 and 2 are only
//   written), as s6's notification-fd expects. The descriptor is checked at start-up.

import { spawn } from 'node:child_process';
import { closeSync, fstatSync, readdirSync, readFileSync, readlinkSync, writeSync } from 'node:fs';

/** The environment variable systemd sets for Type=notify services. */
export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET';

/** What the daemon tells its supervisor. */
export interface ReadinessSignals {
  /** Every listener is bound: the daemon serves. */
  ready(status: string): void;
  /** A reload (SIGHUP) starts. */
  reloading(): void;
  /** The daemon stops; resolves once the message is out (or after a short wait). */
  stopping(): Promise<void>;
}

/** A notification message's assignments, one per line; values cannot hold a newline. */
export function notifyAssignments(vars: Readonly<Record<string, string>>): string[] {
  return Object.entries(vars).map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`);
}

/** CLOCK_MONOTONIC in microseconds (libuv's hrtime reads that clock on Linux), for MONOTONIC_USEC. */
export function monotonicMicros(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

export interface NotifierOptions {
  /** The pid systemd is told about (MAINPID, and the sender when allowed). Default: ours. */
  pid?: number;
  /** The program that sends (default "systemd-notify", found on PATH). */
  command?: string;
  /** Reports a problem (once per kind). */
  warn(message: string): void;
  /** A systemd-notify that has not finished after this long is killed (default 10 s). */
  timeoutMs?: number;
}

/** Sends sd_notify messages to NOTIFY_SOCKET through systemd-notify(1), in order. */
export class SystemdNotifier {
  private queue: Promise<void> = Promise.resolve();
  private unavailable = false;

  constructor(
    readonly socket: string,
    private readonly opts: NotifierOptions,
  ) {}

  /** Queues one message; the promise resolves with whether it was sent. */
  send(vars: Readonly<Record<string, string>>): Promise<boolean> {
    const result = this.queue.then(() => this.run(vars));
    this.queue = result.then(() => {});
    return result;
  }

  private run(vars: Readonly<Record<string, string>>): Promise<boolean> {
    if (this.unavailable) return Promise.resolve(false);
    const command = this.opts.command ?? 'systemd-notify';
    const args = [`--pid=${this.opts.pid ?? process.pid}`, ...notifyAssignments(vars)];
    return new Promise<boolean>((resolve) => {
      let stderr = '';
      let settled = false;
      const finish = (ok: boolean, problem?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (problem !== undefined) this.opts.warn(problem);
        resolve(ok);
      };
      const child = spawn(command, args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, [NOTIFY_SOCKET_ENV]: this.socket },
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(false, `${command} did not finish within ${this.opts.timeoutMs ?? 10_000} ms; systemd may not have been told ${args.slice(1).join(' ')}`);
      }, this.opts.timeoutMs ?? 10_000);
      timer.unref();
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < 1000) stderr += d;
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          this.unavailable = true;
          finish(false, `NOTIFY_SOCKET is set but ${command} is not installed: the service manager is not told when tsinetd is ready`);
        } else {
          finish(false, `cannot run ${command}: ${err.message}`);
        }
      });
      child.once('close', (code, signal) => {
        if (code === 0) finish(true);
        else
          finish(
            false,
            `${command} ${args.join(' ')} failed (${signal !== null ? `signal ${signal}` : `status ${code}`})${stderr.trim() !== '' ? `: ${stderr.trim()}` : ''}`,
          );
      });
    });
  }
}

/**
 * Checks that descriptor `fd` was given to tsinetd and can be written. Being open is not enough:
 * Node opens descriptors of its own at start-up (its epoll and eventfd, pipe pairs), taking the
 * lowest free numbers, so a number the supervisor did not pass is often one of them (measured:
 * `node` run without fd 3 has its eventpoll there). On Linux, /proc tells them apart: Node's are
 * anon_inode descriptors, read-only, or pipes whose other end this process holds too.
 */
export function checkReadyFd(fd: number, proc = '/proc/self'): string | null {
  try {
    fstatSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return `--ready-fd ${fd}: the descriptor is not open (${code})`;
  }
  let target: string;
  let flags: number;
  try {
    target = readlinkSync(`${proc}/fd/${fd}`);
    const octal = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`${proc}/fdinfo/${fd}`, 'utf8'))?.[1];
    flags = octal === undefined ? 2 : parseInt(octal, 8);
  } catch {
    return null; // no /proc: nothing more to check
  }
  const notGiven = `--ready-fd ${fd}: descriptor ${fd} was not passed to tsinetd (it is ${target}, one of Node's own)`;
  if (target.startsWith('anon_inode:')) return notGiven;
  if (target.startsWith('pipe:')) {
    let others: string[] = [];
    try {
      others = readdirSync(`${proc}/fd`).filter((n) => n !== String(fd));
    } catch {
      // unreadable: accept
    }
    for (const n of others) {
      try {
        if (readlinkSync(`${proc}/fd/${n}`) === target) return notGiven;
      } catch {
        // closed meanwhile
      }
    }
  }
  if ((flags & 3) === 0) return `--ready-fd ${fd}: descriptor ${fd} (${target}) is open for reading only`;
  return null;
}

/** Writes "READY\n" to `fd` and closes it (stdout and stderr stay open); returns a problem or null. */
export function signalReadyFd(fd: number): string | null {
  let problem: string | null = null;
  try {
    writeSync(fd, 'READY\n');
  } catch (err) {
    problem = `--ready-fd ${fd}: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (fd > 2) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  return problem;
}

export interface ReadinessOptions {
  /** --ready-fd N (checked with checkReadyFd beforehand), or null. */
  readyFd: number | null;
  /** The environment to take NOTIFY_SOCKET from (it is removed from it). */
  env: NodeJS.ProcessEnv;
  warn: (message: string) => void;
  /** For tests: the systemd-notify program. */
  notifyCommand?: string;
}

/** How long stopping() waits for STOPPING=1 to be sent. */
const STOPPING_WAIT_MS = 2000;

/** The readiness signals this run sends: systemd (when NOTIFY_SOCKET is set) and --ready-fd. */
export function createReadinessSignals(opts: ReadinessOptions): ReadinessSignals {
  const socket = opts.env[NOTIFY_SOCKET_ENV];
  Reflect.deleteProperty(opts.env, NOTIFY_SOCKET_ENV);
  const notifier =
    socket !== undefined && socket !== ''
      ? new SystemdNotifier(socket, { warn: opts.warn, ...(opts.notifyCommand !== undefined ? { command: opts.notifyCommand } : {}) })
      : null;
  let fd = opts.readyFd;
  return {
    ready(status: string): void {
      void notifier?.send({ READY: '1', STATUS: status });
      if (fd !== null) {
        const problem = signalReadyFd(fd);
        fd = null;
        if (problem !== null) opts.warn(problem);
      }
    },
    reloading(): void {
      void notifier?.send({ RELOADING: '1', STATUS: 'Reloading the configuration', MONOTONIC_USEC: monotonicMicros() });
    },
    async stopping(): Promise<void> {
      if (notifier === null) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        notifier.send({ STOPPING: '1', STATUS: 'Exiting' }),
        new Promise<void>((r) => {
          timer = setTimeout(r, STOPPING_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
