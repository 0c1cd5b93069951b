// inetd.conf services served end to end through the real CLI (`--inetd FILE`, `-inetd_compat`)
// with their dialect's limits: OpenBSD/GNU `nowait.N` (the N-th start within a minute turns
// the service off for 10 minutes: "server failing (looping), service terminated"), FreeBSD's
// `nowait/max-child/max-connections-per-ip-per-minute/max-child-per-ip`; and two unchanged
// files of the shared corpus, whose internal services are served on their own ports.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, internalService, ROOT, startDaemon, TEST_USER } from '../../helpers/daemon.js';
import { catClient, freePort, settlesWithin, tcpRequest } from '../../helpers/net.js';

const EXIT_WITH = join(FIXTURES, 'exit-with');
const HOST2 = '127.0.0.2';
const SHARED = join(ROOT, '..', 'shared');

/** Served by exit-with ("bye"), or closed at once (refused), or 'ECONNREFUSED' (no socket). */
async function attempt(port: number, localAddress = '127.0.0.1'): Promise<string> {
  const r = await tcpRequest({ port, localAddress, timeoutMs: 3000 });
  if (r.ended !== 'eof') return r.ended;
  return r.data.toString() === 'bye\n' ? 'served' : 'refused';
}

/** Writes an inetd.conf into a temporary directory removed after the test. */
function writeInetd(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-inetd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'inetd.conf');
  writeFileSync(file, text);
  return file;
}

/** Whether nothing listens on this TCP port on the IPv4 and IPv6 wildcards. */
async function tcpPortFree(port: number): Promise<boolean> {
  const tryListen = (host: string): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host, ipv6Only: host === '::' }, () => s.close(() => resolve(true)));
    });
  return (await tryListen('0.0.0.0')) && (await tryListen('::'));
}

