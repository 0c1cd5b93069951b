// Runs tsinetd as a real process for the end-to-end tests: writes an xinetd configuration into a
// temporary directory, starts `node build/bin/tsinetd.mjs -dontfork -f CONF -filelog LOG -pidfile PID`
// (the bundled command that package.json's `bin` installs),
// waits for readiness by polling the pid file (written once every socket is bound; never a fixed
// sleep), collects stderr, and stops it with SIGTERM when the test ends.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventLog, LogEvent } from '../../src/log/log-types.js';
import { waitFor, withTimeout } from './net.js';

/** The repository root (this file runs from build/test/helpers/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The command users run: the bundle of build/src made by `npm run build` (scripts/bundle.mjs). */
export const CLI = join(ROOT, 'build', 'bin', 'tsinetd.mjs');
assertBundleFresh();
export const FIXTURES = join(ROOT, 'fixtures', 'servers');

/**
 * The end-to-end tests run the bundle, so a bundle older than the compiled modules would test old
 * code: `tsc` alone does not rebundle. Fails every e2e test at once with the remedy.
 */
function assertBundleFresh(): void {
  const compiled = join(ROOT, 'build', 'src');
  const modules = readdirSync(compiled, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.js'));
  const newest = Math.max(...modules.map((n) => statSync(join(compiled, n)).mtimeMs));
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newest) {
    throw new Error(`${CLI} is missing or older than build/src: run \`npm run build\` (tsc alone does not rebundle)`);
  }
}

/** xinetd attribute name → value text, as written after `=` in a config file. */
export type Attrs = Record<string, string>;

export interface ServiceDef {
  name: string;
  attrs: Attrs;
}

/** The defaults every test daemon gets (merged with the test's own). */
function standardDefaults(dir: string): Attrs {
  return {
    log_type: `FILE ${join(dir, 'services.log')}`,
    log_on_success: 'PID HOST EXIT DURATION',
    log_on_failure: 'HOST',
  };
}

/** The xinetd configuration text for these services. */
export function renderConfig(services: readonly ServiceDef[], defaults: Attrs): string {
  const block = (head: string, attrs: Attrs): string =>
    `${head}\n{\n${Object.entries(attrs)
      .map(([k, v]) => `\t${k} = ${v}`)
      .join('\n')}\n}\n`;
  return [block('defaults', defaults), ...services.map((s) => block(`service ${s.name}`, s.attrs))].join('\n');
}

// ---- the daemon process ------------------------------------------------------------------

