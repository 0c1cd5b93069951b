// Real Debian packages served side by side by the real xinetd and by tsinetd (issue #19): the same
// service text (only the port differs), the package's own client, and for each package the
// client's result and the START/EXIT/FAIL lines must be the same for both daemons (timestamps,
// pids and durations masked). Each service refuses 127.0.0.2 (`no_access`), and one client
// connects from there, so FAIL lines are compared too.
// Packages: rsync (`rsync --daemon` under inetd), git (`git daemon --inetd`), tftpd-hpa with
// tftp-hpa, fingerd (in.fingerd with finger as its -p program; unpacked under /opt/fingerd-ref by
// .ci/run, or installed). Each test skips when its package or the real xinetd is missing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { CLI, programService, renderConfig, startDaemon, type RunningDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, waitFor, withTimeout } from '../../helpers/net.js';
import { bareGitRepo, TFTP, TFTPD, tftpdService } from '../../helpers/packages.js';
import { tempDir } from '../../helpers/temp.js';
import { XINETD } from '../../helpers/xinetd-diff.js';

const noXinetd = existsSync(XINETD) ? false : `real xinetd not found at ${XINETD} (set TSINETD_XINETD_REF)`;
/** What a package needs on this machine: false, or why the test skips. */
/** Real xinetd serves the packages as deployed: run by root (its `user =` lines switch ids). */
const notRoot = process.getuid?.() === 0 ? false : "needs root (xinetd runs the packages' servers as root and nobody, as deployed)";
const needs = (...paths: string[]): string | false => {
  const missing = paths.filter((p) => !existsSync(p));
  return noXinetd || notRoot || (missing.length > 0 ? `not installed: ${missing.join(', ')}` : false);
};

const FINGERD = ['/opt/fingerd-ref/usr/sbin/in.fingerd', '/usr/sbin/in.fingerd'].find((p) => existsSync(p)) ?? '/usr/sbin/in.fingerd';
const FINGER = ['/opt/fingerd-ref/usr/bin/finger', '/usr/bin/finger'].find((p) => existsSync(p)) ?? '/usr/bin/finger';

/** The log defaults both daemons get (those startDaemon gives tsinetd). */
const LOG = (file: string) => ({ log_type: `FILE ${file}`, log_on_success: 'PID HOST EXIT DURATION', log_on_failure: 'HOST' });

interface Side {
  port: number;
  serviceLog: () => string;
}

/** The real xinetd on one service, stopped when the test ends. */
async function startXinetd(t: TestContext, service: ServiceDef): Promise<Side> {
  const dir = tempDir(t, 'pkg-xinetd');
  const log = join(dir, 'services.log');
  const daemonLog = join(dir, 'daemon.log');
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, renderConfig([service], LOG(log)));
  const child = spawn(XINETD, ['-dontfork', '-f', conf, '-filelog', daemonLog], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGTERM');
  });
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
  await waitFor(() => (/Started working: 1 available service/.test(read(daemonLog)) ? true : undefined), 10_000, `xinetd to start:\n${read(daemonLog)}`);
  return { port: Number(service.attrs['port']), serviceLog: () => read(log) };
}

function ours(d: RunningDaemon, port: number): Side {
  return { port, serviceLog: () => d.serviceLog() };
}

/** Both daemons on the same service text, each on its own port. */
async function bothDaemons(t: TestContext, make: (port: number) => ServiceDef): Promise<{ xinetd: Side; tsinetd: Side }> {
  const [px, pt] = [await freePort(), await freePort()];
  const xinetd = await startXinetd(t, make(px));
  const d = await startDaemon(t, { services: [make(pt)] });
  return { xinetd, tsinetd: ours(d, pt) };
}

const mask = (l: string): string =>
  l
    .replace(/^\d{2}\/\d{1,2}\/\d{1,2}@\d{2}:\d{2}:\d{2}:? /, 'TIME ')
    .replace(/pid=\d+/g, 'pid=N')
    .replace(/duration=\d+/g, 'duration=N');