describe('inetd.conf services served through the CLI', () => {
  test('OpenBSD nowait.N: the N-th start within a minute shuts the service for 10 minutes', async (t) => {
    const port = await freePort();
    const file = writeInetd(t, `#\t$OpenBSD: inetd.conf test $\n127.0.0.1:${port}\tstream\ttcp\tnowait.3\t${TEST_USER}\t${EXIT_WITH}\texit-with\n`);
    // The daemon's own xinetd configuration has no service: everything comes from the inetd file.
    const daemon = await startDaemon(t, { services: [], args: ['--inetd', file] });
    assert.equal(await attempt(port), 'served');
    assert.equal(await attempt(port, HOST2), 'served');
    assert.equal(await attempt(port), 'refused', 'the third start within the minute trips (as in inetd.c: N-1 are served)');
    await daemon.waitForDaemonLog(new RegExp(`ERROR: ${port}/tcp server failing \\(looping\\), service terminated`));
    await daemon.waitForDaemonLog(new RegExp(`service ${port} is off; restarting in 600 seconds`));
    // Off: the socket is closed, for every host.
    assert.equal(await attempt(port), 'ECONNREFUSED');
    assert.equal(await attempt(port, HOST2), 'ECONNREFUSED');
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(await attempt(port), 'ECONNREFUSED', 'still off a second later');
    assert.doesNotMatch(daemon.daemonLog(), /Activating service/);
  });

  test('GNU inetutils nowait.N (--dialect gnu): N starts are served, the N+1-th shuts the service', async (t) => {
    const port = await freePort();
    const file = writeInetd(t, `127.0.0.1:${port}\tstream\ttcp\tnowait.2\t${TEST_USER}\t${EXIT_WITH}\texit-with\n`);
    const daemon = await startDaemon(t, { services: [], args: ['--inetd', file, '--dialect', 'gnu'] });
    assert.equal(await attempt(port), 'served');
    assert.equal(await attempt(port, HOST2), 'served', 'read as OpenBSD this second start would trip');
    assert.equal(await attempt(port), 'refused', 'the third start within the minute trips (inetutils: se_count > se_max)');
    await daemon.waitForDaemonLog(new RegExp(`ERROR: ${port}/tcp server failing \\(looping\\), service terminated`));
    assert.equal(await attempt(port), 'ECONNREFUSED');
  });

  test('FreeBSD max-child, max-child-per-ip and max-connections-per-ip-per-minute', async (t) => {
    const [child, perIp, perMinute] = await Promise.all([freePort(), freePort(), freePort()]);
    const file = writeInetd(
      t,
      [
        '# $FreeBSD$',
        `${child}\tstream\ttcp\tnowait/2\t${TEST_USER}\t/bin/cat\tcat`,
        `${perIp}\tstream\ttcp\tnowait/0/0/1\t${TEST_USER}\t/bin/cat\tcat`,
        `${perMinute}\tstream\ttcp\tnowait/0/2\t${TEST_USER}\t${EXIT_WITH}\texit-with`,
        '',
      ].join('\n'),
    );
    const d = await startDaemon(t, { services: [], args: ['--inetd', file] });
    await d.waitForDaemonLog(/Started working: 3 available services/);

    // max-child 2: two servers run, the third client waits (not accepted: see helper-accept.test.ts)
    // and is served once one ends.
    const a = catClient(t, child);
    const b = catClient(t, child, HOST2);
    assert.equal(await a.admitted, true);
    assert.equal(await b.admitted, true);
    const c = catClient(t, child);
    assert.equal(await settlesWithin(c.admitted, 500), false, 'the third client neither served nor closed while two servers run');
    a.socket.end();
    assert.equal(await c.admitted, true);

    // max-child-per-ip 1: per host.
    assert.equal(await catClient(t, perIp).admitted, true);
    assert.equal(await catClient(t, perIp).admitted, false);
    assert.equal(await catClient(t, perIp, HOST2).admitted, true);

    // max-connections-per-ip-per-minute 2: the third connection of a host within the minute is refused.
    assert.equal(await attempt(perMinute), 'served');
    assert.equal(await attempt(perMinute), 'served');
    assert.equal(await attempt(perMinute), 'refused');
    assert.equal(await attempt(perMinute, HOST2), 'served');
    await d.waitForDaemonLog(new RegExp(`${perMinute} from 127\\.0\\.0\\.1 exceeded counts/min \\(limit 2/min\\)`));
  });

  test('-inetd_compat reads /etc/inetd.conf after the xinetd configuration (skipped quietly when absent)', async (t) => {
    const active = existsSync('/etc/inetd.conf')
      ? readFileSync('/etc/inetd.conf', 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
      : [];
    if (active.length > 0) {
      t.skip('/etc/inetd.conf has active entries: this test would serve them');
      return;
    }
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('daytime', port, 'stream', { bind: '127.0.0.1' })], args: ['-inetd_compat'] });
    await d.waitForDaemonLog(/Started working: 1 available service$/);
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
    assert.doesNotMatch(d.daemonLog(), /inetd\.conf.*(error|cannot)/i);
  });

  describe('corpus files, unchanged', () => {
    const files = ['026-openbsd-inetd.conf', '016-lana.nono.com-etc-inetd.conf'].map((f) => join(SHARED, 'corpus', 'inetd', f));
    const why = !existsSync(SHARED)
      ? `${SHARED} is absent: no corpus to serve`
      : !files.every((f) => existsSync(f))
        ? 'the corpus lacks 016/026 inetd.conf files'
        : typeof process.geteuid === 'function' && process.geteuid() !== 0
          ? 'their services listen on ports below 1024: needs root'
          : false;

    test('026 (OpenBSD: daytime tcp/tcp6, comsat on localhost) and 016 (FreeBSD: echo, discard, chargen tcp/tcp6)', { skip: why }, async (t) => {
      for (const port of [7, 9, 13, 19]) {
        if (!(await tcpPortFree(port))) {
          t.skip(`port ${port} is in use on this machine`);
          return;
        }
      }
      const d = await startDaemon(t, { services: [], args: files.flatMap((f) => ['--inetd', f]) });
      // comsat: its program is not on this machine, so those two entries are reported and left out.
      await d.waitForDaemonLog(/service comsat\S* is not started: .*\/usr\/libexec\/comsat/);
      await d.waitForDaemonLog(/Started working: 8 available services/);

      // 026: daytime on IPv4 and IPv6 (tcp and tcp6 lines).
      for (const host of ['127.0.0.1', '::1']) {
        assert.match((await tcpRequest({ port: 13, host })).data.toString(), /^\d\d [A-Z]{3}/, `daytime over ${host}`);
      }
      // 016 (read as FreeBSD: tcp = IPv4 only, tcp6 = IPv6 only): echo, discard, chargen on both.
      for (const host of ['127.0.0.1', '::1']) {
        assert.equal((await tcpRequest({ port: 7, host, send: 'corpus\n' })).data.toString(), 'corpus\n', `echo over ${host}`);
        const discard = await tcpRequest({ port: 9, host, send: 'gone\n', timeoutMs: 500 });
        assert.equal(discard.data.length, 0, `discard over ${host}`);
        const chargen = await tcpRequest({ port: 19, host, maxBytes: 148 });
        assert.equal(chargen.ended, 'max', `chargen over ${host}`);
        assert.match(chargen.data.toString('latin1'), /^[ -~]{72}\r\n/);
      }
    });
  });
});
