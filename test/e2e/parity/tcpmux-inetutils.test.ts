// TCPMUX side by side with GNU inetutils' inetd (Debian's inetutils-inetd, unpacked under /opt by
// .ci/run, never installed): the same inetd.conf goes to `inetutils-inetd -d` and to tsinetd
// --dialect gnu, each with /etc/services naming tcpmux on a port of the test's (a mount namespace
// of its own), and each client request goes to both, one at a time; the bytes each client gets
// back and how the connection ends must be the same. First with an internal tcpmux line, then
// without one (GNU's inetd adds it, and so does tsinetd). Skipped without the unpacked inetd, or
// without mounts (root).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CLI, renderConfig, TEST_USER } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor, type TcpReply } from '../../helpers/net.js';
import { MUX_LINE, muxExchange } from '../../helpers/tcpmux.js';
import { tempDir } from '../../helpers/temp.js';
import { noMountNamespace, startWithEtc, withEtc } from '../../helpers/xinetd.js';

const GNU_INETD = process.env['TSINETD_INETUTILS_REF'] ?? '/opt/inetutils-inetd-ref/usr/sbin/inetutils-inetd';
const skip = !existsSync(GNU_INETD) ? `${GNU_INETD} is absent (Debian package inetutils-inetd, unpacked by .ci/run)` : noMountNamespace();

const TCPMUX_LINE = `tcpmux\tstream\ttcp\tnowait\troot\tinternal\n`;
const MUX_LINES =
  `tcpmux/+plus\tstream\ttcp\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line\n` +
  `tcpmux/plain\tstream\ttcp\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line answer\n` +
  // GNU takes any protocol starting with tcp, and makes a TCPMUX service nowait.
  `tcpmux/+six\tstream\ttcp6\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line\n` +
  `tcpmux/+waits\tstream\ttcp\twait\t${TEST_USER}\t${MUX_LINE}\tmux-line\n`;

const services = (muxPort: number): string => readFileSync('/etc/services', 'utf8').replace(/^tcpmux\s.*$/m, `tcpmux\t${muxPort}/tcp`);

/** Starts GNU inetutils' inetd in the foreground (-d) on `conf`; resolves once tcpmux listens. */
async function startGnuInetd(t: TestContext, dir: string, conf: string, muxPort: number): Promise<() => string> {
  // -p: its pid file in the test's directory, never the machine's /run/inetd.pid.
  const [cmd, ...args] = withEtc(dir, 'gnu-inetd', { services: services(muxPort) }, [GNU_INETD, '-d', '-p', join(dir, 'gnu-inetd.pid'), conf]);
  const inetd = spawn(cmd ?? 'unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let debug = '';
  inetd.stdout.on('data', (d: Buffer) => (debug += d.toString()));
  inetd.stderr.on('data', (d: Buffer) => (debug += d.toString()));
  t.after(() => {
    inetd.kill('SIGKILL');
  });
  await waitFor(
    () => {
      if (inetd.exitCode !== null) throw new Error(`inetutils-inetd exited: ${debug}`);
      return /^registered internal on \d+$/m.test(debug) ? true : undefined;
    },
    5000,
    `inetutils-inetd to start:\n${debug}`,
  );
  return () => debug;
}

/** Starts tsinetd --dialect gnu on `inetd` (its service log in `dir`); resolves with its daemon log's path. */
async function startOurs(t: TestContext, dir: string, inetd: string, muxPort: number): Promise<string> {
  const xconf = join(dir, 'xinetd.conf');
  writeFileSync(xconf, renderConfig([], { log_type: `FILE ${join(dir, 'services.log')}`, log_on_success: 'PID HOST EXIT', log_on_failure: 'HOST' }));
  const daemonLog = join(dir, 'daemon.log');
  await startWithEtc(
    t,
    dir,
    'tsinetd',
    { services: services(muxPort) },
    [process.execPath, CLI, '-dontfork', '-f', xconf, '--inetd', inetd, '--dialect', 'gnu', '-filelog', daemonLog],
    daemonLog,
  );
  return daemonLog;
}

const shown = (r: TcpReply): string => `${JSON.stringify(r.data.toString('latin1'))} ${r.ended}`;

/** A name sent in two writes 200 ms apart, then a line for the program. */
function splitName(port: number): Promise<string> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let then = false;
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.write('pl');
      setTimeout(() => s.write('us\r\n'), 200);
    });
    s.on('data', (d: Buffer) => {
      got.push(d);
      if (!then) s.write('after a split\n');
      then = true;
    });
    s.on('close', () => resolve(JSON.stringify(Buffer.concat(got).toString('latin1'))));
    s.on('error', () => {});
  });
}

