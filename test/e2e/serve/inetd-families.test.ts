// inetd.conf `tcp`/`udp` lines as each dialect's inetd serves them: OpenBSD (and Debian's
// openbsd-inetd) opens an IPv4 socket and a v6only IPv6 socket, so a program serving an IPv4
// client is given an AF_INET socket; `tcp46` is one dual-stack socket; FreeBSD's bare `tcp` is
// IPv4 only. A fixture program reports the family of the socket it was given (getsockname).
// Then Debian's in.ntalkd (package talkd, an AF_INET-only UDP wait service) answers talk's
// LOOK_UP through tsinetd as through openbsd-inetd; it is skipped without root, in.ntalkd or
// openbsd-inetd (installed, or unpacked under /opt by .ci/run).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { alive, FIXTURES, startDaemon, TEST_USER, type RunningDaemon } from '../../helpers/daemon.js';
import { freePort, tcpRequest, udpRequest, waitFor } from '../../helpers/net.js';
import { childrenOf } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/temp.js';

const SOCK_FAMILY = join(FIXTURES, 'sock-family');

/** What the fixture reports to a TCP client from `local` ('' when refused or nothing). */
async function tcpFamily(port: number, local: '127.0.0.1' | '::1'): Promise<string> {
  const r = await tcpRequest({ port, host: local, localAddress: local, timeoutMs: 5000 });
  return r.ended === 'eof' ? r.data.toString().trim() : r.ended;
}

async function udpFamily(port: number, local: '127.0.0.1' | '::1'): Promise<string> {
  const r = await udpRequest(port, 'x', { host: local, timeoutMs: 5000 });
  return r === null ? 'no reply' : r.toString();
}

async function serveInetd(t: TestContext, dialect: string, lines: string): Promise<RunningDaemon> {
  const dir = tempDir(t, 'families');
  const file = join(dir, 'inetd.conf');
  writeFileSync(file, lines);
  return startDaemon(t, { services: [], args: ['--inetd', file, '--dialect', dialect] });
}

describe('the socket an inetd.conf program is given', () => {
  test('OpenBSD tcp/udp: AF_INET for an IPv4 client, AF_INET6 for an IPv6 one', async (t) => {
    const [tcp, udp] = [await freePort(), await freePort()];
    const d = await serveInetd(
      t,
      'openbsd',
      `${tcp}\tstream\ttcp\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n${udp}\tdgram\tudp\twait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`,
    );
    // Four sockets, two services.
    await d.waitForDaemonLog(/Started working: 2 available services$/);
    const check = async (): Promise<void> => {
      assert.equal(await tcpFamily(tcp, '127.0.0.1'), 'family=AF_INET peer=127.0.0.1');
      assert.equal(await tcpFamily(tcp, '::1'), 'family=AF_INET6 peer=::1');
      assert.equal(await udpFamily(udp, '127.0.0.1'), 'family=AF_INET peer=127.0.0.1');
      assert.equal(await udpFamily(udp, '::1'), 'family=AF_INET6 peer=::1');
    };
    await check();
    // A reload that changes nothing keeps both sockets of each service.
    d.signal('SIGHUP');
    await d.waitForDaemonLog(/Reconfigured: new=0 old=2 dropped=0 \(services\)/);
    await check();
    assert.equal(d.serviceLog().match(/ START: /g)?.length, 8, d.serviceLog());
  });

  test('OpenBSD tcp46: one dual-stack socket (IPv4 clients mapped); tcp6: IPv6 only; FreeBSD tcp: IPv4 only', async (t) => {
    const [dual, six] = [await freePort(), await freePort()];
    await serveInetd(
      t,
      'openbsd',
      `${dual}\tstream\ttcp46\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n${six}\tstream\ttcp6\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`,
    );
    assert.equal(await tcpFamily(dual, '127.0.0.1'), 'family=AF_INET6 peer=::ffff:127.0.0.1');
    assert.equal(await tcpFamily(six, '127.0.0.1'), 'ECONNREFUSED');
    assert.equal(await tcpFamily(six, '::1'), 'family=AF_INET6 peer=::1');
    const four = await freePort();
    await serveInetd(t, 'freebsd', `${four}\tstream\ttcp\tnowait\t${TEST_USER}\t${SOCK_FAMILY}\tsock-family\n`);
    assert.equal(await tcpFamily(four, '127.0.0.1'), 'family=AF_INET peer=127.0.0.1');
    assert.equal(await tcpFamily(four, '::1'), 'ECONNREFUSED');
  });
});

// ---- talk's LOOK_UP, side by side with openbsd-inetd ----------------------------------------

