// Accepting in the native helper (native/accept.c, Acceptor in src/spawn/spawn-types.ts): for nowait
// programs and daytime/time the daemon hands its listening socket to tsinetd-spawnd, which
// accepts, reports each peer, and serves the connection as the daemon decides. Checked from
// outside: connected sockets never appear among the daemon's descriptors (they do with
// TSINETD_HELPER_ACCEPT=0), decisions and log lines are the daemon's, and a helper that dies is
// started again with the listening sockets.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import type * as net from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, internalService, programService, startDaemon, TEST_USER, type RunningDaemon } from '../../helpers/daemon.js';
import { freePort, readUntil, tcpConnect, tcpRequest, waitFor } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';
import { childrenOf, listeningInodes } from '../../helpers/proc.js';

// This file is about the helper accepting: it asks for the native spawner and for accepting in
// the helper whatever the environment says (CI also runs the serving tests with either off).
const NATIVE = { ...process.env, TSINETD_SPAWNER: 'native', TSINETD_HELPER_ACCEPT: '1' };

/** Whether process `pid` holds the socket listening on TCP `port`. */
function holdsListener(pid: number, port: number): boolean {
  const inodes = listeningInodes(port);
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null && inodes.has(m[1]!)) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Connections waiting in the accept queue of the socket listening on TCP `port` (rx_queue of a LISTEN row). */
function acceptQueue(port: number): number {
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || parseInt(f[1]!.split(':')[1]!, 16) !== port) continue;
      n += parseInt(f[4]!.split(':')[1]!, 16);
    }
  }
  return n;
}

/** Socket descriptors the process holds (listening and connected alike). */
function socketFds(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function helperPid(daemon: RunningDaemon): number | null {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'tsinetd-spawnd' && ppid === daemon.pid) return Number(name);
    } catch {
      // gone
    }
  }
  return null;
}

async function holdSleepers(t: TestContext, port: number, count: number): Promise<net.Socket[]> {
  const held: net.Socket[] = [];
  t.after(() => {
    for (const s of held) s.destroy();
  });
  for (let i = 0; i < count; i++) {
    const s = await tcpConnect(port);
    held.push(s);
    await readUntil(s, /started pid=\d+\n/);
  }
  return held;
}

