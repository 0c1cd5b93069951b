// inetd.conf unix-domain stream and datagram services (protocol `unix`), served by the real daemon: the socket
// file at the path with the owner, group and mode the dialect's inetd gives it (OpenBSD 0666,
// FreeBSD 0200 or its `:user:group:mode:` prefix), a stale socket file replaced and anything
// else left alone, the file kept across a reload that keeps the service, removed with the
// service and at stop; what a server and the log get for a peer without an address; FreeBSD's
// internal services by the path's last component; and, side by side with Debian's
// openbsd-inetd (skipped when absent), the reply, the file's mode and owner, and its removal.
// Clients: Node's net.connect({ path }) and OpenBSD netcat's `nc -U` (skipped without it); for
// datagrams, which Node cannot send over a unix socket, python3 with a bound client path (the
// server answers that path). Datagram sockets are held by the spawn helper: those tests skip
// when the daemon runs the Node spawner, and one checks that it then says they are not served.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, have, runCli, startDaemon, TEST_USER, type RunningDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';
import { spawnHelperOf } from '../../helpers/proc.js';
import { daemonRunsNoHelper, usableHelper } from '../../helpers/spawnd.js';
import { unixDgramRequest } from '../../helpers/unix-dgram.js';

const SOCK_FAMILY = join(FIXTURES, 'sock-family');
const ACCEPT_ONCE = join(FIXTURES, 'tcp-accept-once');
const ENV_PRINTER = join(FIXTURES, 'env-printer');

