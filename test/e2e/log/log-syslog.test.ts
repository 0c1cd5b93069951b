// Syslog for real: messages go through logger(1) to a unix datagram socket that a python3
// listener reads, and the FAIL lines are checked with fail2ban's own xinetd-fail filter.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEventLog, type EventLogOptions, type XinetdEventLog } from '../../../src/log/log.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { tempDir } from '../../helpers/temp.js';
import { collectDatagrams, syslogUnavailable, unixDgramUnavailable } from '../../helpers/unix-dgram.js';
import { textSink } from '../../helpers/sink.js';

const skip = syslogUnavailable();
const FILTER = '/etc/fail2ban/filter.d/xinetd-fail.conf';
const hasFail2ban = spawnSync('fail2ban-regex', ['--version'], { timeout: 5000 }).status === 0 && existsSync(FILTER);

interface Listener {
  path: string;
  messages: string[];
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A syslog daemon stand-in: every datagram received on `path`, in order. */
async function listen(t: TestContext, path: string): Promise<Listener> {
  return { path, messages: await collectDatagrams(t, path) };
}

function svc(id: string, facility: string, level: string): Service {
  const s = newService(id, 'xinetd', { file: 'test.conf', line: 1 });
  s.log_type = { kind: 'syslog', facility, level };
  s.log_on_success = ['PID', 'HOST', 'EXIT', 'DURATION'];
  s.log_on_failure = ['HOST'];
  return s;
}

function newLog(t: TestContext, opts: Partial<EventLogOptions>): XinetdEventLog {
  const log = createEventLog({ filelog: null, syslog: null, foreground: true, format: 'text', debug: false, daemonPid: 4242, ...opts });
  t.after(() => log.close());
  return log;
}

const p2: Peer = { address: '::ffff:127.0.0.2', port: 1, family: 'IPv6' };
const HEADER = String.raw`[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}`;

test('service and daemon messages reach the syslog socket as xinetd sends them', { skip }, async (t) => {
  const dir = tempDir(t, 'syslog');
  const l = await listen(t, join(dir, 'log.sock'));
  const s = svc('t1', 'local3', 'warning');
  const d = svc('t2', 'daemon', 'info');
  const log = newLog(t, { syslog: 'local5', syslogSocket: l.path });
  log.open([s, d]);
  log.log({ kind: 'daemon', code: 'started-working', level: 'notice', message: 'Started working: 2 available services' });
  log.log({ kind: 'START', service: s, pid: 6061, peer: p2 });
  log.log({ kind: 'FAIL', service: s, reason: 'address', peer: p2 });
  log.log({ kind: 'EXIT', service: s, pid: 6061, status: 0, signal: null, durationSeconds: 0 });
  log.log({ kind: 'START', service: d, pid: 5977, peer: p2 });
  log.log({ kind: 'daemon', code: 'exiting', level: 'warning', message: 'Exiting...' });
  await log.close();
  await waitFor('6 datagrams', () => l.messages.length >= 6);
  const expected = [
    '<173>@ xinetd[4242]: Started working: 2 available services',
    '<156>@ xinetd[4242]: START: t1 pid=6061 from=::ffff:127.0.0.2',
    '<156>@ xinetd[4242]: FAIL: t1 address from=::ffff:127.0.0.2',
    '<156>@ xinetd[4242]: EXIT: t1 status=0 pid=6061 duration=0(sec)',
    '<30>@ xinetd[4242]: START: t2 pid=5977 from=::ffff:127.0.0.2',
    '<172>@ xinetd[4242]: Exiting...',
  ];
  assert.equal(l.messages.length, expected.length);
  for (const [i, m] of l.messages.entries()) assert.equal(m.replace(new RegExp(HEADER), '@'), expected[i]);
});

test('TSINETD_SYSLOG_SOCKET chooses the socket; background daemon messages default to facility daemon', { skip }, async (t) => {
  const dir = tempDir(t, 'syslog');
  const l = await listen(t, join(dir, 'env.sock'));
  const saved = process.env['TSINETD_SYSLOG_SOCKET'];
  process.env['TSINETD_SYSLOG_SOCKET'] = l.path;
  t.after(() => {
    if (saved === undefined) delete process.env['TSINETD_SYSLOG_SOCKET'];
    else process.env['TSINETD_SYSLOG_SOCKET'] = saved;
  });
  const log = newLog(t, { foreground: false, ident: 'tsinetd' });
  log.log({ kind: 'daemon', code: 'reconfiguring', level: 'notice', message: 'hello' });
  log.log({ kind: 'daemon', code: 'bind-failed', level: 'error', message: 'bad' });
  await log.close();
  await waitFor('2 datagrams', () => l.messages.length >= 2);
  assert.match(l.messages[0]!, new RegExp(`^<29>${HEADER} tsinetd\\[4242\\]: hello$`));
  assert.match(l.messages[1]!, new RegExp(`^<27>${HEADER} tsinetd\\[4242\\]: bad$`));
});

test(
  "fail2ban's stock xinetd-fail filter matches our FAIL lines",
  { skip: skip || (!hasFail2ban && 'fail2ban-regex or its xinetd-fail filter is not installed') },
  async (t) => {
    const dir = tempDir(t, 'syslog');
    const l = await listen(t, join(dir, 'f2b.sock'));
    const s = svc('ssh-trap', 'authpriv', 'info');
    const log = newLog(t, { syslogSocket: l.path });
    log.log({ kind: 'FAIL', service: s, reason: 'address', peer: p2 });
    log.log({ kind: 'FAIL', service: s, reason: 'address', peer: { address: '10.1.2.3', port: 2, family: 'IPv4' } });
    log.log({ kind: 'FAIL', service: s, reason: 'address', peer: { address: '2001:db8::7', port: 2, family: 'IPv6' } });
    log.log({ kind: 'FAIL', service: s, reason: 'time', peer: { address: '10.9.9.9', port: 2, family: 'IPv4' } });
    log.log({ kind: 'START', service: s, pid: 12, peer: { address: '10.8.8.8', port: 2, family: 'IPv4' } });
    await log.close();
    await waitFor('5 datagrams', () => l.messages.length >= 5);
    // What a syslog daemon writes to /var/log/auth.log: the datagram without <PRI>, host name added.
    const fileLines = l.messages.map((m) => m.replace(new RegExp(`^<\\d+>(${HEADER}) `), '$1 testhost '));
    const logFile = join(dir, 'auth.log');
    writeFileSync(logFile, fileLines.join('\n') + '\n');
    const r = spawnSync('fail2ban-regex', ['-r', '-o', 'ip', logFile, FILTER], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr);
    const ips = r.stdout.trim().split('\n').sort();
    assert.deepEqual(ips, ['10.1.2.3', '127.0.0.2', '2001:db8::7']);
  },
);

test('no logger(1): one daemon error on stderr, no crash, service lines dropped', { skip: unixDgramUnavailable() }, async (t) => {
  const err = textSink();
  const s = svc('t1', 'daemon', 'info');
  const log = newLog(t, { stderr: err, loggerProgram: '/nonexistent/logger', syslogSocket: '/nonexistent/sock' });
  for (let i = 0; i < 20; i++) {
    log.log({ kind: 'FAIL', service: s, reason: 'address', peer: p2 });
    await new Promise((r) => setTimeout(r, 2));
  }
  await waitFor('the error', () => err.text().includes('cannot run'));
  await log.close();
  const lines = err.text().trimEnd().split('\n');
  assert.equal(lines.filter((x) => x.includes('cannot run /nonexistent/logger(1) for syslog')).length, 1, err.text());
  assert.ok(
    lines.every((x) => /^\d{2}\/\d{1,2}\/\d{1,2}@\d{2}:\d{2}:\d{2}: (ERROR|WARNING): 4242 \{log\} /.test(x)),
    err.text(),
  );
});

test('a missing syslog socket is reported once', { skip }, async (t) => {
  const dir = tempDir(t, 'syslog');
  const err = textSink();
  const s = svc('t1', 'daemon', 'info');
  const log = newLog(t, { stderr: err, syslogSocket: join(dir, 'absent.sock') });
  log.open([s]);
  log.log({ kind: 'FAIL', service: s, reason: 'address', peer: p2 });
  log.log({ kind: 'FAIL', service: s, reason: 'address', peer: p2 });
  await waitFor('the warning', () => err.text().includes('absent.sock'));
  await log.close();
  assert.match(
    err.text(),
    /WARNING: 4242 \{log\} syslog socket .*absent\.sock does not exist: syslog lines are lost until a syslog daemon listens there \[log-lines-lost\]\n$/,
  );
});
