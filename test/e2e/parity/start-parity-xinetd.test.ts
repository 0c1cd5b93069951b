// What starts, side by side with real xinetd 2.3.15.3 on the same file (skipped without it):
// tsinetd may not start a service that xinetd refuses. Each case is one small configuration
// given to both; xinetd's count comes from its "Started working: N available services" line,
// tsinetd's from `--dump` (enabled, no problem).
//   - `protocol` is looked up in /etc/services as written (http/TCP is not http/tcp): a scratch
//     /etc/services is bind-mounted in a private mount namespace for both daemons;
//   - a file with DOS (CRLF) line ends: the '\r' is part of the last word of each line;
//   - two datagram services on one port both start, and the same one answers each datagram.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { internalService, renderConfig, startDaemon, TEST_USER, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, udpRequest } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';
import { noMountNamespace, noXinetd, startXinetd, tsinetdStarts, type Mounts } from '../../helpers/xinetd.js';

const block = (name: string, lines: readonly string[]): string => `service ${name}\n{\n${lines.map((l) => `\t${l}\n`).join('')}}\n`;
const program = (socketType: 'stream' | 'dgram'): string[] => [
  `socket_type = ${socketType}`,
  `wait = ${socketType === 'dgram' ? 'yes' : 'no'}`,
  `user = ${TEST_USER}`,
  'server = /bin/echo',
];

describe('protocol names are looked up in /etc/services as written', { skip: noXinetd || noMountNamespace() }, () => {
  test('the same services start under xinetd and tsinetd', async (t) => {
    const dir = tempDir(t, 'parity-protocol');
    const [web, dg, echo, other] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const services = join(dir, 'services');
    writeFileSync(services, `p19web\t\t${web}/tcp\np19dg\t\t${dg}/udp\necho\t\t${echo}/tcp\n`);
    const mounts: Mounts = [[services, '/etc/services']];
    const cases: { what: string; text: string; starts: boolean }[] = [
      { what: 'protocol = TCP', text: block('p19web', ['protocol = TCP', ...program('stream')]), starts: false },
      { what: 'protocol = tcp', text: block('p19web', ['protocol = tcp', ...program('stream')]), starts: true },
      { what: 'protocol = TCP with the listed port', text: block('p19web', ['protocol = TCP', `port = ${web}`, ...program('stream')]), starts: false },
      { what: 'protocol = UDP', text: block('p19dg', ['protocol = UDP', ...program('dgram')]), starts: false },
      {
        what: 'UNLISTED, protocol = TCP',
        text: block('p19other', ['type = UNLISTED', `port = ${other}`, 'protocol = TCP', ...program('stream')]),
        starts: true,
      },
      { what: 'internal, protocol = TCP', text: block('echo', ['type = INTERNAL', 'protocol = TCP', 'socket_type = stream', 'wait = no']), starts: false },
      { what: 'internal, protocol = tcp', text: block('echo', ['type = INTERNAL', 'protocol = tcp', 'socket_type = stream', 'wait = no']), starts: true },
    ];
    for (const [i, c] of cases.entries()) {
      const conf = join(dir, `case${i}.conf`);
      writeFileSync(conf, c.text);
      const x = await startXinetd(t, conf, join(dir, `xinetd${i}.log`), mounts);
      await x.stop();
      const ts = tsinetdStarts(conf, mounts);
      assert.equal(x.exited, false, `${c.what}: xinetd exited\n${x.log()}`);
      assert.equal(x.started, c.starts ? 1 : 0, `${c.what}: xinetd\n${x.log()}`);
      const said = ts.diagnostics.join('\n');
      assert.equal(ts.started.length, x.started, `${c.what}: tsinetd starts what xinetd starts\n${said}`);
      if (!c.starts)
        assert.ok(
          ts.diagnostics.some((l) => l.startsWith(`${conf}:`) && / error: .*not in \/etc\/services/.test(l)),
          said,
        );
    }
  });
});

describe("DOS line ends: the '\\r' is read as part of the line's last word", { skip: noXinetd }, () => {
  test('the same services start under xinetd and tsinetd, with the same server arguments', async (t) => {
    const dir = tempDir(t, 'parity-crlf');
    const ports = [await freePort(), await freePort()];
    const dos = (text: string): string => text.replace(/\n/g, '\r\n');
    const unlisted = (name: string, port: number, more: string[] = []): string =>
      block(name, ['type = UNLISTED', `port = ${port}`, ...program('stream'), ...more]);
    const lf = join(dir, 'lf.d');
    mkdirSync(lf);
    writeFileSync(join(lf, 'svc'), unlisted('inlf', ports[0]!));
    const cases: { what: string; text: string; starts: number; argv?: string[] }[] = [
      { what: 'a whole CRLF file', text: dos(`defaults\n{\n\tinstances = 5\n}\n${unlisted('a', ports[0]!)}${unlisted('b', ports[1]!)}`), starts: 0 },
      {
        what: "only 'server_args = ok' has CRLF",
        text: unlisted('a', ports[0]!, ['server_args = ok']).replace('ok\n', 'ok\r\n'),
        starts: 1,
        argv: ['echo', 'ok\r'],
      },
      { what: "only 'flags = IPv4 ' has CRLF", text: unlisted('a', ports[0]!, ['flags = IPv4 ']).replace('IPv4 \n', 'IPv4 \r\n'), starts: 0 },
      { what: "only 'service a' has CRLF (UNLISTED)", text: unlisted('a', ports[0]!).replace('service a\n', 'service a\r\n'), starts: 1 },
      { what: "'includedir DIR' with CRLF", text: dos(`includedir ${lf}\n`), starts: 0 },
      { what: "'includedir DIR ' with CRLF after a blank", text: dos(`includedir ${lf} \n`), starts: 1 },
    ];
    for (const [i, c] of cases.entries()) {
      const conf = join(dir, `case${i}.conf`);
      writeFileSync(conf, c.text);
      const x = await startXinetd(t, conf, join(dir, `xinetd${i}.log`));
      await x.stop();
      const ts = tsinetdStarts(conf);
      assert.equal(x.exited, false, `${c.what}: xinetd exited\n${x.log()}`);
      assert.equal(x.started, c.starts, `${c.what}: xinetd\n${x.log()}`);
      assert.equal(ts.started.length, x.started, `${c.what}: tsinetd starts what xinetd starts\n${ts.diagnostics.join('\n')}`);
      if (c.argv !== undefined) assert.deepEqual(ts.started[0]!.server_argv, c.argv);
    }
  });
});