/** Connects to the unix socket at `path`, sends `input` and half-closes; everything read until the server closes. */
function unixRequest(path: string, input = '', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of reply from ${path} within ${timeoutMs} ms: ${Buffer.concat(chunks).toString()}`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(input));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

/** OpenBSD netcat as a unix-domain client: `nc -U -N path` with `input` on its stdin. */
function ncU(path: string, input: string): string {
  const r = spawnSync('nc', ['-U', '-N', path], { input, encoding: 'utf8', timeout: 5000 });
  return r.stdout;
}

/** A socket file's type, mode and owner as stat(1) would show them. */
function fileInfo(path: string): { socket: boolean; mode: string; uid: number; gid: number; ino: number } {
  const st = lstatSync(path);
  return { socket: st.isSocket(), mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), uid: st.uid, gid: st.gid, ino: st.ino };
}

/** A socket file left behind by a process that is gone (bound, never unlinked). */
function staleSocket(path: string): void {
  const r = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  assert.equal(r.status, 0, r.stderr.toString());
}

async function serveInetd(t: TestContext, dir: string, lines: string, dialect: 'openbsd' | 'freebsd' = 'openbsd'): Promise<{ d: RunningDaemon; conf: string }> {
  const conf = join(dir, 'inetd.conf');
  writeFileSync(conf, lines);
  const d = await startDaemon(t, { services: [], args: ['--inetd', conf, '--dialect', dialect] });
  return { d, conf };
}

const primaryGroup = (): string => spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
const uid = process.getuid?.() ?? -1;
const gid = process.getgid?.() ?? -1;
const noPython = have('python3') ? false : 'python3 is not available (the fixture servers need it)';

describe('unix-domain stream services', { skip: noPython }, () => {
  test('OpenBSD: nowait and wait served at the path, mode 0666 owned by the daemon; a stale socket is replaced, a regular file is not', async (t) => {
    const dir = tempDir(t, 'unix');
    const [a, b, env, blocked] = ['a.sock', 'b.sock', 'env.sock', 'file.sock'].map((n) => join(dir, n)) as [string, string, string, string];
    staleSocket(a);
    await assert.rejects(unixRequest(a), { code: 'ECONNREFUSED' }, 'nobody listens on the stale socket');
    writeFileSync(blocked, 'precious\n');
    const { d } = await serveInetd(
      t,
      dir,
      `${a}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n` +
        `${b}\tstream\tunix\twait\t${TEST_USER}\t${ACCEPT_ONCE}\ttcp-accept-once\n` +
        `${env}\tstream\tunix\tnowait\t${TEST_USER}\t/bin/sh\tsh ${ENV_PRINTER} one two\n` +
        `${blocked}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`,
    );
    await d.waitForDaemonLog(/file\.sock exists and is not a socket: not removed/);
    for (const p of [a, b, env]) assert.deepEqual({ ...fileInfo(p), ino: 0 }, { socket: true, mode: '0666', uid, gid, ino: 0 }, p);
    assert.equal(readFileSync(blocked, 'utf8'), 'precious\n', 'a regular file at the path is left alone');

    assert.equal(await unixRequest(a), 'family=AF_UNIX peer=\n');
    assert.match(await unixRequest(b), /^pid=\d+ peer=\n$/);
    assert.match(await unixRequest(b), /^pid=\d+ peer=\n$/, 'the wait = yes socket is watched again after its server');
    const printed = await unixRequest(env);
    assert.match(printed, /^args=one two$/m);
    assert.match(printed, /^env:REMOTE_HOST=<no address>$/m);
    // nc sends nothing: sock-family never reads, and a unix stream socket closed with unread
    // bytes resets its peer, whose POLLERR makes nc drop the reply unread (a race under load).
    if (have('nc')) assert.equal(ncU(a, ''), 'family=AF_UNIX peer=\n');

    // START lines without from= (no address), one per server.
    await d.waitForServiceLog(/START: .*env\.sock pid=\d+/);
    const log = d.serviceLog();
    assert.equal(log.match(/START: \S+\/b\.sock pid=\d+\n/g)?.length, 2, log);
    assert.match(log, /START: \S+\/a\.sock pid=\d+\n/);
    assert.doesNotMatch(log, /from=/);
  });

  test('reload keeps the file of a service it keeps, removes that of a service it drops, makes the new one; stop removes them', async (t) => {
    const dir = tempDir(t, 'unix-reload');
    const [a, b] = [join(dir, 'a.sock'), join(dir, 'b.sock')];
    const line = (p: string): string => `${p}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`;
    const { d, conf } = await serveInetd(t, dir, line(a));
    const before = fileInfo(a).ino;
    d.signal('SIGHUP');
    await d.waitForDaemonLog(/Reconfigured: new=0 old=1 dropped=0/);
    assert.equal(fileInfo(a).ino, before, 'an unchanged service keeps its socket');
    assert.equal(await unixRequest(a), 'family=AF_UNIX peer=\n');

    writeFileSync(conf, line(b));
    d.signal('SIGHUP');
    await d.waitForDaemonLog(/Reconfigured: new=1 old=0 dropped=1/);
    await waitFor(() => (existsSync(a) ? undefined : true), 5000, `${a} to be removed`);
    assert.equal(fileInfo(b).socket, true);
    assert.equal(await unixRequest(b), 'family=AF_UNIX peer=\n');

    await d.stop();
    assert.equal(existsSync(b), false, 'the socket file is removed at stop');
  });

  test('FreeBSD: the :user:group:mode: prefix, else mode 0200; internal echo found by the last path component; nc -U', async (t) => {
    const dir = tempDir(t, 'unix-freebsd');
    const [owned, plain, echo, one] = [join(dir, 'owned.sock'), join(dir, 'plain.sock'), join(dir, 'echo'), join(dir, 'one.sock')];
    const owner = uid === 0 ? 'nobody' : TEST_USER;
    const group = uid === 0 ? 'nogroup' : primaryGroup();
    await serveInetd(
      t,
      dir,
      `:${owner}:${group}:0640:${owned}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n` +
        `${plain}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n` +
        `:${owner}:${group}:0666:${echo}\tstream\tunix\tnowait\troot\tinternal\n` +
        `:${owner}:${group}:0666:${one}\tstream\tunix\tnowait/1\t${TEST_USER}\t/bin/sh\tsh -c "echo start; sleep 0.4; echo end"\n`,
      'freebsd',
    );
    const expectUid = uid === 0 ? 65534 : uid;
    const owned_ = fileInfo(owned);
    assert.deepEqual([owned_.socket, owned_.mode, owned_.uid], [true, '0640', expectUid]);
    assert.deepEqual([fileInfo(plain).mode, fileInfo(plain).uid, fileInfo(plain).gid], ['0200', uid, gid]);
    // root may connect whatever the mode; the reply is the same as through a writable socket
    if (uid === 0) assert.equal(await unixRequest(plain), 'family=AF_UNIX peer=\n');
    assert.equal(await unixRequest(echo, 'hello over unix\n'), 'hello over unix\n');
    if (have('nc')) assert.equal(ncU(echo, 'via nc\n'), 'via nc\n');
    // max-child 1: the second client waits in the listen queue until the first server ends
    const t0 = performance.now();
    const both = await Promise.all([unixRequest(one), unixRequest(one)]);
    assert.deepEqual(both, ['start\nend\n', 'start\nend\n']);
    assert.ok(performance.now() - t0 >= 750, `two 0.4 s servers one after the other took ${Math.round(performance.now() - t0)} ms`);
  });

  test('--check: address checks the xinetd defaults give an inetd unix service cannot apply, said at its line', async (t) => {
    const dir = tempDir(t, 'unix-check');
    const xconf = join(dir, 'xinetd.conf');
    writeFileSync(xconf, 'defaults\n{\n\tper_source = 5\n}\n');
    const conf = join(dir, 'inetd.conf');
    writeFileSync(
      conf,
      `# a unix service\n${join(dir, 'a.sock')}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n${join(dir, 'd.sock')}\tdgram\tunix\twait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`,
    );
    const r = await runCli(['--check', '-f', xconf, '--inetd', conf, '--dialect', 'openbsd']);
    assert.match(
      r.stderr,
      new RegExp(
        `${conf}:2:1: warning: service ${dir}/a\\.sock: per_source cannot be checked on a unix-domain socket: a unix peer has no address, so they let every client in, as the inetds do`,
      ),
    );
    assert.equal(existsSync(join(dir, 'a.sock')), false, '--check binds nothing');
    // A unix datagram socket needs the spawn helper: said at its line when the Node spawner runs, not otherwise.
    const dgramLine = new RegExp(`${conf}:3:1: warning: service ${dir}/d\\.sock: unix-domain datagram sockets are served only by the native spawn helper`);
    const node = await runCli(['--check', '-f', xconf, '--inetd', conf, '--dialect', 'openbsd'], { env: { ...process.env, TSINETD_SPAWNER: 'node' } });
    assert.match(node.stderr, dgramLine);
    if (usableHelper() !== null) {
      const native = await runCli(['--check', '-f', xconf, '--inetd', conf, '--dialect', 'openbsd'], { env: { ...process.env, TSINETD_SPAWNER: 'native' } });
      assert.doesNotMatch(native.stderr, /d\.sock: unix-domain datagram/);
    }

    // --dump shows the socket; --convert leaves a comment-only file (xinetd has no unix sockets)
    const dump = await runCli(['--dump', '-f', xconf, '--inetd', conf, '--dialect', 'openbsd']);
    const table = JSON.parse(dump.stdout) as { services: { id: string; protocol: string; unix: unknown }[] };
    const a = table.services.find((s) => s.id === join(dir, 'a.sock'));
    assert.deepEqual([a?.protocol, a?.unix], ['unix', { path: join(dir, 'a.sock'), owner: null, group: null, mode: 0o666 }]);
    const out = join(dir, 'xinetd.d');
    const converted = await runCli(['--convert', conf, '--dialect', 'openbsd', '-o', out]);
    assert.match(converted.stderr, new RegExp(`${conf}:2:1: warning: xinetd has no unix-domain sockets: service ${dir}/a\\.sock`));
    const files = readdirSync(out);
    assert.equal(files.length, 2, files.join(' '));
    for (const f of files) {
      const text = readFileSync(join(out, f), 'utf8');
      assert.match(text, /^# xinetd has no unix-domain sockets: service .* is not converted/m);
      assert.deepEqual(
        text.split('\n').filter((l) => l !== '' && !l.startsWith('#')),
        [],
        'only comments',
      );
    }
  });
});

