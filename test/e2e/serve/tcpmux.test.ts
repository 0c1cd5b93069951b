// The internal tcpmux service (RFC 1078) of a real tsinetd over loopback: TCPMUX and TCPMUXPLUS
// services started on the connection, what an unknown name, `help` and a malformed line get,
// the TCPMUX service's own only_from (a client bound to 127.0.0.2), tcpmux's own, a reload,
// and the lines logged. The bytes are real xinetd's (test/e2e/parity/tcpmux-xinetd.test.ts
// compares the two side by side). Then a FreeBSD inetd.conf's tcpmux (`tcpmux/+NAME` lines),
// with /etc/services naming tcpmux on a port of the test's in a mount namespace of its own:
// FreeBSD's `help`, its replies, and its reading up to CR or LF.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, renderConfig, startDaemon, TEST_USER, type RunningDaemon } from '../../helpers/daemon.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { MUX_LINE, muxExchange, muxLineService, tcpmuxService } from '../../helpers/tcpmux.js';
import { tempDir } from '../../helpers/temp.js';
import { noMountNamespace, startWithEtc } from '../../helpers/xinetd.js';

const ACK = '+Go\r\n\0';
const NOT_FOUND = '-Service name not found\r\n\0';

/** The service log's lines without their time stamps. */
const lines = (d: RunningDaemon): string[] =>
  d
    .serviceLog()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/^\S+: /, '').replace(/duration=\d+\(sec\)/, 'duration=D'));

/** Waits until the service log has `n` EXIT or FAIL lines. */
const logged = (d: RunningDaemon, n: number): Promise<boolean> =>
  waitFor(() => (lines(d).filter((l) => /^(EXIT|FAIL): /.test(l)).length >= n ? true : undefined), 5000, `${n} EXIT/FAIL lines:\n${d.serviceLog()}`);

describe('the internal tcpmux service', () => {
  test('TCPMUXPLUS, TCPMUX, unknown names, help, malformed lines, a refused client; logged under tcpmux', async (t) => {
    const port = await freePort();
    const services = [
      tcpmuxService(port),
      muxLineService('plus', 'TCPMUXPLUS'),
      muxLineService('plain', 'TCPMUX'),
      muxLineService('closed', 'TCPMUXPLUS', { only_from: '127.0.0.1' }),
    ];
    const d = await startDaemon(t, { services });
    // The TCPMUX services have no socket: one service listens (as xinetd counts them).
    await d.waitForDaemonLog(/Started working: 1 available services?$/);
    let n = 0;

    await t.test('TCPMUXPLUS: "+Go" from the daemon, then the program has the connection and what follows', async () => {
      const r = await muxExchange(port, 'plus\r\n', { then: 'hello\n' });
      assert.deepEqual([r.data.toString('latin1'), r.ended], [`${ACK}got hello as ${TEST_USER}\n`, 'eof']);
      await logged(d, ++n);
      const [start, exit] = lines(d).slice(-2);
      const pid = /^START: tcpmux pid=(\d+) from=::ffff:127\.0\.0\.1$/.exec(start ?? '')?.[1];
      assert.ok(pid !== undefined && Number(pid) > 0, start);
      assert.equal(exit, `EXIT: tcpmux status=3 pid=${pid} duration=D`);
    });

    await t.test('TCPMUX, named in another case: no reply from the daemon, the program answers itself', async () => {
      const r = await muxExchange(port, 'PLAIN\r\n', { then: 'hi there\n' });
      assert.deepEqual([r.data.toString('latin1'), r.ended], [`+ready\r\ngot hi there as ${TEST_USER}\n`, 'eof']);
      await logged(d, ++n);
      assert.match(lines(d).at(-1) ?? '', /^EXIT: tcpmux status=3 pid=[1-9]\d* duration=D$/);
    });

    await t.test('unknown names, help and tcpmux itself: "-Service name not found", then close', async () => {
      for (const name of ['nosuch', 'help', 'HELP', 'tcpmux']) {
        const r = await muxExchange(port, `${name}\r\n`);
        assert.deepEqual([r.data.toString('latin1'), r.ended], [NOT_FOUND, 'eof'], name);
        await logged(d, ++n);
        assert.deepEqual(lines(d).slice(-2), ['START: tcpmux pid=0 from=::ffff:127.0.0.1', 'EXIT: tcpmux status=0 pid=0 duration=D']);
      }
    });

    await t.test('not a CR LF line in one read: closed without a word', async () => {
      for (const bad of ['plus\n', 'plus\r\nmore', '\r\n']) {
        const r = await muxExchange(port, bad);
        assert.deepEqual([r.data.toString('latin1'), r.ended], ['', 'eof'], JSON.stringify(bad));
        await logged(d, ++n);
      }
      // Closing before a name: xinetd's "read failed".
      const s = net.connect({ port, host: '127.0.0.1' });
      await new Promise((resolve) => s.once('connect', resolve));
      s.end();
      await d.waitForDaemonLog(/ERROR: read failed$/);
      await logged(d, ++n);
    });

    await t.test("the TCPMUX service's only_from: a client from 127.0.0.2 gets nothing, not even +Go", async () => {
      const refused = await muxExchange(port, 'closed\r\n', { localAddress: '127.0.0.2', then: 'x\n' });
      assert.deepEqual([refused.data.toString('latin1'), refused.ended], ['', 'eof']);
      await logged(d, ++n);
      assert.deepEqual(lines(d).slice(-2), ['START: tcpmux pid=0 from=::ffff:127.0.0.2', 'EXIT: tcpmux status=0 pid=0 duration=D']);
      assert.doesNotMatch(d.serviceLog(), /FAIL/, 'xinetd writes no FAIL line for it');
      await d.waitForDaemonLog(/INFO: tcpmux from ::ffff:127\.0\.0\.2: service closed refused it \(address: .*\); closed without a reply \[tcpmux-request\]$/);
      const allowed = await muxExchange(port, 'closed\r\n', { then: 'y\n' });
      assert.equal(allowed.data.toString('latin1'), `${ACK}got y as ${TEST_USER}\n`);
      await logged(d, ++n);
    });

    await t.test("a reload: a TCPMUX service removed is not found any more; tcpmux's own only_from refuses with FAIL", async () => {
      d.rewrite([tcpmuxService(port, { only_from: '127.0.0.1' }), muxLineService('plus', 'TCPMUXPLUS')]);
      d.signal('SIGHUP');
      await d.waitForDaemonLog(/Reconfigured/);
      const r = await muxExchange(port, 'plain\r\n');
      assert.equal(r.data.toString('latin1'), NOT_FOUND);
      await logged(d, ++n);
      const refused = await muxExchange(port, 'plus\r\n', { localAddress: '127.0.0.2' });
      // Closed with the request unread: a reset, or an end.
      assert.equal(refused.data.toString('latin1'), '');
      assert.notEqual(refused.ended, 'timeout');
      await logged(d, ++n);
      assert.equal(lines(d).at(-1), 'FAIL: tcpmux address from=::ffff:127.0.0.2');
    });
  });
});