/**
 * The requests: what is sent in one write, what follows the first reply, whether the client ends
 * its side, and whether the reply is closed with bytes unread (a reset, or an end, as it comes).
 */
const REQUESTS: ReadonlyArray<{ send: string; then?: string; end?: boolean; unread?: true }> = [
  { send: 'plus\r\n', then: 'hello\n' },
  { send: 'PLAIN\r\n', then: 'hi\n' },
  { send: 'help\r\n' },
  { send: 'HELP\n' },
  { send: 'nosuch\r\n' },
  { send: 'tcpmux\r\n' },
  { send: '\r\n' },
  // The name ends at CR, LF or NUL; the rest of that read is lost, the program reads what follows.
  { send: 'plus\n', then: 'a\n' },
  { send: 'plus\r', then: 'b\n' },
  { send: 'plus\0x', then: 'c\n' },
  { send: 'plus\r\nlost\n', then: 'd\n' },
  { send: 'six\r\n', then: 'e\n' },
  { send: 'waits\r\n', then: 'f\n' },
  // The client's end ends the name.
  { send: 'plus', end: true },
  // Reads of at most 258 bytes (getline's buffer): a longer name is cut there (unknown, and the
  // bytes left unread make the close a reset); what follows the 258th byte is the program's.
  { send: 'a'.repeat(300), unread: true },
  { send: `plus\r\n${'x'.repeat(252)}kept\n` },
];

/** Runs REQUESTS and a split name against both on `lines`; what each request got (the same from both). */
async function sideBySide(t: TestContext, tag: string, lines: string): Promise<{ daemonLog: string; debug: () => string; got: string[] }> {
  const [theirMux, ourMux] = [await freePort(), await freePort()];
  const dir = tempDir(t, `tcpmux-inetutils-${tag}`);
  const inetd = join(dir, 'inetd.conf');
  writeFileSync(inetd, lines);
  const debug = await startGnuInetd(t, dir, inetd, theirMux);
  const daemonLog = await startOurs(t, dir, inetd, ourMux);
  const got: string[] = [];
  for (const r of REQUESTS) {
    const ask = (port: number): Promise<TcpReply> =>
      r.end === true ? tcpRequest({ port, send: r.send, end: true }) : muxExchange(port, r.send, r.then !== undefined ? { then: r.then } : {});
    const norm = (s: string): string => (r.unread === true ? s.replace(/ ECONNRESET$/, ' eof') : s);
    const theirs = norm(shown(await ask(theirMux)));
    const ours = norm(shown(await ask(ourMux)));
    assert.equal(ours, theirs, JSON.stringify(r.send));
    got.push(theirs);
  }
  assert.equal(await splitName(ourMux), await splitName(theirMux));
  return { daemonLog, debug, got };
}

test('GNU inetutils inetd: its tcpmux and TCPMUX services, byte for byte', { skip }, async (t) => {
  const { debug, got } = await sideBySide(t, 'line', TCPMUX_LINE + MUX_LINES);
  // What the bytes are (the comparison alone would pass if neither served): "+Go" without a NUL,
  // `help` listing the last entry first, FreeBSD's words for an unknown name.
  assert.match(debug(), /ADD : tcpmuxplus:plus proto=tcp,/);
  assert.deepEqual(got.slice(0, 5), [
    `"+Go\\r\\ngot hello as ${TEST_USER}\\n" eof`,
    `"+ready\\r\\ngot hi as ${TEST_USER}\\n" eof`,
    '"waits\\r\\nsix\\r\\nplain\\r\\nplus\\r\\n" eof',
    '"waits\\r\\nsix\\r\\nplain\\r\\nplus\\r\\n" eof',
    '"-Service not available\\r\\n" eof',
  ]);
});

test('GNU inetutils inetd without a tcpmux line adds one, and so does tsinetd', { skip }, async (t) => {
  const { daemonLog, debug } = await sideBySide(t, 'default', MUX_LINES);
  assert.match(debug(), /^inserting default tcpmux entry$/m);
  assert.match(
    readFileSync(daemonLog, 'utf8'),
    /inetd\.conf:1:1: warning: no internal tcpmux entry: GNU inetutils inetd adds one \(port \d+, IPv4 and IPv6, as root\), and so does tsinetd/,
  );
});