const logLines = (s: Side): string[] =>
  s
    .serviceLog()
    .split('\n')
    .filter((l) => l !== '');

/** Waits until `n` lines of `kind` are in the log (xinetd writes EXIT when the server is reaped). */
async function waitLines(s: Side, kind: RegExp, n: number): Promise<void> {
  await waitFor(() => (logLines(s).filter((l) => kind.test(l)).length >= n ? true : undefined), 15_000, `${n} ${kind} line(s):\n${s.serviceLog()}`);
}

/** The masked log lines, in START, FAIL, EXIT order (xinetd's FAIL comes from its child, in any order). */
function sessions(lines: readonly string[]): string[] {
  const rank = (l: string) => ['START:', 'FAIL:', 'EXIT:'].findIndex((k) => l.includes(` ${k} `));
  return lines.map(mask).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * xinetd's lines without the START and EXIT of the child it forks for a refused client: xinetd
 * forks before checking access, tsinetd decides before starting anything and writes the FAIL
 * line alone (a documented difference: tsinetd.log(5), COMPATIBILITY).
 */
function withoutRefusedFork(lines: readonly string[]): string[] {
  const pids = new Set(lines.filter((l) => / START: .* from=(::ffff:)?127\.0\.0\.2$/.test(l)).map((l) => /pid=(\d+)/.exec(l)![1]));
  return lines.filter((l) => !((/ START: /.test(l) || / EXIT: /.test(l)) && pids.has(/pid=(\d+)/.exec(l)?.[1] ?? '')));
}

/** A TCP client from 127.0.0.2 that sends `line` and reads until the server closes. */
function refusedTcp(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close from port ${port}`));
    }, 5000);
    sock.on('data', (b) => (data += b.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }, () => sock.end(line));
  });
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return withTimeout(
    new Promise((resolve) => {
      const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    }),
    opts.timeoutMs ?? 30_000,
    `${cmd} ${args.join(' ')}`,
  );
}

/** Runs `client` against both daemons, then one refused connection from 127.0.0.2; compares all. */
async function compare(
  both: { xinetd: Side; tsinetd: Side },
  client: (port: number, side: 'xinetd' | 'tsinetd') => Promise<string>,
  refused: (port: number) => Promise<string>,
): Promise<void> {
  const results: string[] = [];
  for (const side of ['xinetd', 'tsinetd'] as const) {
    const s = both[side];
    results.push((await client(s.port, side)).replaceAll(String(s.port), 'PORT'));
    await waitLines(s, /EXIT:/, 1);
    results.push(await refused(s.port));
    await waitLines(s, /FAIL:/, 1);
  }
  const [x, xr, o, or] = results;
  assert.equal(o, x, 'the client saw something else through tsinetd');
  assert.equal(or, xr, 'the refused client saw something else through tsinetd');
  // The refused session of xinetd also ends with an EXIT of its forked child.
  await waitLines(both.xinetd, /EXIT:/, 2);
  await new Promise((r) => setTimeout(r, 300)); // any extra line would show up now
  const real = logLines(both.xinetd);
  assert.equal(real.length, 5, `xinetd wrote START, EXIT, and START, FAIL, EXIT for the refused client:\n${real.join('\n')}`);
  assert.deepEqual(sessions(logLines(both.tsinetd)), sessions(withoutRefusedFork(real)));
}

const binaryOf = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();

test("rsync --daemon under inetd: the module listing and the log lines equal xinetd's", { skip: needs('/usr/bin/rsync'), timeout: 60_000 }, async (t) => {
  const dir = tempDir(t, 'pkg-rsync');
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'hello.txt'), 'hello from rsync\n');
  const conf = join(dir, 'rsyncd.conf');
  writeFileSync(conf, `use chroot = no\nlog file = /dev/null\n[mod]\n  path = ${data}\n  read only = yes\n`);
  const both = await bothDaemons(t, (port) =>
    programService('rsync', port, '/usr/bin/rsync', { user: 'root', server_args: `--daemon --config=${conf}`, no_access: '127.0.0.2' }),
  );
  await compare(
    both,
    async (port) => {
      const r = await run('rsync', [`rsync://127.0.0.1:${port}/mod/`]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /hello\.txt/);
      return `${r.status}\n${r.stdout}`;
    },
    (port) => refusedTcp(port, '@RSYNCD: 31.0\n'),
  );
});

