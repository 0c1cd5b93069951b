// Admission end to end, through the real CLI (`node build/bin/tsinetd.mjs -dontfork -f CONF -filelog
// LOG -pidfile PID`) over loopback, with clients bound to 127.0.0.1 and 127.0.0.2 (a second
// host): only_from / no_access, instances, per_source, cps, access_times, SENSOR + deny_time,
// max_load (load read from $TSINETD_LOADAVG_FILE), per_source_cps and -limit. Each refusal is
// checked on the wire (closed, banner_fail) and in the logs (FAIL line, daemon detail).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, internalService, programService, startDaemon, type Attrs, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest, udpClient, udpRequest, waitFor, withTimeout } from '../../helpers/net.js';

const EXIT_WITH = join(FIXTURES, 'exit-with');
const HOST2 = '127.0.0.2';

/** A program service on loopback only. */
function program(name: string, port: number, server: string, extra: Attrs = {}): ServiceDef {
  return programService(name, port, server, { bind: '127.0.0.1', ...extra });
}

/** One request to a service whose server says "bye": true when served, false when refused (closed at once). */
async function served(port: number, localAddress = '127.0.0.1'): Promise<boolean> {
  const r = await tcpRequest({ port, localAddress, timeoutMs: 3000 });
  assert.equal(r.ended, 'eof', `connection to ${port} from ${localAddress}: ${r.ended}`);
  return r.data.toString() === 'bye\n';
}

/** A client held open on a `cat` server (its server exits when the client closes). */
interface Held {
  socket: net.Socket;
  /** Resolves true when the server echoes (admitted), false when the daemon closed the connection (refused). */
  admitted: Promise<boolean>;
}

function hold(t: TestContext, port: number, localAddress = '127.0.0.1'): Held {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  const admitted = withTimeout(
    new Promise<boolean>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('ping')) resolve(true);
      });
      socket.once('close', () => resolve(false));
      socket.once('connect', () => socket.write('ping\n'));
    }),
    5000,
    `an answer from port ${port}`,
  );
  return { socket, admitted };
}

/** Closes a held client and waits until its server's EXIT line is logged. */
async function release(h: Held, exits: () => number): Promise<void> {
  const before = exits();
  h.socket.end();
  await waitFor(() => (exits() > before ? true : undefined), 5000, 'the server to exit');
}

