// The daemon as a process: readiness (pid file, "Started working"), signals (TERM, QUIT, USR1,
// HUP), daemonizing without -dontfork, bind failures, and start-up failure.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { alive, FIXTURES, internalService, programService, startDaemon } from '../../helpers/daemon.js';
import { closed, freePort, readUntil, tcpConnect, tcpRequest, waitFor } from '../../helpers/net.js';

async function sleeperPid(port: number): Promise<{ pid: number; socket: net.Socket }> {
  const socket = await tcpConnect(port);
  const line = await readUntil(socket, /started pid=\d+\n/);
  return { pid: Number(/pid=(\d+)/.exec(line)![1]), socket };
}

describe('the daemon process', () => {
  test('ready: pid file written and "Started working" logged once every socket is bound', async (t) => {
    const [a, b] = [await freePort(), await freePort()];
    const daemon = await startDaemon(t, { services: [internalService('daytime', a, 'stream'), internalService('echo', b, 'dgram')] });
    assert.equal(Number(readFileSync(daemon.pidfile, 'utf8')), daemon.pid);
    await daemon.waitForDaemonLog(/xinetd\[\d+\]: NOTICE: Started working: 2 available services/);
    assert.match((await tcpRequest({ port: a })).data.toString(), /^\d\d [A-Z]{3} \d{4}/);
  });

  test('SIGTERM: running servers are terminated (xinetd(8)), the pid file removed, exit status 0', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [programService('sleeps', port, join(FIXTURES, 'sleeper'))] });
    const { pid, socket } = await sleeperPid(port);
    t.after(() => socket.destroy());
    assert.ok(alive(pid));
    const status = await daemon.stop('SIGTERM');
    assert.deepEqual(status, { code: 0, signal: null });
    await closed(socket);
    await waitFor(() => (alive(pid) ? undefined : true), 3000, `server ${pid} to be terminated`);
    assert.equal(existsSync(daemon.pidfile), false);
    await daemon.waitForDaemonLog(/WARNING: Exiting\.\.\./);
    assert.equal((await tcpRequest({ port })).ended, 'ECONNREFUSED');
  });

  test('SIGTERM with in-process connections open (chargen, echo): they are closed and the daemon exits at once', async (t) => {
    const [chargen, echo] = [await freePort(), await freePort()];
    const daemon = await startDaemon(t, { services: [internalService('chargen', chargen, 'stream'), internalService('echo', echo, 'stream')] });
    const a = await tcpConnect(chargen);
    const b = await tcpConnect(echo);
    t.after(() => {
      a.destroy();
      b.destroy();
    });
    a.resume();
    b.write('hi\n');
    await readUntil(b, /hi\n/);
    const t0 = Date.now();
    assert.deepEqual(await daemon.stop('SIGTERM', 3000), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 2000, `stopped in ${Date.now() - t0} ms`);
    await closed(a);
    await closed(b);
  });

  test('SIGQUIT: the daemon stops, running servers are left alone', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [programService('sleeps', port, join(FIXTURES, 'sleeper'))] });
    const { pid, socket } = await sleeperPid(port);
    t.after(() => {
      socket.destroy();
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    assert.deepEqual(await daemon.stop('SIGQUIT'), { code: 0, signal: null });
    assert.ok(alive(pid), 'the server survives SIGQUIT');
  });

  test('-dontfork with nothing to serve stays running (-stayalive), like xinetd', async (t) => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '::', r));
    t.after(() => blocker.close());
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream')] });
    await daemon.waitForDaemonLog(/Started working: 0 available services/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(daemon.exitedStatus, null);
    assert.deepEqual(await daemon.stop('SIGTERM'), { code: 0, signal: null });
  });

  test('SIGINT stops like SIGTERM', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream')] });
    assert.deepEqual(await daemon.stop('SIGINT'), { code: 0, signal: null });
  });

  test('SIGUSR1 appends a text dump of the service table', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [programService('sleeps', port, join(FIXTURES, 'sleeper'))] });
    const { socket } = await sleeperPid(port);
    t.after(() => socket.destroy());
    // Counted once the spawner has confirmed the start (START is logged then).
    await daemon.waitForServiceLog(/START: sleeps pid=\d+/);
    daemon.signal('SIGUSR1');
    await daemon.waitForDaemonLog(/INFO: generated state dump in file .*tsinetd\.dump/);
    const dump = readFileSync(daemon.dumpFile, 'utf8');
    assert.match(dump, /^INTERNAL STATE DUMP: tsinetd /);
    assert.match(dump, /Service = sleeps/);
    assert.match(dump, /running servers = 1/);
    assert.match(dump, /END OF DUMP\n+$/);
    daemon.signal('SIGUSR1');
    await waitFor(() => (readFileSync(daemon.dumpFile, 'utf8').split('END OF DUMP').length === 3 ? true : undefined), 3000, 'a second dump appended');
  });

  test('SIGHUP re-reads the configuration and keeps serving', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream')] });
    const before = net.connect(port);
    t.after(() => before.destroy());
    daemon.signal('SIGHUP');
    await daemon.waitForDaemonLog(/NOTICE: Reconfigured: new=0 old=1 dropped=0 \(services\)/);
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
    assert.equal(daemon.exitedStatus, null);
  });

  test('SIGHUP with a changed configuration: new services start, removed ones stop, unchanged sockets and connections stay', async (t) => {
    const [keep, drop, add] = [await freePort(), await freePort(), await freePort()];
    const kept = internalService('echo', keep, 'stream');
    const daemon = await startDaemon(t, { services: [kept, internalService('time', drop, 'stream')] });
    const established = await tcpConnect(keep);
    t.after(() => established.destroy());
    established.write('before\n');
    await readUntil(established, /before\n/);
    daemon.rewrite([kept, internalService('daytime', add, 'stream')]);
    daemon.signal('SIGHUP');
    await daemon.waitForDaemonLog(/Reconfigured: new=1 old=1 dropped=1 \(services\)/);
    assert.equal((await tcpRequest({ port: drop })).ended, 'ECONNREFUSED');
    assert.match((await tcpRequest({ port: add })).data.toString(), /^\d\d [A-Z]{3}/);
    assert.equal((await tcpRequest({ port: keep, send: 'new\n' })).data.toString(), 'new\n');
    established.write('after\n');
    assert.match(await readUntil(established, /after\n/), /after\n/);
  });

  test('cps: too many connections per second turn the service off for a while, as in xinetd', async (t) => {
    const port = await freePort();
    // Off for 2 s: longer than the counting window (which lasts less than `2` seconds), so the
    // first connection after the service comes back is counted afresh.
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream', { cps: '2 2' })] });
    let served = 0;
    for (let i = 0; i < 10; i++) {
      const r = await tcpRequest({ port });
      if (r.data.length === 0) break;
      served++;
    }
    assert.ok(served >= 2 && served < 10, `${served} served before the trip`);
    await daemon.waitForDaemonLog(/ERROR: Deactivating service daytime due to excessive incoming connections\. {2}Restarting in 2 seconds\./);
    await daemon.waitForServiceLog(/FAIL: daytime-stream connections per second from=::ffff:127\.0\.0\.1/);
    await daemon.waitForDaemonLog(/ERROR: Activating service daytime/, 5000);
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
  });

  test('a port in use: that service is reported (as xinetd words it) and retried, the others run', async (t) => {
    const [busy, free] = [await freePort(), await freePort()];
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(busy, '::', r));
    t.after(() => blocker.close());
    const daemon = await startDaemon(t, {
      services: [internalService('daytime', busy, 'stream'), internalService('time', free, 'stream')],
      env: { ...process.env, TSINETD_BIND_RETRY_MS: '150' },
    });
    await daemon.waitForDaemonLog(/ERROR: bind failed \(Address already in use \(errno = 98\)\)\. service = daytime-stream$/m);
    await daemon.waitForDaemonLog(/Started working: 1 available service$/m);
    assert.equal((await tcpRequest({ port: free })).data.length, 4);
    // Still taken: the attempts go on, each one logged while the pause grows.
    await daemon.waitForDaemonLog(
      /bind retry attempt 2 failed \(Address already in use \(errno = 98\)\)\. service = daytime-stream; next attempt in 0\.6 s/m,
      5000,
    );
    await new Promise<void>((r) => blocker.close(() => r()));
    await daemon.waitForDaemonLog(/Activating service daytime-stream \(bound after \d+ failed attempts\)/, 5000);
    assert.match((await tcpRequest({ port: busy })).data.toString(), /^\d\d [A-Z]{3}/);
  });

  test('every port in use: the daemon stays up and serves each one once it is free', async (t) => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '::', r));
    t.after(() => blocker.close());
    const daemon = await startDaemon(t, {
      services: [internalService('daytime', port, 'stream')],
      env: { ...process.env, TSINETD_BIND_RETRY_MS: '100' },
    });
    await daemon.waitForDaemonLog(/Started working: 0 available services$/m);
    await daemon.waitForDaemonLog(/bind retry attempt 1 failed/);
    assert.ok(alive(daemon.pid));
    await new Promise<void>((r) => blocker.close(() => r()));
    await daemon.waitForDaemonLog(/Activating service daytime-stream/, 5000);
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
  });

  test('cps: a port taken while the service is off is retried in the background, and served once free', async (t) => {
    const port = await freePort();
    // Off for 2 s (see the cps test above: the first connection after the service comes back is
    // then counted afresh), which also leaves time to take the port while it is off.
    const daemon = await startDaemon(t, {
      services: [internalService('daytime', port, 'stream', { cps: '2 2', bind: '127.0.0.1' })],
      env: { ...process.env, TSINETD_BIND_RETRY_MS: '100' },
    });
    for (let i = 0; i < 10; i++) {
      if ((await tcpRequest({ port })).data.length === 0) break;
    }
    await daemon.waitForDaemonLog(/ERROR: Deactivating service daytime due to excessive incoming connections\. {2}Restarting in 2 seconds\./);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    t.after(() => blocker.close());
    // xinetd's line for the failed restart, then the background attempts of a bind failure.
    await daemon.waitForDaemonLog(/ERROR: Error activating service daytime \(.*EADDRINUSE/, 5000);
    await daemon.waitForDaemonLog(/NOTICE: service daytime-stream will try to bind again in 0\.1 s, then less often \(at most every 60 s\) until it can/);
    await daemon.waitForDaemonLog(
      /ERROR: bind retry attempt 1 failed \(Address already in use \(errno = 98\)\)\. service = daytime-stream; next attempt in 0\.2 s/,
      5000,
    );
    // A reload meanwhile keeps the unchanged service retrying, as for a bind failure at start.
    daemon.signal('SIGHUP');
    await daemon.waitForDaemonLog(/NOTICE: Reconfigured: new=0 old=1 dropped=0 \(services\)/);
    await daemon.waitForDaemonLog(/ERROR: bind retry attempt 3 failed \(Address already in use \(errno = 98\)\)\. service = daytime-stream/, 5000);
    assert.equal(daemon.exitedStatus, null);
    await new Promise<void>((r) => blocker.close(() => r()));
    await daemon.waitForDaemonLog(/NOTICE: Activating service daytime-stream \(bound after [1-9]\d* failed attempts?\)/, 5000);
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
  });

  test('without -dontfork it daemonizes: the command exits 0 once the detached daemon serves', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream')], dontfork: false });
    const status = await daemon.exited;
    assert.deepEqual(status, { code: 0, signal: null });
    assert.notEqual(daemon.pid, daemon.child.pid);
    assert.ok(alive(daemon.pid));
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
    await daemon.stop('SIGTERM');
    assert.equal(existsSync(daemon.pidfile), false);
  });

  test('daemonizing with nothing to serve: the command exits 1 with the reason', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [internalService('daytime', port, 'stream', { disable: 'yes' })],
      dontfork: false,
      expectFailure: true,
    });
    assert.deepEqual(daemon.exitedStatus, { code: 1, signal: null });
    assert.match(daemon.stderr(), /tsinetd: no services\. Exiting\.\.\./);
    assert.equal(existsSync(daemon.pidfile), false);
  });
});