describe('accepting in the native helper', () => {
  test('connections of a program service never enter the daemon; with TSINETD_HELPER_ACCEPT=0 the daemon accepts', async (t) => {
    for (const helperAccepts of [true, false]) {
      const port = await freePort();
      const daemon = await startDaemon(t, {
        services: [programService('sleeps', port, join(FIXTURES, 'sleeper'), { server_args: '20' })],
        env: { ...NATIVE, TSINETD_HELPER_ACCEPT: helperAccepts ? '1' : '0' },
      });
      const helper = await waitFor(() => helperPid(daemon) ?? undefined, 5000, 'the spawn helper');
      assert.equal(holdsListener(helper, port), helperAccepts, 'the helper holds the listening socket');
      assert.equal(holdsListener(daemon.pid, port), true, 'the daemon keeps its own copy');
      const before = socketFds(daemon.pid);
      const held = await holdSleepers(t, port, 6);
      if (helperAccepts) assert.equal(socketFds(daemon.pid), before, 'the daemon holds no connected socket');
      await waitFor(
        () => (daemon.serviceLog().match(/START: sleeps pid=\d+ from=::ffff:127\.0\.0\.1/g)?.length === 6 ? true : undefined),
        5000,
        '6 START lines',
      );
      for (const s of held) s.destroy();
      await daemon.stop();
    }
  });

  test('the server gets the connection as fds 0-2 and the peer as REMOTE_HOST; 127.0.0.2 is refused by only_from', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [programService('env', port, join(FIXTURES, 'env-printer'), { only_from: '127.0.0.1' })],
      env: NATIVE,
    });
    const reply = (await tcpRequest({ port })).data.toString();
    assert.match(reply, /^fd0=socket:\[\d+\]$/m);
    assert.equal(/^fd0=(.*)$/m.exec(reply)![1], /^fd1=(.*)$/m.exec(reply)![1]);
    assert.match(reply, /^env:REMOTE_HOST=::ffff:127\.0\.0\.1$/m);
    assert.match(reply, /^end$/m);
    const refused = await tcpRequest({ port, localAddress: '127.0.0.2' });
    assert.equal(refused.data.length, 0);
    await daemon.waitForServiceLog(/FAIL: env address from=::ffff:127\.0\.0\.2/);
  });

  test('instances is never exceeded: the client over the limit is refused and logged', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [programService('sleeps', port, join(FIXTURES, 'sleeper'), { server_args: '20', instances: '2' })],
      env: NATIVE,
    });
    await holdSleepers(t, port, 2);
    const third = await tcpRequest({ port, timeoutMs: 3000 });
    assert.equal(third.data.length, 0);
    assert.equal(third.ended, 'eof');
    await daemon.waitForServiceLog(/FAIL: sleeps service_limit from=::ffff:127\.0\.0\.1/);
  });

  test('daytime is answered through the helper, byte for byte as the daemon computes it', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream')], env: NATIVE });
    const before = socketFds(daemon.pid);
    for (let i = 0; i < 20; i++) {
      const r = await tcpRequest({ port });
      assert.match(r.data.toString('latin1'), /^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\r\n$/);
    }
    assert.equal(socketFds(daemon.pid), before);
    await daemon.waitForServiceLog(/START: daytime-stream pid=0 from=::ffff:127\.0\.0\.1/);
  });

  test('a helper that dies is started again and gets the listening sockets back', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [internalService('daytime', port, 'stream')], env: NATIVE });
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3}/);
    const first = helperPid(daemon);
    assert.ok(first !== null, 'the helper runs');
    process.kill(first, 'SIGKILL');
    await daemon.waitForDaemonLog(/spawn helper \(pid \d+\) exited \(signal SIGKILL\)/);
    const second = await waitFor(
      () => {
        const pid = helperPid(daemon);
        return pid !== null && pid !== first ? pid : undefined;
      },
      5000,
      'a new helper',
    );
    assert.notEqual(second, first);
    const again = await waitFor(
      async () => {
        const r = await tcpRequest({ port, timeoutMs: 1000 });
        return /^\d\d [A-Z]{3}/.test(r.data.toString()) ? r : undefined;
      },
      5000,
      'daytime served again',
    );
    assert.ok(again.data.length > 0);
  });

  // FreeBSD inetd's max-child (nowait/2): at the limit the socket is not accepted on, so a third
  // client waits in the kernel's listen queue (connected, unserved, not reset) and is served when
  // a server ends; nothing is logged for it. Both ways of accepting pause: the helper stops
  // polling the socket, the daemon's pausable server stops its watcher.
  test('FreeBSD max-child queues: the third client waits in the listen queue and is served when a server ends', async (t) => {
    for (const helperAccepts of [true, false]) {
      const port = await freePort();
      const conf = join(tempDir(t, 'max-child'), 'inetd.conf');
      writeFileSync(conf, `# $FreeBSD$\n${port}\tstream\ttcp\tnowait/2\t${TEST_USER}\t/bin/cat\tcat\n`);
      const daemon = await startDaemon(t, { services: [], args: ['--inetd', conf], env: { ...NATIVE, TSINETD_HELPER_ACCEPT: helperAccepts ? '1' : '0' } });
      const helper = await waitFor(() => helperPid(daemon) ?? undefined, 5000, 'the spawn helper');
      await waitFor(() => (listeningInodes(port).size > 0 ? true : undefined), 5000, 'the listening socket');
      assert.equal(holdsListener(helper, port), helperAccepts, `${helperAccepts ? 'the helper' : 'the daemon'} accepts`);
      const clients: net.Socket[] = [];
      t.after(() => {
        for (const c of clients) c.destroy();
      });
      const served = async (): Promise<net.Socket> => {
        const c = await tcpConnect(port);
        clients.push(c);
        c.write('ping\n');
        await readUntil(c, /ping/);
        return c;
      };
      const a = await served();
      await served();
      const third = await tcpConnect(port);
      clients.push(third);
      let got = '';
      let ended = false;
      third.on('data', (d: Buffer) => (got += d.toString()));
      third.on('close', () => (ended = true));
      third.write('ping\n');
      await waitFor(() => (acceptQueue(port) === 1 ? true : undefined), 3000, 'the third client in the listen queue');
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual([got, ended, acceptQueue(port)], ['', false, 1], 'connected, not served, not reset, still queued');
      a.end(); // its cat exits: a slot frees
      await waitFor(() => (got.includes('ping') ? true : undefined), 5000, 'the third client served once a server ended');
      assert.equal(acceptQueue(port), 0);
      assert.doesNotMatch(daemon.daemonLog(), /FAIL|service_limit|ERROR/, 'a queued client is neither refused nor logged');
      for (const c of clients.splice(0)) c.destroy();

      // Three at once, before any server runs: whatever was accepted in the same go waits on the
      // listener (held) instead of the listen queue; still exactly two are served.
      await waitFor(() => (childrenOf(helper).length === 0 ? true : undefined), 5000, 'the servers of the first round to end');
      const burst = await Promise.all([0, 1, 2].map(() => tcpConnect(port)));
      clients.push(...burst);
      const answers = burst.map(() => '');
      burst.forEach((c, i) => {
        c.on('data', (d: Buffer) => (answers[i] = (answers[i] ?? '') + d.toString()));
        c.write('ping\n');
      });
      await waitFor(() => (answers.filter((x) => x !== '').length === 2 ? true : undefined), 5000, 'two of the three served');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(answers.filter((x) => x !== '').length, 2, 'never more than max-child');
      burst[answers.findIndex((x) => x !== '')]!.end();
      await waitFor(() => (answers.every((x) => x !== '') ? true : undefined), 5000, 'the third served once a server ended');
      for (const c of clients) c.destroy();
      await daemon.stop();
    }
  });

  // One socket identity (listen-plan.ts socketKey) for the reload plan and the listener set: a
  // reload that only changes who accepts (a banner or USERID makes the daemon accept; removing it
  // gives the socket back to the helper) keeps the socket, as the "readjusting" line says, so
  // no client is refused meanwhile.
  test('a reload that moves accepting between helper and daemon keeps the listening socket and refuses nobody', async (t) => {
    const port = await freePort();
    const dir = tempDir(t, 'readjust');
    const banner = join(dir, 'banner');
    writeFileSync(banner, 'welcome\n');
    const plain = programService('cat', port, '/bin/cat', { bind: '127.0.0.1' });
    const withBanner = programService('cat', port, '/bin/cat', { bind: '127.0.0.1', banner });
    const daemon = await startDaemon(t, { services: [plain], env: NATIVE });
    const helper = await waitFor(() => helperPid(daemon) ?? undefined, 5000, 'the spawn helper');
    const inode = [...listeningInodes(port)];
    assert.equal(inode.length, 1);
    assert.equal(holdsListener(helper, port), true, 'the helper accepts at first');
    let stop = false;
    const t0 = performance.now();
    const marks: string[] = [];
    const failures: string[] = [];
    let ok = 0;
    const clients = (async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the test sets it while this loop runs
      for (let i = 0; !stop && i < 2000; i++) {
        const r = await tcpRequest({ port, send: `n${i}\n`, timeoutMs: 3000 });
        if (r.data.toString().endsWith(`n${i}\n`)) ok++;
        else failures.push(`${r.ended} ${JSON.stringify(r.data.toString())} at ${Math.round(performance.now() - t0)} ms (connection n${i})`);
        await new Promise((done) => setTimeout(done, 25));
      }
    })();
    for (const [services, helperHolds, greeting] of [
      [[withBanner], false, 'welcome\n'],
      [[plain], true, ''],
      [[withBanner], false, 'welcome\n'],
    ] as const) {
      const reloads = (daemon.daemonLog().match(/Reconfigured: /g) ?? []).length;
      daemon.rewriteAtomically(services);
      marks.push(`SIGHUP at ${Math.round(performance.now() - t0)} ms`);
      daemon.signal('SIGHUP');
      await waitFor(() => ((daemon.daemonLog().match(/Reconfigured: /g) ?? []).length > reloads ? true : undefined), 8000, 'the reload');
      marks.push(`reloaded by ${Math.round(performance.now() - t0)} ms`);
      assert.deepEqual([...listeningInodes(port)], inode, 'the same listening socket');
      await waitFor(
        () => (holdsListener(helper, port) === helperHolds ? true : undefined),
        3000,
        `${helperHolds ? 'the helper' : 'the daemon alone'} to accept`,
      );
      const r = await tcpRequest({ port, send: 'x\n', timeoutMs: 3000 });
      assert.equal(r.data.toString(), `${greeting}x\n`);
    }
    stop = true;
    await clients;
    assert.deepEqual(failures, [], `no client refused or lost during the reloads\n${marks.join('\n')}\n${daemon.daemonLog()}\n${daemon.serviceLog()}`);
    assert.ok(ok > 0);
    assert.doesNotMatch(daemon.daemonLog(), /new socket/);
    assert.equal((daemon.daemonLog().match(/readjusting service cat/g) ?? []).length, 3);
  });
});