export interface StartOptions {
  services: ServiceDef[];
  /** Merged over the standard defaults (service log FILE, PID HOST EXIT DURATION, HOST). */
  defaults?: Attrs;
  /** More command-line arguments. */
  args?: string[];
  /** Default true; false starts it like xinetd without -dontfork (it daemonizes). */
  dontfork?: boolean;
  /** The daemon's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** A command that execs node in its own place (setpriv, chrt…): the daemon runs under it. */
  wrap?: string[];
  /** The umask the daemon is started with (default: this process's). */
  umask?: number;
  /** Expect the start to fail: resolve once the process has exited instead of waiting for readiness. */
  expectFailure?: boolean;
  readyTimeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class RunningDaemon {
  /** The pid of the serving daemon (from the pid file once ready). */
  pid = 0;
  readonly exited: Promise<ExitStatus>;
  private stderrText = '';
  private exitStatus: ExitStatus | null = null;

  constructor(
    readonly dir: string,
    readonly config: string,
    readonly child: ChildProcess,
    private readonly defaults: Attrs,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.stderrText += d;
    });
    child.stdout?.resume();
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
  }

  get pidfile(): string {
    return join(this.dir, 'tsinetd.pid');
  }
  get dumpFile(): string {
    return join(this.dir, 'tsinetd.dump');
  }
  get serviceLogPath(): string {
    return join(this.dir, 'services.log');
  }
  get daemonLogPath(): string {
    return join(this.dir, 'daemon.log');
  }
  get exitedStatus(): ExitStatus | null {
    return this.exitStatus;
  }

  stderr(): string {
    return this.stderrText;
  }

  /** Replaces the configuration (send SIGHUP afterwards to make the daemon read it). */
  rewrite(services: readonly ServiceDef[]): void {
    writeFileSync(this.config, renderConfig(services, this.defaults));
  }
  /** Like rewrite(), but the daemon can never read a half-written file (write aside, then rename). */
  rewriteAtomically(services: readonly ServiceDef[]): void {
    const aside = `${this.config}.new`;
    writeFileSync(aside, renderConfig(services, this.defaults));
    renameSync(aside, this.config);
  }
  private read(path: string): string {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  }
  serviceLog(): string {
    return this.read(this.serviceLogPath);
  }
  daemonLog(): string {
    return this.read(this.daemonLogPath);
  }

  /** Waits until the service log has a line matching `re`; returns that line. */
  waitForServiceLog(re: RegExp, timeoutMs = 5000): Promise<string> {
    return waitFor(
      () =>
        this.serviceLog()
          .split('\n')
          .find((l) => re.test(l)),
      timeoutMs,
      () => `service log line ${re}; the log then:\n${this.serviceLog()}`,
    );
  }

  /** Waits until the daemon log has a line matching `re`; returns that line. */
  waitForDaemonLog(re: RegExp, timeoutMs = 5000): Promise<string> {
    return waitFor(
      () =>
        this.daemonLog()
          .split('\n')
          .find((l) => re.test(l)),
      timeoutMs,
      () => `daemon log line ${re}; the log then:\n${this.daemonLog()}`,
    );
  }

  signal(sig: NodeJS.Signals): void {
    if (this.pid > 0) process.kill(this.pid, sig);
  }

  /** Sends `sig` and waits for the daemon to exit (SIGKILL after the timeout). */
  async stop(sig: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<ExitStatus> {
    if (this.pid === this.child.pid) {
      if (this.exitStatus !== null) return this.exitStatus;
      this.child.kill(sig);
      try {
        return await withTimeout(this.exited, timeoutMs, `tsinetd to exit on ${sig}`);
      } catch (err) {
        this.child.kill('SIGKILL');
        throw err;
      }
    }
    // Daemonized: the serving process is not our child.
    if (this.pid <= 0 || !alive(this.pid)) return { code: null, signal: null };
    process.kill(this.pid, sig);
    await waitFor(() => (alive(this.pid) ? undefined : true), timeoutMs, `daemon ${this.pid} to exit`);
    return { code: null, signal: null };
  }

  /** Last-resort cleanup: kill whatever is left. */
  kill(): void {
    if (this.exitStatus === null) this.child.kill('SIGKILL');
    if (this.pid > 0 && this.pid !== this.child.pid && alive(this.pid)) process.kill(this.pid, 'SIGKILL');
  }
}

/** Whether process `pid` runs (an unreaped zombie has ended too). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the tsinetd CLI to completion, collecting its output (killed after `timeoutMs`). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsinetd ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts tsinetd on these services and waits until it serves; registers cleanup on `t`.
 * Log files: services.log (service lines), daemon.log (-filelog); pid file tsinetd.pid.
 */
