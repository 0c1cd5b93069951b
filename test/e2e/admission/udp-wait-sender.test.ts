// wait = yes datagram services learn who sent the datagram that wakes them, before any server
// starts: the spawn helper peeks at it (MSG_PEEK), the daemon admits the sender like any client,
// and a refused datagram is dropped with no server started. Real parts: the tsinetd CLI, the
// helper, python servers and, when installed, tftp-hpa's client against tftpd-hpa's in.tftpd;
// and xinetd itself side by side for the log lines. Without the helper (TSINETD_SPAWNER=node)
// the sender cannot be known: services whose admission needs it refuse every datagram.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { usableHelper } from '../../helpers/spawnd.js';
import { FIXTURES, have, programService, startDaemon, TEST_USER, type Attrs, type RunningDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest, udpClient, waitFor, withTimeout, type UdpClient } from '../../helpers/net.js';
import { TFTP, TFTPD, tftpdService } from '../../helpers/packages.js';
import { tempDir } from '../../helpers/temp.js';

const UDP_REPLY = join(FIXTURES, 'udp-reply');
const XINETD = process.env['TSINETD_XINETD_REF'] ?? '/opt/xinetd-ref/usr/sbin/xinetd';
/** How long a refused client waits to be sure no answer comes. */
const SILENCE_MS = 700;

const noPython = have('python3') ? false : 'python3 is not installed';
const noHelper = noPython || (usableHelper() !== null ? false : 'the spawn helper is not built (no C compiler at build time)');
const NATIVE = { ...process.env, TSINETD_SPAWNER: 'native' };
const NODE = { ...process.env, TSINETD_SPAWNER: 'node' };

/** A wait = yes datagram program service on 127.0.0.1 (an IPv4 socket: peers are plain dotted quads). */
function udpService(name: string, port: number, extra: Attrs = {}): ServiceDef {
  return programService(name, port, UDP_REPLY, { socket_type: 'dgram', protocol: 'udp', wait: 'yes', bind: '127.0.0.1', ...extra });
}

async function clientOn(t: TestContext, localAddress: string): Promise<UdpClient> {
  const c = await udpClient({ localAddress });
  t.after(() => c.close());
  return c;
}

const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

/** A tftp read request (RFC 1350: opcode 1, file name, mode). */
function rrq(file: string): Buffer {
  return Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)]);
}