describe('unix-domain datagram services (held by the spawn helper)', { skip: noPython || daemonRunsNoHelper() }, () => {
  const dgramLine = (p: string, prog = `${SOCK_FAMILY}\tsock-family`): string => `${p}\tdgram\tunix\twait\t${TEST_USER}\t${prog}\n`;

  test("OpenBSD: served at the path, mode 0666 owned by the daemon, one server per datagram, no address; a failed server's datagram is discarded; a stale socket is replaced, a regular file is not", async (t) => {
    const dir = tempDir(t, 'udgram');
    const [d1, env, blocked, failing] = ['d.sock', 'env.sock', 'file.sock', 'fail.sock'].map((n) => join(dir, n)) as [string, string, string, string];
    staleSocket(d1);
    writeFileSync(blocked, 'precious\n');
    // A server that keeps its environment and reads its datagram (one read) without answering,
    // then exits (the stop's SIGTERM reaches the shell only: a child still reading would be left).
    const script = join(dir, 'env-keeper.sh');
    writeFileSync(script, `env > ${dir}/env.out\ndd bs=64 count=1 of=/dev/null 2>/dev/null\n`);
    const { d } = await serveInetd(
      t,
      dir,
      dgramLine(d1) + dgramLine(env, `/bin/sh\tsh ${script}`) + dgramLine(blocked) + dgramLine(failing, '/bin/false\tfalse'),
    );
    await d.waitForDaemonLog(/file\.sock exists and is not a socket: not removed/);
    assert.equal(readFileSync(blocked, 'utf8'), 'precious\n', 'a regular file at the path is left alone');
    for (const p of [d1, env]) assert.deepEqual({ ...fileInfo(p), ino: 0 }, { socket: true, mode: '0666', uid, gid, ino: 0 }, p);

    // The server reads the datagram from fd 0 and answers the client's path; the socket is watched again after it.
    for (const c of ['c1', 'c2', 'c3']) assert.equal(unixDgramRequest(d1, join(dir, c), 'hi'), `family=AF_UNIX peer=${join(dir, c)}`);
    assert.equal(unixDgramRequest(env, join(dir, 'c4'), 'x', 1000), null, 'this server does not answer');
    await waitFor(() => (existsSync(join(dir, 'env.out')) ? true : undefined), 5000, 'the env server to run');
    await d.waitForServiceLog(/START: \S+\/env\.sock pid=\d+/);
    await waitFor(() => (/REMOTE_HOST=<no address>/.test(readFileSync(join(dir, 'env.out'), 'utf8')) ? true : undefined), 5000, 'the env output');
    const starts = (): number => d.serviceLog().match(/START: \S+\/d\.sock pid=\d+\n/g)?.length ?? 0;
    await waitFor(() => (starts() >= 3 ? true : undefined), 5000, 'three START lines of d.sock');
    const log = d.serviceLog();
    assert.equal(starts(), 3, log);
    assert.doesNotMatch(log, /from=/);

    // A server that fails without reading: its datagram is discarded (as xinetd drains after a
    // failed server), so it is not started again for it; a new datagram starts one after the pause.
    const failed = (): number => d.serviceLog().match(/START: \S+\/fail\.sock pid=\d+\n/g)?.length ?? 0;
    assert.equal(unixDgramRequest(failing, join(dir, 'c5'), 'x', 100), null);
    await waitFor(() => (failed() === 1 ? true : undefined), 5000, 'the failing server to start');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(failed(), 1, 'not started again for the datagram it left: ' + d.serviceLog());
    assert.equal(unixDgramRequest(failing, join(dir, 'c6'), 'y', 100), null);
    await waitFor(() => (failed() === 2 ? true : undefined), 5000, 'a second start for a new datagram');
  });

  test('FreeBSD prefix: owner, group and mode; no internal services; reload keeps the inode, drops and adds; a killed helper is replaced and the socket bound again; stop removes the file', async (t) => {
    const dir = tempDir(t, 'udgram-reload');
    const [a, b, echo] = [join(dir, 'a.sock'), join(dir, 'b.sock'), join(dir, 'echo')];
    const owner = uid === 0 ? 'nobody' : TEST_USER;
    const group = uid === 0 ? 'nogroup' : primaryGroup();
    const { d, conf } = await serveInetd(t, dir, `:${owner}:${group}:0620:${dgramLine(a)}${echo}\tdgram\tunix\twait\troot\tinternal\n`, 'freebsd');
    // Debian's openbsd-inetd makes no socket for an internal service on a unix datagram line either.
    await d.waitForDaemonLog(/service echo not started: internal services are not served on a unix-domain datagram socket/);
    assert.equal(existsSync(echo), false);
    const first = fileInfo(a);
    assert.deepEqual([first.socket, first.mode, first.uid], [true, '0620', uid === 0 ? 65534 : uid]);
    assert.equal(unixDgramRequest(a, join(dir, 'c1'), 'hi'), `family=AF_UNIX peer=${join(dir, 'c1')}`);

    d.signal('SIGHUP');
    await d.waitForDaemonLog(/Reconfigured: new=0 old=2 dropped=0/);
    assert.equal(fileInfo(a).ino, first.ino, 'an unchanged service keeps its socket');
    assert.equal(unixDgramRequest(a, join(dir, 'c2'), 'hi'), `family=AF_UNIX peer=${join(dir, 'c2')}`);

    // The helper holds the socket: killed, it takes the socket along; the daemon binds it again in a new helper.
    const helper = spawnHelperOf(d.pid);
    assert.ok(helper !== null, 'the daemon runs a spawn helper');
    process.kill(helper, 'SIGKILL');
    await d.waitForDaemonLog(/the spawn helper holding the socket exited/);
    // Bound under umask 0777, the file is 0000 until the daemon sets its owner and mode: wait for both.
    await waitFor(
      () => (existsSync(a) && fileInfo(a).ino !== first.ino && fileInfo(a).mode === '0620' ? true : undefined),
      10000,
      `${a} to be bound again with mode 0620`,
    );
    assert.equal(fileInfo(a).uid, uid === 0 ? 65534 : uid);
    assert.equal(unixDgramRequest(a, join(dir, 'c3'), 'hi'), `family=AF_UNIX peer=${join(dir, 'c3')}`);

    writeFileSync(conf, dgramLine(b));
    d.signal('SIGHUP');
    await d.waitForDaemonLog(/Reconfigured: new=1 old=0 dropped=2/);
    await waitFor(() => (existsSync(a) ? undefined : true), 5000, `${a} to be removed`);
    assert.deepEqual([fileInfo(b).socket, fileInfo(b).mode], [true, '0200'], 'FreeBSD without a prefix: 0200');
    if (uid === 0) assert.equal(unixDgramRequest(b, join(dir, 'c4'), 'hi'), `family=AF_UNIX peer=${join(dir, 'c4')}`);

    await d.stop();
    assert.equal(existsSync(b), false, 'the socket file is removed at stop');
  });
});