describe("a FreeBSD inetd.conf's tcpmux", () => {
  test("help, tcpmux/+NAME and tcpmux/NAME, an unknown name: FreeBSD inetd's bytes", { skip: noMountNamespace() }, async (t) => {
    const port = await freePort();
    const dir = tempDir(t, 'tcpmux-freebsd');
    const inetd = join(dir, 'inetd.conf');
    writeFileSync(
      inetd,
      `tcpmux\tstream\ttcp\tnowait\troot\tinternal\n` +
        `tcpmux/+plus\tstream\ttcp\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line\n` +
        `tcpmux/plain\tstream\ttcp\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line answer\n`,
    );
    const log = join(dir, 'services.log');
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(conf, renderConfig([], { log_type: `FILE ${log}`, log_on_success: 'PID HOST EXIT DURATION', log_on_failure: 'HOST' }));
    const services = readFileSync('/etc/services', 'utf8').replace(/^tcpmux\s.*$/m, `tcpmux\t${port}/tcp`);
    const daemonLog = join(dir, 'daemon.log');
    await startWithEtc(
      t,
      dir,
      'tsinetd',
      { services },
      [process.execPath, CLI, '-dontfork', '-f', conf, '--inetd', inetd, '--dialect', 'freebsd', '-filelog', daemonLog],
      daemonLog,
    );
    const exchange = async (request: string, then?: string): Promise<string> => {
      const r = await muxExchange(port, request, then !== undefined ? { then } : {});
      return `${JSON.stringify(r.data.toString('latin1'))} ${r.ended}`;
    };
    // The last entry first, as FreeBSD keeps its table.
    assert.equal(await exchange('HELP\r\n'), '"plain\\r\\nplus\\r\\n" eof');
    // FreeBSD reads up to a LF too; +Go without a NUL.
    assert.equal(await exchange('plus\n', 'hello\n'), `"+Go\\r\\ngot hello as ${TEST_USER}\\n" eof`);
    assert.equal(await exchange('Plain\r\n', 'hi\n'), `"+ready\\r\\ngot hi as ${TEST_USER}\\n" eof`);
    assert.equal(await exchange('nosuch\r\n'), '"-Service not available\\r\\n" eof');
    // A name in two segments is read whole.
    const split = await new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.write('no');
        setTimeout(() => s.write('such\r\n'), 200);
      });
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
      s.on('error', () => {});
    });
    assert.equal(split, '-Service not available\r\n');
    const lines = (): string[] =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => /: (START|EXIT): /.test(l))
        : [];
    await waitFor(() => (lines().length >= 10 ? true : undefined), 5000, `ten service lines:\n${lines().join('\n')}`);
    assert.match(lines().join('\n'), /START: tcpmux pid=[1-9]\d* from=127\.0\.0\.1\n.*EXIT: tcpmux status=3 pid=[1-9]\d* duration=\d+\(sec\)/);
  });
});