function hhmm(minutes: number): string {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

describe('admission through the CLI', () => {
  test('only_from / no_access: the other host gets banner_fail and a FAIL line, the allowed host is served', async (t) => {
    const [a, b] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-adm-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'fail'), 'GO AWAY\r\n');
    const d = await startDaemon(t, {
      services: [
        program('onlyfrom', a, EXIT_WITH, { only_from: '127.0.0.1', banner_fail: join(dir, 'fail') }),
        program('noaccess', b, EXIT_WITH, { no_access: '127.0.0.2/32' }),
      ],
    });
    const refused = await tcpRequest({ port: a, localAddress: HOST2 });
    assert.equal(refused.data.toString(), 'GO AWAY\r\n');
    assert.equal(refused.ended, 'eof');
    assert.equal(await served(a), true);
    assert.equal(await served(b, HOST2), false);
    assert.equal(await served(b), true);
    await d.waitForServiceLog(/: FAIL: onlyfrom address from=127\.0\.0\.2$/);
    await d.waitForServiceLog(/: FAIL: noaccess address from=127\.0\.0\.2$/);
    await d.waitForDaemonLog(/127\.0\.0\.2 is not in only_from/);
    await d.waitForDaemonLog(/127\.0\.0\.2 matches no_access/);
    assert.doesNotMatch(d.serviceLog(), /FAIL: \S+ address from=127\.0\.0\.1/);
  });

  test('instances: N held, N+1 refused and logged, admitted again once one ends', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('inst', port, '/bin/cat', { instances: '2' })] });
    const exits = (): number => (d.serviceLog().match(/EXIT: inst /g) ?? []).length;
    const first = hold(t, port);
    const second = hold(t, port, HOST2);
    assert.equal(await first.admitted, true);
    assert.equal(await second.admitted, true);
    assert.equal(await hold(t, port).admitted, false);
    await d.waitForServiceLog(/: FAIL: inst service_limit from=127\.0\.0\.1$/);
    await release(first, exits);
    assert.equal(await hold(t, port).admitted, true);
    assert.equal(await second.admitted, true);
  });

  test('per_source: a second server for the same host is refused, another host is admitted', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('persrc', port, '/bin/cat', { per_source: '1' })] });
    const exits = (): number => (d.serviceLog().match(/EXIT: persrc /g) ?? []).length;
    const first = hold(t, port);
    assert.equal(await first.admitted, true);
    assert.equal(await hold(t, port).admitted, false);
    assert.equal(await hold(t, port, HOST2).admitted, true);
    await d.waitForServiceLog(/: FAIL: persrc per_source_limit from=127\.0\.0\.1$/);
    assert.doesNotMatch(d.serviceLog(), /per_source_limit from=127\.0\.0\.2/);
    await release(first, exits);
    assert.equal(await hold(t, port).admitted, true);
  });

  test('cps: the service is off for about `wait` seconds (connections refused), then back', async (t) => {
    const port = await freePort();
    // Off for 2 s, not 1: xinetd keeps the count over the pause, and a window lasts fewer than
    // `2` seconds; after 2 s off the first connection opens a new window instead of tripping again.
    const d = await startDaemon(t, { services: [program('rate', port, EXIT_WITH, { cps: '2 2' })] });
    let ok = 0;
    let trippedAt = 0;
    for (let i = 0; i < 30 && trippedAt === 0; i++) {
      if (await served(port)) ok++;
      else trippedAt = Date.now();
    }
    assert.ok(trippedAt > 0 && ok >= 2, `${ok} served, never refused`);
    await d.waitForServiceLog(/: FAIL: rate connections per second from=127\.0\.0\.1$/);
    await d.waitForDaemonLog(/ERROR: Deactivating service rate due to excessive incoming connections\. {2}Restarting in 2 seconds\./);
    // Off: the socket is closed, so a client is refused by the kernel.
    assert.equal((await tcpRequest({ port })).ended, 'ECONNREFUSED');
    await d.waitForDaemonLog(/ERROR: Activating service rate/, 5000);
    const back = Date.now() - trippedAt;
    assert.ok(back >= 1800 && back < 4500, `back after ${back} ms`);
    assert.equal(await served(port), true);
  });

  test('access_times: a window that includes now serves, one that excludes now refuses (FAIL time)', async (t) => {
    const [inside, outside] = [await freePort(), await freePort()];
    const now = new Date();
    const minute = now.getHours() * 60 + now.getMinutes();
    // Near midnight a window around now would wrap: take the whole day minus the far side.
    const inWindow = minute >= 10 && minute <= 1429 ? `${hhmm(minute - 10)}-${hhmm(minute + 10)}` : '00:00-23:59';
    const far = minute < 720 ? `${hhmm(minute + 300)}-${hhmm(minute + 360)}` : `${hhmm(minute - 360)}-${hhmm(minute - 300)}`;
    const d = await startDaemon(t, {
      services: [program('daytimeok', inside, EXIT_WITH, { access_times: inWindow }), program('nighttime', outside, EXIT_WITH, { access_times: far })],
    });
    assert.equal(await served(inside), true, `access_times = ${inWindow}`);
    assert.equal(await served(outside), false, `access_times = ${far}`);
    await d.waitForServiceLog(/: FAIL: nighttime time from=127\.0\.0\.1$/);
  });

  test('SENSOR: the trapped host is refused by every service for deny_time; the other host is not', async (t) => {
    const [sensor, guarded] = [await freePort(), await freePort()];
    const d = await startDaemon(t, {
      services: [program('trap', sensor, EXIT_WITH, { user: 'root', flags: 'SENSOR', deny_time: '1' }), program('guarded', guarded, EXIT_WITH)],
    });
    assert.equal(await served(guarded, HOST2), true, 'served before the trap');
    const trapped = await tcpRequest({ port: sensor, localAddress: HOST2 });
    assert.equal(trapped.data.length, 0);
    await d.waitForServiceLog(/: FAIL: trap address from=127\.0\.0\.2$/);
    await d.waitForDaemonLog(/Adding 127\.0\.0\.2 to the global_no_access list for 1 minutes/);
    assert.equal(await served(guarded, HOST2), false);
    await d.waitForServiceLog(/: FAIL: guarded address from=127\.0\.0\.2$/);
    await d.waitForDaemonLog(/127\.0\.0\.2 is on the global no_access list \(SENSOR\)/);
    assert.equal(await served(guarded), true, '127.0.0.1 is not trapped');
  });

  test('max_load: refused while the load average is above it, served once it drops (load from $TSINETD_LOADAVG_FILE)', async (t) => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-load-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const loadFile = join(dir, 'loadavg');
    writeFileSync(loadFile, '7.50 3.00 1.00 2/345 6789\n');
    const d = await startDaemon(t, {
      services: [program('loaded', port, EXIT_WITH, { max_load: '2.5' })],
      env: { ...process.env, TSINETD_LOADAVG_FILE: loadFile },
    });
    assert.equal(await served(port), false);
    await d.waitForServiceLog(/: FAIL: loaded load from=127\.0\.0\.1$/);
    await d.waitForDaemonLog(/ERROR: .*refused connect from 127\.0\.0\.1 due to excessive load/);
    writeFileSync(loadFile, '0.25 3.00 1.00 2/345 6789\n');
    // The value is cached for up to a second; each request may start a re-read.
    await waitFor(async () => ((await served(port)) ? true : undefined), 4000, 'the lower load to be seen', 200);
  });

  test('per_source_cps = 1 2: a burst of 2, then only that host is refused until a token comes back', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('bucket', port, EXIT_WITH, { per_source_cps: '1 2' })] });
    assert.equal(await served(port), true);
    assert.equal(await served(port), true);
    assert.equal(await served(port), false);
    const refusedAt = Date.now();
    assert.equal(await served(port, HOST2), true, 'another host has its own bucket');
    await d.waitForServiceLog(/: FAIL: bucket per_source_cps from=127\.0\.0\.1$/);
    await d.waitForDaemonLog(/127\.0\.0\.1 opens more than 1 connection\(s\) per second \(burst 2\)/);
    await waitFor(async () => ((await served(port)) ? true : undefined), 3000, 'a token to come back', 100);
    assert.ok(Date.now() - refusedAt < 2500);
    // The service itself was never switched off.
    assert.doesNotMatch(d.daemonLog(), /Deactivating service bucket/);
  });

  test('-limit 2: a third server of any service is refused (FAIL process_limit) until one ends', async (t) => {
    const [a, b] = [await freePort(), await freePort()];
    const d = await startDaemon(t, { services: [program('lima', a, '/bin/cat'), program('limb', b, '/bin/cat')], args: ['-limit', '2'] });
    const exits = (): number => (d.serviceLog().match(/EXIT: lim/g) ?? []).length;
    const one = hold(t, a);
    const two = hold(t, b);
    assert.equal(await one.admitted, true);
    assert.equal(await two.admitted, true);
    assert.equal(await hold(t, a, HOST2).admitted, false);
    await d.waitForServiceLog(/: FAIL: lima process_limit from=127\.0\.0\.2$/);
    await release(two, exits);
    assert.equal(await hold(t, a, HOST2).admitted, true);
  });

  test('a refused datagram is dropped (no reply) and its FAIL line written once per client', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'dgram', { bind: '127.0.0.1', only_from: '127.0.0.1' })] });
    const other = await udpClient({ localAddress: HOST2 });
    t.after(() => other.close());
    for (let i = 0; i < 3; i++) other.send(`refused ${i}`, port, '127.0.0.1');
    assert.equal((await udpRequest(port, 'allowed', { host: '127.0.0.1' }))?.toString(), 'allowed');
    assert.deepEqual(await other.replies(1, 300), []);
    await d.waitForServiceLog(/: FAIL: echo-dgram address from=127\.0\.0\.2$/);
    assert.equal((d.serviceLog().match(/FAIL: echo-dgram address/g) ?? []).length, 1);
  });

  test('a flood of refused clients writes a bounded number of FAIL lines and counts the rest', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [program('flooded', port, EXIT_WITH, { no_access: '127.0.0.2' })] });
    // 20 refusals at once (below the default cps of 50 a second).
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 20 }, () => tcpRequest({ port, localAddress: HOST2 })));
    const written = (): number => (d.serviceLog().match(/FAIL: flooded address from=127\.0\.0\.2/g) ?? []).length;
    // The clients see their connection closed before the lines reach the file (written in batches).
    await waitFor(() => (written() >= 5 ? true : undefined), 3000, `5 FAIL lines: ${written()}`);
    // 5 at once, then one a second: a loaded machine may stretch the flood over a few seconds.
    const bound = 5 + Math.ceil((performance.now() - t0) / 1000) + 1;
    assert.ok(written() >= 5 && written() <= bound, `${written()} FAIL lines for 20 refusals (at most ${bound})`);
    // A second later the key has a token again: the next refusal is written, with the count of
    // what was held back (otherwise the count comes once the source has been quiet for a while).
    await new Promise((r) => setTimeout(r, 1100));
    await tcpRequest({ port, localAddress: HOST2 });
    const line = await d.waitForDaemonLog(/WARNING: \d+ similar FAIL lines of service flooded suppressed/);
    // Every one of the 21 refusals is either written or counted.
    const held = Number(/(\d+) similar/.exec(line)![1]);
    await waitFor(() => (written() + held === 21 ? true : undefined), 3000, `${written()} written + ${held} held back = 21`);
    assert.equal(await served(port), true, '127.0.0.1 is still served');
  });

  test('internal services are admitted like the others (only_from on echo)', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'stream', { bind: '127.0.0.1', only_from: '127.0.0.1' })] });
    assert.equal(await hold(t, port).admitted, true);
    assert.equal(await hold(t, port, HOST2).admitted, false);
    await d.waitForServiceLog(/: FAIL: echo-stream address from=127\.0\.0\.2$/);
  });
});
