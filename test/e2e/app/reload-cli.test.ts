// SIGHUP as a merge, through the real CLI over loopback: services are added, removed and
// changed while long-lived connections to kept services stay open and working and new clients
// of kept services are never refused; the servers of removed services are killed (SIGKILL, as
// xinetd does); changed limits apply to new connections; a broken edit keeps the previous
// definition of that service (and says why) until it is fixed; a service whose port changes
// moves to the new port without killing its running servers.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, internalService, programService, startDaemon, TEST_USER, type Attrs, type RunningDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor, withTimeout } from '../../helpers/net.js';

const EXIT_WITH = join(FIXTURES, 'exit-with');
const HOST2 = '127.0.0.2';

function program(name: string, port: number, server: string, extra: Attrs = {}): ServiceDef {
  return programService(name, port, server, { bind: '127.0.0.1', ...extra });
}

function echo(name: string, port: number, extra: Attrs = {}): ServiceDef {
  return { ...internalService('echo', port, 'stream', { bind: '127.0.0.1', id: name, ...extra }) };
}

/** A connection kept open by the test; `roundTrip` sends a line and waits for it to come back. */
interface Client {
  socket: net.Socket;
  roundTrip(text: string): Promise<void>;
  /** Resolves once the other side has closed the connection. */
  closed: Promise<void>;
}

async function connect(t: TestContext, port: number, localAddress = '127.0.0.1'): Promise<Client> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    }),
    3000,
    `connect to ${port}`,
  );
  return {
    socket,
    closed,
    async roundTrip(line: string) {
      const mark = text.length;
      socket.write(`${line}\n`);
      await waitFor(() => (text.slice(mark).includes(`${line}\n`) ? true : undefined), 3000, `"${line}" back from port ${port}`);
    },
  };
}

/** Served by exit-with ("bye"), or refused (closed at once). */
async function served(port: number, localAddress = '127.0.0.1'): Promise<boolean> {
  const r = await tcpRequest({ port, localAddress, timeoutMs: 3000 });
  return r.data.toString() === 'bye\n';
}

function reconfigurations(d: RunningDaemon): string[] {
  return d
    .daemonLog()
    .split('\n')
    .filter((l) => /Reconfigured: /.test(l));
}

/** Sends SIGHUP and returns the "Reconfigured" line of that reload. */
async function reload(d: RunningDaemon): Promise<string> {
  const before = reconfigurations(d).length;
  d.signal('SIGHUP');
  return waitFor(() => reconfigurations(d)[before], 8000, `reload #${before + 1}\n${d.daemonLog()}`);
}

/** Connects to `port` again and again (about 30 times a second) until stopped; counts echoes and anything else. */
function hammer(port: number): { stop(): Promise<{ ok: number; failures: string[] }> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loop = (async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() clears it while this loop runs
    for (let i = 0; running; i++) {
      const r = await tcpRequest({ port, send: `n${i}\n`, timeoutMs: 3000 });
      if (r.data.toString() === `n${i}\n`) ok++;
      else failures.push(`${r.ended} ${JSON.stringify(r.data.toString())}`);
      // Stay well below xinetd's default cps (50 per second), which would switch the service off.
      await new Promise((done) => setTimeout(done, 30));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failures };
    },
  };
}