test("git daemon --inetd: a clone and the log lines equal xinetd's", { skip: needs(binaryOf('git') || '/usr/bin/git'), timeout: 60_000 }, async (t) => {
  const dir = tempDir(t, 'pkg-git');
  const repos = bareGitRepo(dir, 'served by both\n');
  const git = binaryOf('git');
  const both = await bothDaemons(t, (port) =>
    programService('git', port, git, { user: 'root', server_args: `daemon --inetd --export-all --base-path=${repos} ${repos}`, no_access: '127.0.0.2' }),
  );
  await compare(
    both,
    async (port, side) => {
      const dest = join(dir, `clone-${side}`);
      const r = await run('git', ['clone', '-q', `git://127.0.0.1:${port}/repo.git`, dest]);
      assert.equal(r.status, 0, r.stderr);
      return `${r.status} ${readFileSync(join(dest, 'README'), 'utf8')}`;
    },
    (port) => refusedTcp(port, '0032git-upload-pack /repo.git\0host=127.0.0.1\0'),
  );
});

test("in.fingerd: the answer to a finger query and the log lines equal xinetd's", { skip: needs(FINGERD, FINGER), timeout: 60_000 }, async (t) => {
  const both = await bothDaemons(t, (port) => programService('finger', port, FINGERD, { user: 'nobody', server_args: `-p ${FINGER}`, no_access: '127.0.0.2' }));
  await compare(
    both,
    async (port) => {
      const answer = await fingerQuery(port);
      assert.match(answer, /Login: root/);
      return answer;
    },
    (port) => refusedTcp(port, 'root\r\n'),
  );
});

/** A finger query for root over TCP (finger's own client only talks to port 79). */
function fingerQuery(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no finger answer'));
    }, 10_000);
    sock.on('data', (b) => (data += b.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.connect({ host: '127.0.0.1', port }, () => sock.write('root\r\n'));
  });
}

/** A tftp read request (RFC 1350). */
const rrq = (file: string) => Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)]);

test("tftpd-hpa with tftp-hpa: the file and the log lines equal xinetd's", { skip: needs(TFTPD, TFTP), timeout: 60_000 }, async (t) => {
  const root = tempDir(t, 'pkg-tftproot');
  chmodSync(root, 0o755);
  const content = 'served by both daemons\n'.repeat(40);
  writeFileSync(join(root, 'hello.txt'), content, { mode: 0o644 });
  const out = tempDir(t, 'pkg-tftpget');
  const both = await bothDaemons(t, (port) => tftpdService(port, root, { no_access: '127.0.0.2' }));
  await compare(
    both,
    async (port, side) => {
      const dest = join(out, `got-${side}`);
      const r = await run(TFTP, ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'hello.txt', dest]);
      assert.equal(readFileSync(dest, 'utf8'), content);
      return `${r.status} ${r.stdout}${r.stderr}`;
    },
    async (port) => {
      // From 127.0.0.2: refused before any server runs; no answer comes.
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => sock.bind(0, '127.0.0.2', () => resolve()));
      let answer = '';
      sock.on('message', (m) => (answer += m.toString('latin1')));
      sock.send(rrq('hello.txt'), port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 1000));
      sock.close();
      return answer;
    },
  );
});

// ---- an /etc/inetd.conf line, as Debian's fingerd package adds it (xinetd -inetd_compat) ----------