/** The first of `paths` that exists (installed, or unpacked by .ci/run), else the first. */
const firstOf = (...paths: string[]): string => paths.find((p) => existsSync(p)) ?? paths[0]!;
const NTALKD = firstOf('/usr/sbin/in.ntalkd', '/opt/talkd-ref/usr/sbin/in.ntalkd');
const OPENBSD_INETD = firstOf('/opt/openbsd-inetd-ref/usr/sbin/inetd', '/usr/sbin/inetd');
const talkSkip =
  process.getuid?.() !== 0
    ? 'needs root (in.ntalkd runs as nobody.tty)'
    : !existsSync(NTALKD)
      ? `${NTALKD} is absent (Debian package talkd)`
      : !existsSync(OPENBSD_INETD)
        ? `${OPENBSD_INETD} is absent (Debian package openbsd-inetd)`
        : false;

/** A struct osockaddr of talkd's protocol: the family in network byte order, the port, the address. */
function osockaddr(buf: Buffer, at: number, port: number): void {
  buf.writeUInt16BE(2, at); // AF_INET
  buf.writeUInt16BE(port, at + 2);
  Buffer.from([127, 0, 0, 1]).copy(buf, at + 4);
}

/** talk's CTL_MSG LOOK_UP (84 bytes) from alice to bob, answers asked at 127.0.0.1:ctlPort. */
function lookUp(ctlPort: number): Buffer {
  const m = Buffer.alloc(84);
  m[0] = 1; // TALK_VERSION
  m[1] = 1; // LOOK_UP
  osockaddr(m, 8, 5555); // addr: where the caller would wait
  osockaddr(m, 24, ctlPort); // ctl_addr
  m.writeInt32BE(4242, 40);
  m.write('alice', 44);
  m.write('bob', 56);
  return m;
}

/** Sends LOOK_UP from `local`; resolves "version type answer" of the reply, or 'no reply'. */
async function talkLookUp(port: number, local: '127.0.0.1' | '::1'): Promise<string> {
  const sock = dgram.createSocket(local === '::1' ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve) => sock.bind(0, local, resolve));
    const reply = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 3000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    sock.send(lookUp(sock.address().port), port, local);
    const r = await reply;
    return r === null ? 'no reply' : `${r.length} bytes: vers=${r[0]} type=${r[1]} answer=${r[2]}`;
  } finally {
    sock.close();
  }
}

/**
 * Watches for the in.ntalkd servers started below `parents()` (they linger, waiting for more
 * requests); the function returned kills them and waits until their parent has reaped them.
 */
function watchServers(parents: () => number[]): () => Promise<void> {
  const seen = new Set<number>();
  const look = (): void => {
    for (const p of parents()) for (const pid of childrenOf(p)) seen.add(pid);
  };
  const timer = setInterval(look, 50);
  return async () => {
    clearInterval(timer);
    look();
    for (const pid of seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitFor(() => ([...seen].some(alive) ? undefined : true), 5000, 'the in.ntalkd servers to end');
  };
}

test("talk's LOOK_UP to Debian's in.ntalkd (udp wait, AF_INET only): answered as under openbsd-inetd", { skip: talkSkip, timeout: 60_000 }, async (t) => {
  const dir = tempDir(t, 'ntalk');
  const [ours, theirs] = [await freePort(), await freePort()];
  const line = (port: number): string => `${port}\tdgram\tudp\twait\tnobody.tty\t${NTALKD}\tin.ntalkd\n`;

  const conf = join(dir, 'inetd.conf');
  writeFileSync(conf, line(theirs));
  const inetd = spawn(OPENBSD_INETD, ['-d', '-i', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let inetdOut = '';
  inetd.stderr.on('data', (d: Buffer) => (inetdOut += d.toString()));
  const endTheirs = watchServers(() => [inetd.pid ?? -1]);
  t.after(() => {
    inetd.kill('SIGKILL');
  });
  await waitFor(() => (/ADD: \d+ proto=udp6/.test(inetdOut) ? true : undefined), 5000, `openbsd-inetd to start:\n${inetdOut}`);

  const ourConf = join(dir, 'ours.conf');
  writeFileSync(ourConf, line(ours));
  const d = await startDaemon(t, { services: [], args: ['--inetd', ourConf, '--dialect', 'openbsd'] });
  // in.ntalkd runs under the spawn helper (or the daemon itself).
  const endOurs = watchServers(() => [d.pid, ...childrenOf(d.pid)]);

  const results = { ours: [] as string[], theirs: [] as string[] };
  try {
    for (const local of ['127.0.0.1', '::1'] as const) {
      results.theirs.push(`${local}: ${await talkLookUp(theirs, local)}`);
      results.ours.push(`${local}: ${await talkLookUp(ours, local)}`);
    }
  } finally {
    await endTheirs();
    await endOurs();
  }
  assert.deepEqual(results.ours, results.theirs);
  // The IPv4 caller is answered (NOT_HERE: no invitation for alice); the IPv6 one is dropped by
  // in.ntalkd itself, under both.
  assert.deepEqual(results.theirs, ['127.0.0.1: 24 bytes: vers=1 type=1 answer=1', '::1: no reply']);
});