/** Gets `file` with tftp-hpa's client from 127.0.0.1; resolves with its exit code. */
function tftpGet(port: number, file: string, dest: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(TFTP, ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', file, dest], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function waitExit(d: RunningDaemon, name: string, n: number): Promise<void> {
  await waitFor(() => (count(d.serviceLog(), new RegExp(`EXIT: ${name} `)) >= n ? true : undefined), 5000, `${n} EXIT line(s) of ${name}\n${d.serviceLog()}`);
}

describe('wait = yes datagram services admit the sender (spawn helper)', { skip: noHelper }, () => {
  test('only_from: 127.0.0.2 is refused and dropped without a server, 127.0.0.1 served with from= and REMOTE_HOST', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [udpService('udpt', port, { only_from: '127.0.0.1' })], env: NATIVE });
    const bad = await clientOn(t, '127.0.0.2');
    bad.send('refuse me', port);
    await d.waitForServiceLog(/FAIL: udpt address from=127\.0\.0\.2$/);
    assert.equal((await bad.replies(1, SILENCE_MS)).length, 0);
    assert.equal(count(d.serviceLog(), /START:/), 0, d.serviceLog());

    // The same client floods (once the service watches again): refused and dropped in one go,
    // not reported again, and the next client is still served.
    await new Promise((r) => setTimeout(r, 1100));
    for (let i = 0; i < 50; i++) bad.send(`flood ${i}`, port);
    await new Promise((r) => setTimeout(r, 300));
    const good = await clientOn(t, '127.0.0.1');
    good.send('serve me', port);
    const [reply] = await good.replies(1, 5000);
    assert.match(reply?.toString() ?? '', /^pid=(\d+) host=127\.0\.0\.1 got=serve me$/);
    const pid = /^pid=(\d+)/.exec(reply!.toString())![1];
    await d.waitForServiceLog(new RegExp(`START: udpt pid=${pid} from=127\\.0\\.0\\.1$`));
    await waitExit(d, 'udpt', 1);
    // Neither refused datagram ever reached a server.
    assert.equal((await bad.replies(1, 200)).length, 0);
    assert.equal(count(d.serviceLog(), /FAIL: udpt address from=127\.0\.0\.2$/), 1, d.serviceLog());
    assert.equal(count(d.serviceLog(), /START:/), 1, d.serviceLog());
  });

  test('per_source = 0 refuses every sender; FreeBSD max-connections-per-ip-per-minute on a wait datagram service', async (t) => {
    const [p0, perMinute] = [await freePort(), await freePort()];
    const dir = tempDir(t, 'udpwait');
    const inetd = join(dir, 'inetd.conf');
    writeFileSync(inetd, `# $FreeBSD$\n${perMinute}\tdgram\tudp\twait/0/1\t${TEST_USER}\t${UDP_REPLY}\tudp-reply\n`);
    const d = await startDaemon(t, { services: [udpService('nobody', p0, { per_source: '0' })], args: ['--inetd', inetd], env: NATIVE });
    await d.waitForDaemonLog(/Started working: 2 available services/);
    const c = await clientOn(t, '127.0.0.1');
    c.send('x', p0);
    await d.waitForServiceLog(/FAIL: nobody per_source_limit from=127\.0\.0\.1$/);
    assert.equal((await c.replies(1, SILENCE_MS)).length, 0);

    // One datagram per minute from each address: the first is served, the second refused (inetd.conf
    // services log to syslog: the daemon log says which limit refused it).
    const other = await clientOn(t, '127.0.0.1');
    other.send('first', perMinute);
    assert.match((await other.replies(1, 5000))[0]?.toString() ?? '', /host=127\.0\.0\.1 got=first$/);
    other.send('second', perMinute);
    await d.waitForDaemonLog(new RegExp(`${perMinute} from 127\\.0\\.0\\.1 exceeded counts/min \\(limit 1/min\\)`));
    assert.equal((await other.replies(2, SILENCE_MS)).length, 1);
  });

  test('SENSOR: a host on the global no_access list is refused by a wait datagram service too; without the helper, every datagram is', async (t) => {
    const [sensor, sensorNode, udp, udpNode] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const trap = (port: number): ServiceDef =>
      programService('trap', port, join(FIXTURES, 'exit-with'), { bind: '127.0.0.1', flags: 'SENSOR', deny_time: '1' });
    const d = await startDaemon(t, { services: [trap(sensor), udpService('udpt', udp)], env: NATIVE });
    assert.equal((await tcpRequest({ port: sensor, localAddress: '127.0.0.2' })).data.length, 0);
    await d.waitForDaemonLog(/Adding 127\.0\.0\.2 to the global_no_access list for 1 minutes/);
    const bad = await clientOn(t, '127.0.0.2');
    bad.send('trapped', udp);
    await d.waitForServiceLog(/FAIL: udpt address from=127\.0\.0\.2$/);
    assert.equal((await bad.replies(1, SILENCE_MS)).length, 0);
    await d.waitForDaemonLog(/127\.0\.0\.2 is on the global no_access list \(SENSOR\)/);

    // The same without the helper: once the list holds an address, no sender can be told apart.
    const n = await startDaemon(t, { services: [trap(sensorNode), udpService('udpn', udpNode)], env: NODE });
    const good = await clientOn(t, '127.0.0.1');
    good.send('before', udpNode);
    assert.match((await good.replies(1, 5000))[0]?.toString() ?? '', /host=<no address> got=before$/);
    await tcpRequest({ port: sensorNode, localAddress: '127.0.0.2' });
    await n.waitForDaemonLog(/Adding 127\.0\.0\.2 to the global_no_access list/);
    good.send('after', udpNode);
    await n.waitForDaemonLog(
      /service udpn: datagram refused and dropped: its sender cannot be known without the spawn helper, and the global no_access list \(SENSOR\) need\(s\) the address/,
    );
    assert.equal((await good.replies(2, SILENCE_MS)).length, 1);
  });

  test('TCP wrappers: hosts.deny refuses a datagram sender by the daemon name (FAIL libwrap), the other sender is served', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [udpService('udpt', port)], env: NATIVE });
    writeFileSync(join(d.dir, 'hosts.deny'), 'udp-reply: 127.0.0.2\n');
    const bad = await clientOn(t, '127.0.0.2');
    bad.send('refuse me', port);
    await d.waitForServiceLog(/FAIL: udpt libwrap from=127\.0\.0\.2$/);
    await d.waitForDaemonLog(/libwrap refused connection to udpt \(libwrap=udp-reply\) from 127\.0\.0\.2/);
    assert.equal((await bad.replies(1, SILENCE_MS)).length, 0);
    await new Promise((r) => setTimeout(r, 1100)); // the service watches again after a refusal
    const good = await clientOn(t, '127.0.0.1');
    good.send('serve me', port);
    const [reply] = await good.replies(1, 5000);
    assert.match(reply?.toString() ?? '', /host=127\.0\.0\.1 got=serve me$/);
    assert.equal(count(d.serviceLog(), /START:/), 1, d.serviceLog());
  });

  test('tftp-hpa against in.tftpd with only_from: refused from 127.0.0.2, the file served to 127.0.0.1', async (t) => {
    if (!existsSync(TFTP) || !existsSync(TFTPD)) {
      t.skip(`${TFTP} (tftp-hpa) or ${TFTPD} (tftpd-hpa) is not installed`);
      return;
    }
    if (process.geteuid?.() !== 0) {
      t.skip('needs root: in.tftpd -s chroots into its directory and switches to nobody');
      return;
    }
    const port = await freePort();
    // in.tftpd serves as nobody from its chroot: the directory and the file must be readable by all.
    const root = tempDir(t, 'tftproot');
    chmodSync(root, 0o755);
    const content = `tsinetd tftp test ${process.pid} ${Date.now()}\n`.repeat(40); // two blocks
    writeFileSync(join(root, 'hello.txt'), content, { mode: 0o644 });
    const dest = join(tempDir(t, 'tftpget'), 'got.txt');
    const tftp = tftpdService(port, root, { only_from: '127.0.0.1' });
    const d = await startDaemon(t, { services: [tftp], env: NATIVE });

    // Refused while no server runs (a running in.tftpd would answer by itself).
    const bad = await clientOn(t, '127.0.0.2');
    bad.send(rrq('hello.txt'), port);
    await d.waitForServiceLog(/FAIL: tftp address from=127\.0\.0\.2$/);
    assert.equal((await bad.replies(1, SILENCE_MS * 2)).length, 0, 'no tftp answer to 127.0.0.2');
    assert.equal(count(d.serviceLog(), /START:/), 0);

    assert.equal(await withTimeout(tftpGet(port, 'hello.txt', dest), 15_000, 'tftp get'), 0);
    assert.equal(readFileSync(dest, 'utf8'), content);
    await d.waitForServiceLog(/START: tftp pid=\d+ from=127\.0\.0\.1$/);
  });
});