describe('reload (SIGHUP) through the CLI', () => {
  test('add, remove and change services while connections to kept services stay open and working', async (t) => {
    const [keepEcho, keepProg, gone, goneEcho, added] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const before = [
      echo('kept-echo', keepEcho),
      program('kept-prog', keepProg, '/bin/cat', { instances: '3' }),
      program('gone', gone, '/bin/cat'),
      echo('gone-echo', goneEcho),
    ];
    const d = await startDaemon(t, { services: before });
    const longEcho = await connect(t, keepEcho);
    await longEcho.roundTrip('before');
    const longProg = await connect(t, keepProg);
    await longProg.roundTrip('before');
    const doomed = await connect(t, gone);
    await doomed.roundTrip('before');
    const doomedEcho = await connect(t, goneEcho);
    await doomedEcho.roundTrip('before');
    const startLine = await d.waitForServiceLog(/START: gone pid=\d+/);
    const gonePid = Number(/pid=(\d+)/.exec(startLine)![1]);

    const load = hammer(keepEcho);
    d.rewrite([echo('kept-echo', keepEcho), program('kept-prog', keepProg, '/bin/cat', { instances: '1' }), program('added', added, EXIT_WITH)]);
    const line = await reload(d);
    await new Promise((r) => setTimeout(r, 100));
    const h = await load.stop();
    assert.match(line, /NOTICE: Reconfigured: new=1 old=2 dropped=2 \(services\)/);
    assert.deepEqual(h.failures, [], 'a client of a kept service was refused during the reload');
    assert.ok(h.ok > 0);

    // Kept: the long-lived connections still work, in-process and program alike.
    await longEcho.roundTrip('after');
    await longProg.roundTrip('after');
    await d.waitForDaemonLog(/NOTICE: readjusting service kept-echo/);
    // Removed: sockets closed, servers killed as xinetd does (SIGKILL), in-process connections closed.
    await withTimeout(doomed.closed, 3000, 'the server of the removed service to be killed');
    await withTimeout(doomedEcho.closed, 3000, 'the in-process connection of the removed service to be closed');
    await d.waitForDaemonLog(new RegExp(`WARNING: Sending signal 9 to gone server ${gonePid}`));
    await d.waitForDaemonLog(/NOTICE: service gone deactivated/);
    await d.waitForServiceLog(new RegExp(`EXIT: gone signal=9 pid=${gonePid}`));
    assert.equal((await tcpRequest({ port: gone })).ended, 'ECONNREFUSED');
    assert.equal((await tcpRequest({ port: goneEcho })).ended, 'ECONNREFUSED');
    // Added.
    assert.equal(await served(added), true);
    // Changed limit: applies to the next connection (one server runs, instances is now 1)...
    // (an admitted client would keep its cat server and time out; a refused one is closed at once)
    const second = await tcpRequest({ port: keepProg, timeoutMs: 2000 });
    assert.equal(second.ended, 'eof');
    assert.equal(second.data.length, 0);
    await d.waitForServiceLog(/FAIL: kept-prog service_limit from=127\.0\.0\.1/);
    // ...and the running server was not killed for being over it (xinetd 2.3.15.3 does not either).
    await longProg.roundTrip('still');
  });

  test('a broken edit keeps the previous definition of that service (and says why) until it is fixed', async (t) => {
    const [a, b, c] = await Promise.all([freePort(), freePort(), freePort()]);
    const d = await startDaemon(t, {
      services: [program('strict', a, EXIT_WITH, { only_from: '127.0.0.1' }), program('other', b, EXIT_WITH)],
    });
    assert.equal(await served(a, HOST2), false);

    // strict: a bad value (xinetd would drop the service); other: its program is gone; plus a new one.
    d.rewrite([
      program('strict', a, EXIT_WITH, { only_from: '127.0.0.0/8', instances: 'lots' }),
      program('other', b, '/nonexistent/tsinetd-server'),
      program('fresh', c, EXIT_WITH),
    ]);
    assert.match(await reload(d), /Reconfigured: new=1 old=2 dropped=0/);
    const conf = d.config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await d.waitForDaemonLog(
      new RegExp(
        `ERROR: service strict: the new definition is not used, the previous one stays in service: ${conf}:\\d+:\\d+: error: bad value for 'instances'`,
      ),
    );
    await d.waitForDaemonLog(/ERROR: service other: the new definition is not used, the previous one stays in service: .*nonexistent\/tsinetd-server/);
    assert.doesNotMatch(d.daemonLog(), /service (strict|other) deactivated/);
    // The previous definitions serve: strict still refuses 127.0.0.2, other still runs exit-with.
    assert.equal(await served(a, HOST2), false);
    assert.equal(await served(a), true);
    assert.equal(await served(b), true);
    assert.equal(await served(c), true);

    // Fixed: the new definition is taken.
    d.rewrite([program('strict', a, EXIT_WITH, { only_from: '127.0.0.0/8' }), program('other', b, EXIT_WITH), program('fresh', c, EXIT_WITH)]);
    assert.match(await reload(d), /Reconfigured: new=0 old=3 dropped=0/);
    assert.equal(await served(a, HOST2), true);
  });

  test('a configuration that cannot be read, or a block lost to a syntax error, keeps the services', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('solid', port, EXIT_WITH)] });
    const text = readFileSync(d.config, 'utf8');
    rmSync(d.config);
    assert.match(await reload(d), /Reconfigured: new=0 old=1 dropped=0/);
    await d.waitForDaemonLog(/ERROR: service solid: the new definition is not used, the previous one stays in service: .*cannot read the configuration file/);
    assert.equal(await served(port), true);
    // A block that is never closed: xinetd ignores it (and would drop the service).
    writeFileSync(d.config, text.replace(/\}\s*$/, ''));
    assert.match(await reload(d), /Reconfigured: new=0 old=1 dropped=0/);
    await d.waitForDaemonLog(/ERROR: service solid: the new definition is not used, the previous one stays in service: .*missing '\}'/);
    assert.equal(await served(port), true);
  });

  test('a service whose port changes moves to the new port; its running server is not killed', async (t) => {
    const [from, to] = await Promise.all([freePort(), freePort()]);
    const d = await startDaemon(t, { services: [program('mover', from, '/bin/cat')] });
    const running = await connect(t, from);
    await running.roundTrip('before');
    d.rewrite([program('mover', to, '/bin/cat')]);
    assert.match(await reload(d), /Reconfigured: new=0 old=1 dropped=0/);
    await d.waitForDaemonLog(/service mover: listening parameters changed, new socket/);
    assert.equal((await tcpRequest({ port: from })).ended, 'ECONNREFUSED');
    const moved = await connect(t, to);
    await moved.roundTrip('moved');
    await running.roundTrip('after');
    assert.doesNotMatch(d.daemonLog(), /Sending signal/);
  });

  test('--inetd files are merged too: a line removed stops, a line broken keeps its previous definition', async (t) => {
    const [kept, broken, dropped] = await Promise.all([freePort(), freePort(), freePort()]);
    const line = (port: number, user = TEST_USER): string => `127.0.0.1:${port}\tstream\ttcp\tnowait\t${user}\t${EXIT_WITH}\texit-with`;
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-reload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'inetd.conf');
    writeFileSync(file, ['#\t$OpenBSD: test $', line(kept), line(broken), line(dropped), ''].join('\n'));
    const daemon = await startDaemon(t, { services: [], args: ['--inetd', file] });
    for (const port of [kept, broken, dropped]) assert.equal(await served(port), true);
    writeFileSync(file, ['#\t$OpenBSD: test $', line(kept), line(broken, 'no-such-user-tsinetd'), ''].join('\n'));
    assert.match(await reload(daemon), /Reconfigured: new=0 old=2 dropped=1/);
    await daemon.waitForDaemonLog(new RegExp(`service ${broken}: the new definition is not used, the previous one stays in service: .*no-such-user-tsinetd`));
    assert.equal(await served(kept), true);
    assert.equal(await served(broken), true);
    assert.equal((await tcpRequest({ port: dropped })).ended, 'ECONNREFUSED');
  });

  test('a service disabled on purpose (disable = yes) is removed and its servers killed', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('retired', port, '/bin/cat')] });
    const running = await connect(t, port, HOST2);
    await running.roundTrip('hello');
    d.rewrite([program('retired', port, '/bin/cat', { disable: 'yes' })]);
    // Nothing left to serve: -dontfork implies -stayalive, so the daemon stays.
    assert.match(await reload(d), /Reconfigured: new=0 old=0 dropped=1/);
    await withTimeout(running.closed, 3000, 'the server to be killed');
    await d.waitForDaemonLog(/Sending signal 9 to retired server \d+/);
    assert.equal((await tcpRequest({ port })).ended, 'ECONNREFUSED');
    assert.equal(d.exitedStatus, null);
  });

  test('daemonized without -stayalive, a reload that leaves no service ends the daemon, as in xinetd', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('last', port, EXIT_WITH)], dontfork: false });
    d.rewrite([program('last', port, EXIT_WITH, { disable: 'yes' })]);
    d.signal('SIGHUP');
    await d.waitForDaemonLog(/ERROR: No available services\. Exiting/);
    await waitFor(() => (existsSync(d.pidfile) ? undefined : true), 5000, 'the pid file to be removed');
    await waitFor(
      () => {
        try {
          process.kill(d.pid, 0);
          return undefined;
        } catch {
          return true;
        }
      },
      5000,
      'the daemon to exit',
    );
  });
});