test('without the spawn helper a unix datagram service is not served, and the daemon says why', { skip: noPython }, async (t) => {
  const dir = tempDir(t, 'udgram-node');
  const path = join(dir, 'd.sock');
  const conf = join(dir, 'inetd.conf');
  writeFileSync(conf, `${path}\tdgram\tunix\twait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`);
  const d = await startDaemon(t, { services: [], args: ['--inetd', conf, '--dialect', 'openbsd'], env: { ...process.env, TSINETD_SPAWNER: 'node' } });
  await d.waitForDaemonLog(/service \S+\/d\.sock not started: unix-domain datagram sockets are served only by the native spawn helper/);
  assert.equal(existsSync(path), false);
});

// ---- side by side with Debian's openbsd-inetd ------------------------------------------------

const OPENBSD_INETD = ['/opt/openbsd-inetd-ref/usr/sbin/inetd', '/usr/sbin/inetd'].find((p) => existsSync(p));
const inetdSkip = noPython || (OPENBSD_INETD === undefined ? 'openbsd-inetd is absent (Debian package openbsd-inetd, unpacked under /opt by .ci/run)' : false);

/**
 * openbsd-inetd and tsinetd side by side in `dir`, each serving `line(path)` at its own socket
 * (theirs.sock, ours.sock); `stop()` ends both (SIGTERM) and waits for them.
 */