describe('wait = yes datagram services without the spawn helper', { skip: noPython }, () => {
  test('a service whose admission needs the sender refuses and drops every datagram, and says why; others are served without an address', async (t) => {
    const [guarded, open] = [await freePort(), await freePort()];
    const d = await startDaemon(t, {
      services: [udpService('guarded', guarded, { only_from: '127.0.0.1' }), udpService('open', open)],
      env: NODE,
    });
    const c = await clientOn(t, '127.0.0.1');
    c.send('allowed, but who can tell?', guarded);
    await d.waitForServiceLog(/FAIL: guarded address$/);
    await d.waitForDaemonLog(
      /WARNING: service guarded: datagram refused and dropped: its sender cannot be known without the spawn helper, and only_from need\(s\) the address/,
    );
    assert.equal((await c.replies(1, SILENCE_MS)).length, 0);
    assert.equal(count(d.serviceLog(), /START: guarded/), 0);

    c.send('anyone', open);
    assert.match((await c.replies(1, 5000))[0]?.toString() ?? '', /^pid=\d+ host=<no address> got=anyone$/);
    await d.waitForServiceLog(/START: open pid=\d+$/);
  });
});

describe('side by side with xinetd', { skip: noHelper || (existsSync(XINETD) ? false : `real xinetd not found at ${XINETD}`) }, () => {
  test('a refused and an admitted sender: the same FAIL and START lines (xinetd also writes START and EXIT for the fork it refuses in)', async (t) => {
    const dir = tempDir(t, 'xref');
    const [xport, port] = [await freePort(), await freePort()];
    const xlog = join(dir, 'xinetd-services.log');
    const xdaemon = join(dir, 'xinetd-daemon.log');
    const conf = join(dir, 'xinetd.conf');
    const attrs = (p: number): string =>
      [
        'service udpt',
        '{',
        '\ttype = UNLISTED',
        `\tport = ${p}`,
        '\tsocket_type = dgram',
        '\tprotocol = udp',
        '\twait = yes',
        `\tuser = ${TEST_USER}`,
        `\tserver = ${UDP_REPLY}`,
        `\tlog_type = FILE ${xlog}`,
        '\tlog_on_success = PID HOST EXIT',
        '\tlog_on_failure = HOST',
        '\tonly_from = 127.0.0.1',
        '}',
        '',
      ].join('\n');
    writeFileSync(conf, attrs(xport));
    const x = spawn(XINETD, ['-dontfork', '-f', conf, '-filelog', xdaemon], { stdio: 'ignore' });
    t.after(() => x.kill('SIGKILL'));
    await waitFor(() => (existsSync(xdaemon) && readFileSync(xdaemon, 'utf8').includes('Started working') ? true : undefined), 10_000, 'xinetd to start');
    // Both on the IPv6 wildcard (no bind), as xinetd listens: peers are ::ffff:a.b.c.d.
    const d = await startDaemon(t, {
      services: [udpService('udpt', port, { only_from: '127.0.0.1', bind: '::' })],
      defaults: { log_on_success: 'PID HOST EXIT' },
      env: NATIVE,
    });
    const xlines = (): string[] =>
      existsSync(xlog)
        ? readFileSync(xlog, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [];

    const bad = await clientOn(t, '127.0.0.2');
    const good = await clientOn(t, '127.0.0.1');
    bad.send('no', xport);
    await waitFor(() => (xlines().length >= 3 ? true : undefined), 5000, 'xinetd START, FAIL, EXIT');
    good.send('yes', xport);
    const [xreply] = await good.replies(1, 5000);
    await waitFor(() => (xlines().length >= 5 ? true : undefined), 5000, 'xinetd START, EXIT');
    bad.send('no', port);
    await d.waitForServiceLog(/FAIL:/);
    await new Promise((r) => setTimeout(r, 1100)); // the service watches again a second after a refusal
    good.send('yes', port);
    const [, reply] = await good.replies(2, 5000);
    await waitExit(d, 'udpt', 1);
    // REMOTE_HOST as xinetd sets it for the server.
    assert.match(xreply?.toString() ?? '', /host=::ffff:127\.0\.0\.1 got=yes$/);
    assert.match(reply?.toString() ?? '', /host=::ffff:127\.0\.0\.1 got=yes$/);

    const mask = (l: string): string => l.replace(/^\S+: /, 'T: ').replace(/pid=\d+/, 'pid=P');
    // xinetd writes START in the parent and FAIL in the forked child: their order may vary.
    const rank = (l: string): number => ['START:', 'FAIL:', 'EXIT:'].findIndex((k) => l.includes(` ${k} `));
    const raw = xlines().map(mask);
    const real = [...raw.slice(0, 3).sort((a, b) => rank(a) - rank(b)), ...raw.slice(3)];
    assert.deepEqual(real, [
      'T: START: udpt pid=P from=::ffff:127.0.0.2',
      'T: FAIL: udpt address from=::ffff:127.0.0.2',
      'T: EXIT: udpt status=0 pid=P',
      'T: START: udpt pid=P from=::ffff:127.0.0.1',
      'T: EXIT: udpt status=0 pid=P',
    ]);
    // tsinetd decides before starting anything: the START and EXIT of xinetd's refusing fork are not written.
    const ours = d
      .serviceLog()
      .split('\n')
      .filter((l) => l !== '')
      .map(mask);
    assert.deepEqual(
      ours,
      real.filter((_, i) => i !== 0 && i !== 2),
    );
  });
});