export async function startDaemon(t: TestContext, opts: StartOptions): Promise<RunningDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-e2e-'));
  const defaults = { ...standardDefaults(dir), ...(opts.defaults ?? {}) };
  const config = join(dir, 'xinetd.conf');
  writeFileSync(config, renderConfig(opts.services, defaults));
  const args = [
    ...(opts.dontfork === false ? [] : ['-dontfork']),
    '-f',
    config,
    '-filelog',
    join(dir, 'daemon.log'),
    '-pidfile',
    join(dir, 'tsinetd.pid'),
    '--dump-file',
    join(dir, 'tsinetd.dump'),
    // TCP wrappers read the test's own rule files (absent unless the test writes them), never
    // the machine's /etc/hosts.allow and /etc/hosts.deny.
    ...(opts.args?.some((a) => a.startsWith('--hosts-')) === true ? [] : ['--hosts-allow', join(dir, 'hosts.allow'), '--hosts-deny', join(dir, 'hosts.deny')]),
    ...(opts.args ?? []),
  ];
  const argv = [CLI, ...args];
  // spawn() forks synchronously: the child inherits the umask set just around it.
  const previousUmask = opts.umask !== undefined ? process.umask(opts.umask) : null;
  let child: ChildProcess;
  try {
    const wrap = opts.wrap ?? [];
    child = spawn(wrap[0] ?? process.execPath, [...wrap.slice(1), ...(wrap.length > 0 ? [process.execPath] : []), ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
  } finally {
    if (previousUmask !== null) process.umask(previousUmask);
  }
  const d = new RunningDaemon(dir, config, child, defaults);
  t.after(async () => {
    try {
      await d.stop('SIGTERM', 3000);
    } catch {
      // killed below
    }
    d.kill();
    // A daemon that detached although the test expected it to fail: never leave it running.
    if (d.pid <= 0 && existsSync(d.pidfile)) {
      const pid = Number(readFileSync(d.pidfile, 'utf8').trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  if (opts.expectFailure === true) {
    await withTimeout(d.exited, opts.readyTimeoutMs ?? 15_000, 'tsinetd to exit');
    return d;
  }
  const foreground = opts.dontfork !== false;
  await waitFor(
    () => {
      if (foreground && d.exitedStatus !== null) {
        throw new Error(`tsinetd exited (${JSON.stringify(d.exitedStatus)}) before it was ready:\n${d.stderr()}\n${d.daemonLog()}`);
      }
      if (!existsSync(d.pidfile)) return undefined;
      const pid = Number(readFileSync(d.pidfile, 'utf8').trim());
      return pid > 0 ? pid : undefined;
    },
    opts.readyTimeoutMs ?? 15_000,
    `tsinetd to write its pid file\n${d.stderr()}\n${d.daemonLog()}`,
  ).then((pid) => {
    d.pid = pid;
  });
  return d;
}

/** The user test services run as: the one running the tests (root in CI), which a daemon may always switch to. */
export const TEST_USER = userInfo().username;

/**
 * The lines of a --check report that are there only because it does not run as root: a daemon
 * started by this user could not switch to another user, nor apply `group` (privileges.ts).
 * None as root.
 */
export function notRootWarnings(report: string): string[] {
  return report
    .split('\n')
    .filter((l) => /: warning: (tsinetd runs as uid \d+ .*not as root: it cannot start servers as user|group '[^']*' is ignored: tsinetd is not root)/.test(l));
}

/**
 * A copy of a configuration fixture, written into `dir` under the same base name, whose
 * `user = root` lines name TEST_USER: the fixture means to a daemon run by whoever runs the tests
 * what it means to root (as root the copy is the same text). Columns do not move.
 */
export function asTestUser(fixture: string, dir: string): string {
  const copy = join(dir, basename(fixture));
  writeFileSync(copy, readFileSync(fixture, 'utf8').replace(/^(\s*user\s*=\s*)root[ \t]*$/gm, `$1${TEST_USER}`), { mode: 0o644 });
  return copy;
}

/**
 * A one-line service definition for the common case: a program on a fixed port (TCP, wait = no,
 * run as TEST_USER). `extra` adds attributes or overrides these (socket_type, wait, user…); a null
 * `server` leaves that attribute out (a redirect service).
 */
export function programService(name: string, port: number, server: string | null, extra: Attrs = {}): ServiceDef {
  return {
    name,
    attrs: {
      type: 'UNLISTED',
      port: String(port),
      socket_type: 'stream',
      protocol: 'tcp',
      wait: 'no',
      user: TEST_USER,
      ...(server === null ? {} : { server }),
      ...extra,
    },
  };
}

/** An internal service on a fixed port. */
export function internalService(name: string, port: number, socketType: 'stream' | 'dgram', extra: Attrs = {}): ServiceDef {
  return {
    name,
    attrs: {
      type: 'INTERNAL UNLISTED',
      id: `${name}-${socketType}`,
      port: String(port),
      socket_type: socketType,
      protocol: socketType === 'stream' ? 'tcp' : 'udp',
      wait: socketType === 'stream' ? 'no' : 'yes',
      ...extra,
    },
  };
}

/** Whether a program is on PATH (tests that need git or python3 skip without them). */
export function have(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

// ---- in-process serving (startServer) -----------------------------------------------------

/** An EventLog that keeps the events, for tests that run the server in-process. */
export class MemoryLog implements EventLog {
  readonly events: LogEvent[] = [];

  log(event: LogEvent): void {
    this.events.push(event);
  }

  async close(): Promise<void> {}

  of<K extends LogEvent['kind']>(kind: K): Array<Extract<LogEvent, { kind: K }>> {
    return this.events.filter((e): e is Extract<LogEvent, { kind: K }> => e.kind === kind);
  }

  /** Waits for an event matching `pred`. */
  waitFor(pred: (e: LogEvent) => boolean, what: string, timeoutMs = 5000): Promise<LogEvent> {
    return waitFor(() => this.events.find(pred), timeoutMs, what);
  }

  daemonText(): string {
    return this.of('daemon')
      .map((e) => `${e.level}: ${e.message}`)
      .join('\n');
  }
}
