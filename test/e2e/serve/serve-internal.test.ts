// Internal services (echo, discard, daytime, chargen, time) over TCP and UDP, answered by the
// daemon itself, with the bytes real xinetd sends and the log lines it writes.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ChargenRing, RFC868_OFFSET } from '../../../src/serve/builtins.js';
import { internalService, startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { freePort, tcpRequest, udpClient, udpRequest } from '../../helpers/net.js';

const DAYTIME = /^\d\d (JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC) \d{4} \d\d:\d\d:\d\d \S+\r\n$/;

describe('internal services', () => {
  const ports: Record<string, number> = {};
  let daemon: RunningDaemon;

  before(async () => {
    for (const n of ['echo', 'discard', 'daytime', 'chargen', 'time']) ports[n] = await freePort();
  });

  test('start', async (t) => {
    // cps raised: the burst below is far above xinetd's default 50 per second.
    const services = Object.entries(ports).flatMap(([name, port]) => [
      internalService(name, port, 'stream'),
      internalService(name, port, 'dgram', { cps: '100000 1' }),
    ]);
    daemon = await startDaemon(t, { services });
    await daemon.waitForDaemonLog(/Started working: 10 available services/);

    await t.test('stream echo returns what was sent, then closes after the client', async () => {
      const r = await tcpRequest({ port: ports['echo']!, send: 'hello, echo\n' });
      assert.equal(r.data.toString(), 'hello, echo\n');
      assert.equal(r.ended, 'eof');
      // A forking builtin in xinetd: START pid=0 and EXIT, from the IPv4-mapped address (dual-stack).
      await daemon.waitForServiceLog(/EXIT: echo-stream status=0 pid=0 duration=\d+\(sec\)/);
      assert.match(daemon.serviceLog(), /START: echo-stream pid=0 from=::ffff:127\.0\.0\.1/);
    });

    await t.test('stream discard reads everything and answers nothing', async () => {
      const r = await tcpRequest({ port: ports['discard']!, send: 'x'.repeat(100_000) });
      assert.equal(r.data.length, 0);
      assert.equal(r.ended, 'eof');
    });

    await t.test('stream daytime sends one xinetd-style line and closes', async () => {
      const r = await tcpRequest({ port: ports['daytime']!, host: '::1' });
      assert.match(r.data.toString('latin1'), DAYTIME);
      await daemon.waitForServiceLog(/START: daytime-stream pid=0 from=::1$/m);
      // Not a forking builtin: no EXIT line.
      assert.doesNotMatch(daemon.serviceLog(), /EXIT: daytime-stream/);
    });

    await t.test('stream time sends 4 bytes: seconds since 1900', async () => {
      const r = await tcpRequest({ port: ports['time']! });
      assert.equal(r.data.length, 4);
      const now = Math.floor(Date.now() / 1000) + RFC868_OFFSET;
      assert.ok(Math.abs(r.data.readUInt32BE(0) - now) <= 5, `time ${r.data.readUInt32BE(0)} vs ${now}`);
    });

    await t.test('stream chargen: rotating 72-character lines until the client closes', async () => {
      const want = 74 * 200;
      const r = await tcpRequest({ port: ports['chargen']!, maxBytes: want });
      assert.equal(r.ended, 'max');
      const ring = new ChargenRing();
      assert.deepEqual(r.data.subarray(0, want), ring.lines(200));
      assert.equal(r.data.subarray(0, 74).toString('latin1'), '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n');
      await daemon.waitForServiceLog(/EXIT: chargen-stream status=0 pid=0/);
    });

    await t.test('dgram echo, daytime, time and chargen answer; discard does not', async () => {
      assert.equal((await udpRequest(ports['echo']!, 'ping'))?.toString(), 'ping');
      assert.match((await udpRequest(ports['daytime']!, 'x'))?.toString('latin1') ?? '', DAYTIME);
      const time = await udpRequest(ports['time']!, 'x');
      assert.equal(time?.length, 4);
      const chargen = await udpRequest(ports['chargen']!, 'x');
      assert.equal(chargen?.length, 1024);
      assert.equal(chargen.subarray(0, 74).toString('latin1'), new ChargenRing().line().toString('latin1'));
      assert.equal(await udpRequest(ports['discard']!, 'x', { timeoutMs: 300 }), null);
      assert.equal(await udpRequest(ports['echo']!, 'over IPv6', { host: '::1' }).then((b) => b?.toString()), 'over IPv6');
      await daemon.waitForServiceLog(/START: echo-dgram pid=0 from=::1$/m);
    });

    await t.test('dgram echo answers every datagram of a burst (xinetd drops those that arrive while busy)', async () => {
      const clients = await Promise.all([udpClient(), udpClient(), udpClient()]);
      try {
        let sent = 0;
        for (let round = 0; round < 10; round++) {
          for (const c of clients) for (let i = 0; i < 10; i++) c.send(`r${round}-${i}`, ports['echo']!);
          sent += 30;
          const got = await Promise.all(clients.map((c) => c.replies((sent / 3) | 0, 3000)));
          for (const g of got) assert.equal(g.length, sent / 3);
        }
        const all = (await Promise.all(clients.map((c) => c.replies(100)))).map((g) => g.map((b) => b.toString()).sort());
        for (const g of all) assert.equal(new Set(g).size, 100);
      } finally {
        for (const c of clients) c.close();
      }
    });

    await t.test('dgram chargen goes on from datagram to datagram', async () => {
      const c = await udpClient();
      try {
        c.send('a', ports['chargen']!);
        await c.replies(1);
        c.send('b', ports['chargen']!);
        const [first, second] = await c.replies(2);
        assert.ok(first !== undefined && second !== undefined);
        assert.notEqual(first[0], second[0]);
      } finally {
        c.close();
      }
    });
  });
});