async function sideBySide(t: TestContext, dir: string, line: (path: string) => string): Promise<{ ours: string; theirs: string; stop: () => Promise<void> }> {
  const [ours, theirs] = [join(dir, 'ours.sock'), join(dir, 'theirs.sock')];
  const conf = join(dir, 'theirs.conf');
  writeFileSync(conf, line(theirs));
  const inetd = spawn(OPENBSD_INETD ?? '', ['-d', '-i', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let inetdOut = '';
  inetd.stderr.on('data', (d: Buffer) => (inetdOut += d.toString()));
  const inetdExited = new Promise<void>((resolve) => inetd.once('exit', () => resolve()));
  t.after(() => {
    inetd.kill('SIGKILL');
  });
  await waitFor(() => (existsSync(theirs) ? true : undefined), 5000, `openbsd-inetd to bind ${theirs}:\n${inetdOut}`);
  const { d } = await serveInetd(t, dir, line(ours));
  const stop = async (): Promise<void> => {
    inetd.kill('SIGTERM');
    await inetdExited;
    await d.stop();
  };
  return { ours, theirs, stop };
}

test('side by side with openbsd-inetd: the same reply, mode and owner of the socket file, and its removal at stop', { skip: inetdSkip }, async (t) => {
  const dir = tempDir(t, 'unix-openbsd');
  const { ours, theirs, stop } = await sideBySide(t, dir, (p) => `${p}\tstream\tunix\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`);

  const replies = { ours: await unixRequest(ours), theirs: await unixRequest(theirs) };
  assert.deepEqual(replies, { ours: 'family=AF_UNIX peer=\n', theirs: 'family=AF_UNIX peer=\n' });
  const info = (p: string): unknown => ({ ...fileInfo(p), ino: 0 });
  assert.deepEqual(info(ours), info(theirs));
  assert.equal(fileInfo(theirs).mode, '0666');
  if (have('nc')) assert.equal(ncU(ours, ''), ncU(theirs, ''));

  await stop();
  assert.deepEqual({ ours: existsSync(ours), theirs: existsSync(theirs) }, { ours: false, theirs: false });
});

test(
  'side by side with openbsd-inetd: a unix datagram service gives the same reply, mode and owner, and is removed at stop',
  { skip: inetdSkip || daemonRunsNoHelper() },
  async (t) => {
    const dir = tempDir(t, 'udgram-openbsd');
    const { ours, theirs, stop } = await sideBySide(t, dir, (p) => `${p}\tdgram\tunix\twait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`);

    const reply = (p: string, client: string): string | null => unixDgramRequest(p, join(dir, client), 'hello')?.replace(join(dir, client), 'CLIENT') ?? null;
    const want = { ours: 'family=AF_UNIX peer=CLIENT', theirs: 'family=AF_UNIX peer=CLIENT' };
    assert.deepEqual({ ours: reply(ours, 'a'), theirs: reply(theirs, 'b') }, want);
    assert.deepEqual({ ours: reply(ours, 'c'), theirs: reply(theirs, 'd') }, want, 'watched again after the server');
    const info = (p: string): unknown => ({ ...fileInfo(p), ino: 0 });
    assert.deepEqual(info(ours), info(theirs));
    assert.equal(fileInfo(theirs).mode, '0666');

    await stop();
    assert.deepEqual({ ours: existsSync(ours), theirs: existsSync(theirs) }, { ours: false, theirs: false });
  },
);
