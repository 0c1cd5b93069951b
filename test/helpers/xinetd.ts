// Real xinetd (the reference build unpacked at /opt/xinetd-ref, or TSINETD_XINETD_REF) and the
// tsinetd CLI, each run on the same configuration file, optionally inside a private mount
// namespace whose `mounts` (scratch file → system path, e.g. a test /etc/services) are
// bind-mounted first. Tests that use it skip when xinetd or unshare is missing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CLI } from './daemon.js';
import { waitFor } from './net.js';

export const XINETD = process.env['TSINETD_XINETD_REF'] ?? '/opt/xinetd-ref/usr/sbin/xinetd';
export const noXinetd: string | false = existsSync(XINETD) ? false : `real xinetd not found at ${XINETD} (set TSINETD_XINETD_REF)`;

/** Why bind mounts in a private mount namespace cannot be made here, or false when they can. */
export function noMountNamespace(): string | false {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'cannot make a private mount namespace (unshare -m needs root)';
}

export type Mounts = ReadonlyArray<readonly [scratch: string, target: string]>;

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** argv running `argv` after the bind mounts, in a namespace of its own (as is when there are none). */
function inNamespace(argv: readonly string[], mounts: Mounts): string[] {
  if (mounts.length === 0) return [...argv];
  const setup = mounts.map(([from, to]) => `mount --bind ${quote(from)} ${quote(to)}`).join(' && ');
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `${setup} && exec ${argv.map(quote).join(' ')}`];
}

/**
 * argv that runs `argv` in a new mount namespace whose /etc is an overlay on the machine's, with a
 * scratch directory under `dir` as its upper layer holding `etc` (file name → text: an inetd.conf,
 * a services file...); the machine's /etc is never written. Needs root (see noMountNamespace).
 */
export function withEtc(dir: string, tag: string, etc: Readonly<Record<string, string>>, argv: readonly string[]): string[] {
  const upper = join(dir, `${tag}.etc-upper`);
  const work = join(dir, `${tag}.etc-work`);
  mkdirSync(upper);
  mkdirSync(work);
  for (const [name, text] of Object.entries(etc)) writeFileSync(join(upper, name), text);
  const script = 'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && shift 2 && exec "$@"';
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', upper, work, ...argv];
}

/**
 * Starts `argv` as withEtc says; resolves with its pid (unshare and sh exec it in their place)
 * once `daemonLog` says "Started working". The process is killed when `t` ends.
 */
export async function startWithEtc(
  t: TestContext,
  dir: string,
  tag: string,
  etc: Readonly<Record<string, string>>,
  argv: readonly string[],
  daemonLog: string,
): Promise<number> {
  const [cmd, ...args] = withEtc(dir, tag, etc, argv);
  const child = spawn(cmd!, args, { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGKILL');
  });
  const lines = (): string => (existsSync(daemonLog) ? readFileSync(daemonLog, 'utf8') : '');
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`${tag} exited: ${lines()}`);
      return lines().includes('Started working') ? true : undefined;
    },
    15_000,
    `${tag} to start`,
  );
  return child.pid!;
}

export interface XinetdRun {
  /** The count of xinetd's "Started working: N available services"; 0 when it exited before. */
  started: number;
  /** Whether it exited before it started working (as at a fatal error in defaults). */
  exited: boolean;
  /** The daemon log so far (messages without their date and pid prefix). */
  log(): string;
  /** Kills it and waits until it is gone (its ports free). */
  stop(): Promise<void>;
  /** Sends it a signal (SIGHUP: reconfigure, SIGTERM: stop). */
  signal(sig: NodeJS.Signals): void;
  /** Resolves when it has exited. */
  readonly gone: Promise<void>;
}

/**
 * Starts xinetd in the foreground on `conf`, logging to `logFile`; stopped when `t` ends.
 * `enter`: a prefix that execs it elsewhere (a private network namespace: netns.ts Netns.enter).
 */
export async function startXinetd(t: TestContext, conf: string, logFile: string, mounts: Mounts = [], enter: readonly string[] = []): Promise<XinetdRun> {
  const [cmd, ...args] = [...enter, ...inNamespace([XINETD, '-dontfork', '-f', conf, '-filelog', logFile], mounts)];
  const child = spawn(cmd!, args, { stdio: 'ignore' });
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL');
    await gone;
  };
  t.after(stop);
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8').replace(/^\S+ xinetd\[\d+\]: /gm, '') : '');
  const started = await waitFor(
    () => {
      const m = /Started working: (\d+) available service/.exec(log());
      if (m !== null) return Number(m[1]);
      return child.exitCode !== null || child.signalCode !== null ? -1 : undefined;
    },
    10_000,
    `xinetd to start on ${conf}`,
  );
  return { started: Math.max(0, started), exited: started < 0, log, stop, signal: (sig) => child.kill(sig), gone };
}

export interface DumpedService {
  id: string;
  enabled: boolean;
  problems: string[];
  server_argv: string[];
}

/** `tsinetd --dump -f conf`: the services it would start (enabled, no problem) and its diagnostics as `file:line:col: severity: message`. */
export function tsinetdStarts(conf: string, mounts: Mounts = []): { started: DumpedService[]; diagnostics: string[] } {
  const [cmd, ...args] = inNamespace([process.execPath, CLI, '--dump', '-f', conf], mounts);
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.stdout === '') throw new Error(`tsinetd --dump printed nothing (status ${String(r.status)}):\n${r.stderr}`);
  const dump = JSON.parse(r.stdout) as {
    services: DumpedService[];
    diagnostics: { severity: string; file: string; line: number; column: number; message: string }[];
  };
  return {
    started: dump.services.filter((s) => s.enabled && s.problems.length === 0),
    diagnostics: dump.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`),
  };
}

/** A service log's lines without their time stamps, pids and durations, to compare two daemons' logs. */
export function maskServiceLog(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => l !== '')
    .map((l) =>
      l
        .replace(/^\S+: /, '')
        .replace(/pid=\d+/g, 'pid=N')
        .replace(/duration=\d+/g, 'duration=N'),
    );
}