describe('an error in defaults', { skip: noXinetd }, () => {
  test('xinetd exits and tsinetd starts none of the services; a value count it only warns about is not fatal', async (t) => {
    const dir = tempDir(t, 'parity-defaults');
    const port = await freePort();
    const service = block('a', ['type = UNLISTED', `port = ${port}`, ...program('stream')]);
    for (const [i, c] of [
      { body: 'instances = lots', starts: 0 },
      { body: 'instances = 5 6', starts: 1 },
    ].entries()) {
      const conf = join(dir, `case${i}.conf`);
      writeFileSync(conf, `defaults\n{\n\t${c.body}\n}\n${service}`);
      const x = await startXinetd(t, conf, join(dir, `xinetd${i}.log`));
      await x.stop();
      assert.equal(x.exited, c.starts === 0, x.log());
      if (x.exited) assert.match(x.log(), /A fatal error was encountered while parsing the default section/);
      const ts = tsinetdStarts(conf);
      assert.equal(ts.started.length, c.starts, ts.diagnostics.join('\n'));
    }
  });
});

describe('an include cycle', { skip: noXinetd }, () => {
  test('xinetd follows it until it crashes; tsinetd starts none of the services', async (t) => {
    const dir = tempDir(t, 'parity-cycle');
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(conf, `include ${conf}\n${block('a', ['type = UNLISTED', `port = ${await freePort()}`, ...program('stream')])}`);
    const x = await startXinetd(t, conf, join(dir, 'xinetd.log'));
    assert.equal(x.exited, true, x.log());
    assert.equal(x.started, 0);
    const ts = tsinetdStarts(conf);
    assert.equal(ts.started.length, 0, ts.diagnostics.join('\n'));
    assert.ok(
      ts.diagnostics.some((l) => l.startsWith(`${conf}:1:9: error: ${conf} includes itself`)),
      ts.diagnostics.join('\n'),
    );
  });
});

describe('two datagram services on one port', { skip: noXinetd }, () => {
  /** Which service answers a datagram from `host`: 'echo', 'daytime' or 'none' (three tries: xinetd drops one now and then). */
  async function who(port: number, host: string): Promise<string> {
    for (let i = 0; i < 3; i++) {
      const b = await udpRequest(port, 'ping', { host, timeoutMs: 1000 });
      if (b !== null) return b.toString() === 'ping' ? 'echo' : 'daytime';
    }
    return 'none';
  }
  const answers = async (port: number): Promise<{ v4: string; v6: string }> => ({ v4: await who(port, '127.0.0.1'), v6: await who(port, '::1') });
  const layouts: { what: string; make: (port: number) => ServiceDef[] }[] = [
    { what: 'echo then daytime', make: (p) => [internalService('echo', p, 'dgram'), internalService('daytime', p, 'dgram')] },
    { what: 'daytime then echo', make: (p) => [internalService('daytime', p, 'dgram'), internalService('echo', p, 'dgram')] },
    {
      what: 'IPv4-only echo then dual-stack daytime',
      make: (p) => [internalService('echo', p, 'dgram', { flags: 'IPv4' }), internalService('daytime', p, 'dgram')],
    },
    {
      what: 'dual-stack echo then IPv4-only daytime',
      make: (p) => [internalService('echo', p, 'dgram'), internalService('daytime', p, 'dgram', { flags: 'IPv4' })],
    },
  ];
  for (const layout of layouts) {
    test(`${layout.what}: both start, and each datagram gets the answer it gets from xinetd`, async (t) => {
      const dir = tempDir(t, 'parity-udp');
      const xport = await freePort();
      const conf = join(dir, 'xinetd.conf');
      writeFileSync(conf, renderConfig(layout.make(xport), {}));
      const x = await startXinetd(t, conf, join(dir, 'xinetd.log'));
      assert.equal(x.started, 2, x.log());
      const expected = await answers(xport);
      await x.stop();

      const port = await freePort();
      const d = await startDaemon(t, { services: layout.make(port) });
      assert.deepEqual(await answers(port), expected, d.daemonLog());
      assert.notDeepEqual(expected, { v4: 'none', v6: 'none' });
    });
  }
});
