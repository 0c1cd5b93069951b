// wait = yes services that start a program: the bound UDP socket or the listening TCP socket is
// the server's fds 0-2, one server runs at a time, and the daemon never reads from the socket:
// every datagram and connection goes to a server, none is lost between servers.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES, have, programService, startDaemon, type Attrs, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest, udpClient, waitFor } from '../../helpers/net.js';
import { expectedSpawner } from '../../../src/spawn/spawner.js';

/** A wait = yes program service on a UDP or TCP port. */
function waitService(name: string, port: number, socketType: 'dgram' | 'stream', server: string, extra: Attrs = {}): ServiceDef {
  return programService(name, port, server, { socket_type: socketType, protocol: socketType === 'dgram' ? 'udp' : 'tcp', wait: 'yes', ...extra });
}

const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

describe('wait = yes servers', { skip: have('python3') ? false : 'python3 is not installed' }, () => {
  test('UDP: each datagram of a burst is read by a server, none by the daemon, none lost', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [waitService('udpw', port, 'dgram', join(FIXTURES, 'udp-reply'), { bind: '127.0.0.1' })],
    });
    const c = await udpClient();
    t.after(() => c.close());
    const N = 12;
    for (let i = 0; i < N; i++) c.send(`d${i}`, port);
    const replies = await c.replies(N, 20_000);
    assert.equal(replies.length, N, `${replies.length} of ${N} datagrams answered`);
    const got = replies.map((r) => /got=(.*)$/.exec(r.toString())![1]).sort();
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => `d${i}`).sort());
    // One server per datagram (each exits after one), each answering from the service port.
    const pids = new Set(replies.map((r) => /pid=(\d+)/.exec(r.toString())![1]));
    assert.equal(pids.size, N);
    assert.ok(!pids.has(String(daemon.pid)));
    assert.deepEqual(new Set(c.sourcePorts()), new Set([port]));
    await waitFor(() => (count(daemon.serviceLog(), /EXIT: udpw status=0/) === N ? true : undefined), 5000, 'all EXIT lines');
    // With the spawn helper, each START names the sender (udp-wait-sender.test.ts).
    assert.equal(
      count(daemon.serviceLog(), expectedSpawner().capabilities.peekSender === true ? /START: udpw pid=\d+ from=127\.0\.0\.1$/ : /START: udpw pid=\d+$/),
      N,
    );
  });

  test('UDP: a server that lingers answers several datagrams; the next one starts when it exits', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [waitService('linger', port, 'dgram', join(FIXTURES, 'udp-reply'), { server_args: '0.5', bind: '127.0.0.1' })],
    });
    const c = await udpClient();
    t.after(() => c.close());
    for (let i = 0; i < 5; i++) c.send(`a${i}`, port);
    const first = await c.replies(5, 10_000);
    assert.equal(first.length, 5);
    await daemon.waitForServiceLog(/EXIT: linger status=0/, 5000);
    c.send('later', port);
    const all = await c.replies(6, 10_000);
    assert.equal(all.length, 6);
    const pids = all.map((r) => /pid=(\d+)/.exec(r.toString())![1]);
    assert.notEqual(pids[5], pids[0]);
  });

  test('UDP: a server that fails without reading does not start again and again for the same datagram', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [waitService('broken', port, 'dgram', join(FIXTURES, 'exit-with'), { server_args: '1', bind: '127.0.0.1' })],
    });
    const c = await udpClient();
    t.after(() => c.close());
    c.send('unread', port);
    await daemon.waitForServiceLog(/EXIT: broken status=1/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(count(daemon.serviceLog(), /START: broken/), 1);
  });

  test('TCP: the listening socket goes to the server, which accepts; concurrent clients are served one after the other', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [waitService('tcpw', port, 'stream', join(FIXTURES, 'tcp-accept-once'), { bind: '127.0.0.1' })],
    });
    const replies = await Promise.all(Array.from({ length: 5 }, () => tcpRequest({ port, timeoutMs: 15_000 })));
    const pids = new Set<string>();
    for (const r of replies) {
      const m = /^pid=(\d+) peer=127\.0\.0\.1\n$/.exec(r.data.toString());
      assert.ok(m !== null, JSON.stringify(r));
      pids.add(m[1]!);
    }
    assert.equal(pids.size, 5);
    await waitFor(() => (count(daemon.serviceLog(), /EXIT: tcpw status=0/) === 5 ? true : undefined), 5000, 'five EXIT lines');
  });

  test('TCP: only_from refuses every client, whose address is never known (as xinetd); hosts.deny `ALL: ALL` too', async (t) => {
    const [p1, p2] = [await freePort(), await freePort()];
    const server = join(FIXTURES, 'tcp-accept-once');
    const daemon = await startDaemon(t, {
      services: [
        waitService('tcpw', p1, 'stream', server, { bind: '127.0.0.1', only_from: '127.0.0.1' }),
        waitService('tcpx', p2, 'stream', server, { bind: '127.0.0.1', no_access: '127.0.0.1' }),
      ],
    });
    // no_access matches nothing unknown: served (xinetd too).
    assert.match((await tcpRequest({ port: p2, timeoutMs: 5000 })).data.toString(), /^pid=\d+ peer=127\.0\.0\.1\n$/);
    // The client connects (the kernel accepts) but no server ever starts for it.
    const r = await tcpRequest({ port: p1, timeoutMs: 1500 });
    assert.equal(r.data.length, 0);
    await daemon.waitForServiceLog(/FAIL: tcpw address$|FAIL: tcpw address from=<no address>$/);
    assert.equal(count(daemon.serviceLog(), /START: tcpw/), 0, daemon.serviceLog());
    // TCP wrappers see the client as unknown: ALL matches it.
    writeFileSync(join(daemon.dir, 'hosts.deny'), 'ALL: ALL\n');
    const r2 = await tcpRequest({ port: p2, timeoutMs: 1500 });
    assert.equal(r2.data.length, 0);
    await daemon.waitForServiceLog(/FAIL: tcpx libwrap/);
  });
});