/**
 * Starts `argv` in a private mount namespace whose /etc is an overlay holding `etc` (file name →
 * text), so xinetd reads a scratch /etc/inetd.conf and both daemons a scratch /etc/services; the
 * machine's files are not touched. Resolves once the daemon log says it started working.
 */
async function startWithEtc(t: TestContext, name: string, argv: string[], etc: Record<string, string>, daemonLog: string): Promise<void> {
  const dir = tempDir(t, `pkg-etc-${name}`);
  const [upper, work] = [join(dir, 'upper'), join(dir, 'work')];
  mkdirSync(upper);
  mkdirSync(work);
  for (const [file, text] of Object.entries(etc)) writeFileSync(join(upper, file), text, { mode: 0o644 });
  const script = `mount -t overlay overlay -o lowerdir=/etc,upperdir=${upper},workdir=${work} /etc && exec "$@"`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGTERM');
  });
  const read = () => (existsSync(daemonLog) ? readFileSync(daemonLog, 'utf8') : '');
  await waitFor(() => (/Started working: 1 available service/.test(read()) ? true : undefined), 15_000, `${name} to start:\n${read()}`);
}

test(
  "in.fingerd from an inetd.conf line (-inetd_compat, logging from defaults): answer and log lines equal xinetd's",
  { skip: needs(FINGERD, FINGER, '/usr/sbin/tcpd') || (process.getuid?.() === 0 ? false : 'needs root (unshare -m)'), timeout: 60_000 },
  async (t) => {
    const dir = tempDir(t, 'pkg-compat');
    const services = readFileSync('/etc/services', 'utf8').replace(/^finger\s.*$/gm, '');
    const sides: Side[] = [];
    for (const name of ['xinetd', 'tsinetd'] as const) {
      const port = await freePort();
      const [conf, log, daemonLog] = [join(dir, `${name}.conf`), join(dir, `${name}-services.log`), join(dir, `${name}-daemon.log`)];
      writeFileSync(conf, renderConfig([], LOG(log)));
      const etc = {
        services: `${services}\nfinger\t\t${port}/tcp\n`,
        // Debian's fingerd line (update-inetd), with finger's program named for this machine.
        'inetd.conf': `finger\tstream\ttcp\tnowait\tnobody\t/usr/sbin/tcpd\t${FINGERD} -p ${FINGER}\n`,
        'hosts.allow': '',
        'hosts.deny': '',
      };
      const argv =
        name === 'xinetd'
          ? [XINETD, '-dontfork', '-inetd_compat', '-f', conf, '-filelog', daemonLog]
          : [process.execPath, CLI, '-dontfork', '--inetd_compat', '-f', conf, '-filelog', daemonLog, '-pidfile', join(dir, 'pid')];
      await startWithEtc(t, name, argv, etc, daemonLog);
      const read = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
      sides.push({ port, serviceLog: read });
    }
    const answers: string[] = [];
    for (const s of sides) answers.push(await fingerQuery(s.port));
    assert.match(answers[0]!, /Login: root/);
    assert.equal(answers[1], answers[0]);
    await waitLines(sides[0]!, /EXIT:/, 1);
    await new Promise((r) => setTimeout(r, 300));
    const [real, got] = [sessions(logLines(sides[0]!)), sessions(logLines(sides[1]!))];
    assert.equal(real.length, 2, `xinetd wrote START and EXIT:\n${real.join('\n')}`);
    // The one difference, documented (tsinetd.conf(5), COMPATIBILITY): a `tcp` line of an OpenBSD
    // inetd.conf gets an IPv4 socket of its own, as openbsd-inetd gives it, where xinetd opens
    // one dual-stack socket; the same client is then named 127.0.0.1, not ::ffff:127.0.0.1.
    const unmapped = (lines: string[]) => lines.map((l) => l.replace('from=::ffff:', 'from='));
    assert.deepEqual(unmapped(got), unmapped(real));
  },
);
