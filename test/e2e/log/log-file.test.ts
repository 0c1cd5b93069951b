// Log FILEs for real: lines written through winston and read back, shared files, size limits,
// files that cannot be written, rotation, and JSON lines.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventLog, type EventLogOptions, type XinetdEventLog } from '../../../src/log/log.js';
import { FileTransport } from '../../../src/log/log-transports.js';
import type { DaemonLevel } from '../../../src/log/log-types.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import type { LogTarget, Service } from '../../../src/table.js';
import { textSink } from '../../helpers/sink.js';

const openLogs = new WeakMap<TestContext, Array<{ close(): Promise<void> }>>();

/** A temporary directory, removed after the test once every log opened with newLog is closed. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-log-'));
  const logs: Array<{ close(): Promise<void> }> = [];
  openLogs.set(t, logs);
  t.after(async () => {
    await Promise.all(logs.map((l) => l.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** createEventLog, closed after the test even when it fails. */
function newLog(t: TestContext, opts: EventLogOptions): XinetdEventLog {
  const log = createEventLog(opts);
  const logs = openLogs.get(t);
  if (logs !== undefined) logs.push(log);
  else t.after(() => log.close());
  return log;
}

function svc(id: string, target: LogTarget | null, success = ['PID', 'HOST', 'EXIT', 'DURATION'], failure = ['HOST']): Service {
  const s = newService(id, 'xinetd', { file: 'test.conf', line: 1 });
  s.log_type = target;
  s.log_on_success = success;
  s.log_on_failure = failure;
  return s;
}

const file = (path: string, soft: number | null = null, hard: number | null = null): LogTarget => ({ kind: 'file', path, soft, hard });
const peer: Peer = { address: '::ffff:127.0.0.2', port: 5555, family: 'IPv6' };
const fixed = new Date(2005, 2, 4, 5, 6, 7);
const TS = '05/3/4@05:06:07';

function options(over: Partial<EventLogOptions>): EventLogOptions {
  return { filelog: null, syslog: null, foreground: true, format: 'text', debug: false, daemonPid: 4242, now: () => fixed, ...over };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const read = (p: string): string => readFileSync(p, 'utf8');

test('service lines land in the FILE exactly as xinetd writes them; daemon lines in -filelog', async (t) => {
  const dir = tempDir(t);
  const svcLog = join(dir, 'svc.log');
  const daemonLog = join(dir, 'daemon.log');
  const s = svc('t1', file(svcLog));
  const log = newLog(t, options({ filelog: daemonLog }));
  log.open([s]);
  log.log({ kind: 'daemon', code: 'started-working', level: 'notice', message: 'Started working: 1 available service', func: 'main' });
  log.log({ kind: 'START', service: s, pid: 4888, peer });
  log.log({ kind: 'FAIL', service: s, reason: 'address', peer });
  log.log({ kind: 'EXIT', service: s, pid: 4888, status: 0, signal: null, durationSeconds: 0 });
  log.log({ kind: 'daemon', code: 'listening', level: 'debug', message: 'not shown without -d' });
  await log.close();
  assert.equal(
    read(svcLog),
    `${TS}: START: t1 pid=4888 from=::ffff:127.0.0.2\n` +
      `${TS}: FAIL: t1 address from=::ffff:127.0.0.2\n` +
      `${TS}: EXIT: t1 status=0 pid=4888 duration=0(sec)\n`,
  );
  assert.equal(read(daemonLog), `${TS} xinetd[4242]: NOTICE: Started working: 1 available service\n`);
  assert.equal(statSync(svcLog).mode & 0o777, 0o644);
});

test('open() creates every service file at start-up, like xinetd; services without log_type log nothing', async (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a.log');
  const quiet = svc('quiet', file(join(dir, 'quiet.log')), [], []);
  const none = svc('none', null);
  const err = textSink();
  const log = newLog(t, options({ stderr: err }));
  log.open([svc('a', file(a)), quiet, none]);
  await waitFor('files to be created', () => existsSync(a) && existsSync(join(dir, 'quiet.log')));
  log.log({ kind: 'START', service: none, pid: 1, peer });
  log.log({ kind: 'START', service: quiet, pid: 1, peer });
  await log.close();
  assert.equal(read(join(dir, 'quiet.log')), '');
  assert.equal(err.text(), '');
});

test('services sharing one path share one stream and keep their order', async (t) => {
  const dir = tempDir(t);
  const common = join(dir, 'common.log');
  const a = svc('a', file(common));
  const b = svc('b', file(join(dir, '.', 'common.log')));
  const log = newLog(t, options({}));
  log.open([a, b]);
  for (let i = 0; i < 200; i++) log.log({ kind: 'START', service: i % 2 === 0 ? a : b, pid: i, peer: null });
  await log.close();
  const lines = read(common).trimEnd().split('\n');
  assert.equal(lines.length, 200);
  lines.forEach((l, i) => assert.equal(l, `${TS}: START: ${i % 2 === 0 ? 'a' : 'b'} pid=${i}`));
});

test('close() flushes everything; log() does not wait for the disk', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'big.log');
  const s = svc('big', file(p));
  const log = newLog(t, options({}));
  const started = process.hrtime.bigint();
  for (let i = 0; i < 20000; i++) log.log({ kind: 'START', service: s, pid: i, peer });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await log.close();
  const lines = read(p)
    .split('\n')
    .filter((l) => l !== '');
  assert.equal(lines.length, 20000);
  assert.equal(lines[19999], `${TS}: START: big pid=19999 from=::ffff:127.0.0.2`);
  // Generous bound: 20000 lines are queued in memory, not written synchronously one by one.
  assert.ok(ms < 3000, `logging 20000 lines took ${ms} ms`);
  log.log({ kind: 'START', service: s, pid: 1, peer }); // after close: ignored, no throw
});

test('soft limit: one message; hard limit: one message and no more lines (as xinetd)', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'lim.log');
  const daemonLog = join(dir, 'daemon.log');
  const s = svc('t1', file(p, 300, 500));
  const log = newLog(t, options({ filelog: daemonLog }));
  log.open([s]);
  await waitFor('log file', () => existsSync(p));
  await new Promise((r) => setTimeout(r, 50)); // let the size be read
  const line = `${TS}: START: t1 pid=1000 from=::ffff:127.0.0.2\n`; // 53 bytes
  for (let i = 0; i < 30; i++) log.log({ kind: 'START', service: s, pid: 1000, peer });
  await log.close();
  const size = statSync(p).size;
  // The line that crosses the hard limit is still written, nothing after it.
  assert.equal(size, Math.ceil(501 / line.length) * line.length);
  assert.equal(
    read(daemonLog),
    `${TS} xinetd[4242]: WARNING: Size of t1 log exceeded soft limit\n` + `${TS} xinetd[4242]: ERROR: Size of t1 log exceeded hard limit\n`,
  );
});

test('limits count the bytes already in the file; reopen (SIGHUP after rotation) starts afresh', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'rot.log');
  writeFileSync(p, 'x'.repeat(600));
  const err = textSink();
  const s = svc('r', file(p, 100, 700));
  const log = newLog(t, options({ stderr: err }));
  log.open([s]);
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 5; i++) log.log({ kind: 'START', service: s, pid: i, peer: null });
  await waitFor('hard limit message', () => err.text().includes('exceeded hard limit'));
  assert.match(err.text(), /WARNING: 4242 \{log\} Size of r log exceeded soft limit/);
  renameSync(p, p + '.1');
  await log.reopen();
  log.log({ kind: 'START', service: s, pid: 77, peer: null });
  await log.close();
  assert.equal(read(p), `${TS}: START: r pid=77\n`);
  assert.ok(read(p + '.1').startsWith('x'.repeat(600) + `${TS}: START: r pid=0\n`));
});

test('a FILE that cannot be opened: one daemon error, the daemon and other services go on', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'plain'), '');
  const bad = svc('bad', file(join(dir, 'plain', 'sub.log'))); // parent is a file: ENOTDIR
  const good = svc('good', file(join(dir, 'good.log')));
  const err = textSink();
  const log = newLog(t, options({ stderr: err }));
  log.open([bad, good]);
  for (let i = 0; i < 50; i++) {
    log.log({ kind: 'START', service: bad, pid: i, peer });
    log.log({ kind: 'START', service: good, pid: i, peer });
    await new Promise((r) => setImmediate(r));
  }
  await waitFor('the error message', () => err.text().includes('cannot write log file'));
  await log.close();
  const errors = err
    .text()
    .split('\n')
    .filter((l) => l.includes('cannot write log file'));
  assert.equal(errors.length, 1, err.text());
  assert.match(errors[0]!, /^05\/3\/4@05:06:07: ERROR: 4242 \{log\} cannot write log file .*plain\/sub\.log: ENOTDIR/);
  assert.equal(read(join(dir, 'good.log')).split('\n').length, 51);
});

test('a full disk (/dev/full): one daemon error for many lost lines, no crash', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const dir = tempDir(t);
  const daemonLog = join(dir, 'daemon.log');
  const s = svc('full', file('/dev/full'));
  const log = newLog(t, options({ filelog: daemonLog }));
  for (let i = 0; i < 100; i++) {
    log.log({ kind: 'START', service: s, pid: i, peer });
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor('the error line', () => existsSync(daemonLog) && read(daemonLog).includes('ENOSPC'));
  await log.close();
  const lines = read(daemonLog).trimEnd().split('\n');
  assert.equal(lines.length, 1, read(daemonLog));
  assert.match(lines[0]!, /^05\/3\/4@05:06:07 xinetd\[4242\]: ERROR: cannot write log file \/dev\/full: ENOSPC/);
});

test('when -filelog itself fails, the complaint goes to stderr', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'plain'), '');
  const err = textSink();
  const log = newLog(t, options({ filelog: join(dir, 'plain', 'daemon.log'), stderr: err }));
  log.log({ kind: 'daemon', code: 'reconfiguring', level: 'notice', message: 'hello' });
  await waitFor('stderr complaint', () => err.text().includes('cannot write log file'));
  await log.close();
  assert.match(err.text(), /ERROR: 4242 \{log\} cannot write log file .*daemon\.log: ENOTDIR/);
});

test('a failed file is retried and reports how many lines were lost', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'later', 'x.log');
  const problems: Array<[string, DaemonLevel, string]> = [];
  let clock = 0;
  const tr = new FileTransport({ path: p, soft: null, hard: null, retryMs: 1000, nowMs: () => clock, onProblem: (c, l, m) => problems.push([c, l, m]) });
  tr.writeLine('one\n');
  await waitFor('open failure', () => problems.length === 1);
  assert.deepEqual(problems[0]!.slice(0, 2), ['log-lines-lost', 'error']);
  tr.writeLine('two\n');
  tr.writeLine('three\n');
  mkdirSync(join(dir, 'later'));
  clock = 1500;
  tr.writeLine('four\n');
  await waitFor('recovery notice', () => problems.length === 2);
  assert.deepEqual(problems[1], ['log-lines-lost', 'notice', `log file ${p} is writable again; 2 lines lost`]);
  await new Promise<void>((r) => tr.end(r));
  assert.equal(read(p), 'four\n');
});

test('FILE /dev/stderr writes through the process stream (works when fd 2 is a socket)', async (t) => {
  const err = textSink();
  const out = textSink();
  const s = svc('std', file('/dev/stderr'));
  const o = svc('out', file('/dev/stdout'));
  const log = newLog(t, options({ stderr: err, stdout: out }));
  log.log({ kind: 'START', service: s, pid: 1, peer });
  log.log({ kind: 'START', service: o, pid: 2, peer: null });
  log.log({ kind: 'daemon', code: 'readiness', level: 'warning', message: 'careful', func: 'main' });
  await log.close();
  // A message in tsinetd's own words ends with its code.
  assert.equal(err.text(), `${TS}: START: std pid=1 from=::ffff:127.0.0.2\n${TS}: WARNING: 4242 {main} careful [readiness]\n`);
  assert.equal(out.text(), `${TS}: START: out pid=2\n`);
});

test('-d: every daemon message, debug ones too, goes to stderr only', async (t) => {
  const dir = tempDir(t);
  const err = textSink();
  const daemonLog = join(dir, 'd.log');
  const log = newLog(t, options({ debug: true, filelog: daemonLog, stderr: err }));
  log.log({ kind: 'daemon', code: 'listening', level: 'debug', message: 'active_services = 2', func: 'main_loop' });
  log.log({ kind: 'daemon', code: 'started-working', level: 'notice', message: 'Started working: 2 available services' });
  await log.close();
  assert.equal(
    err.text(),
    `${TS}: DEBUG: 4242 {main_loop} active_services = 2 [listening]\n${TS}: NOTICE: 4242 {main} Started working: 2 available services\n`,
  );
  assert.equal(existsSync(daemonLog), false);
});

test('--log-format json: one parseable object per line, in files and on stderr', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'j.log');
  const err = textSink();
  const s = svc('j', file(p));
  const log = newLog(t, options({ format: 'json', stderr: err }));
  log.log({ kind: 'START', service: s, pid: 12, peer });
  log.log({ kind: 'EXIT', service: s, pid: 12, status: 3, signal: null, durationSeconds: 4 });
  log.log({ kind: 'daemon', code: 'internal-error', level: 'error', message: 'oops', func: 'f' });
  await log.close();
  const objs = read(p)
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(objs, [
    { time: fixed.toISOString(), event: 'START', service: 'j', pid: 12, from: '::ffff:127.0.0.2' },
    { time: fixed.toISOString(), event: 'EXIT', service: 'j', status: 3, pid: 12, duration: 4 },
  ]);
  assert.deepEqual(JSON.parse(err.text()), {
    time: fixed.toISOString(),
    event: 'daemon',
    level: 'error',
    code: 'internal-error',
    pid: 4242,
    func: 'f',
    message: 'oops',
  });
});

test('open() on reload closes files no service uses any more', async (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a.log');
  const b = join(dir, 'b.log');
  const sa = svc('a', file(a));
  const sb = svc('b', file(b));
  const log = newLog(t, options({}));
  log.open([sa, sb]);
  log.log({ kind: 'START', service: sb, pid: 1, peer: null });
  log.open([sa]);
  await waitFor('b flushed', () => existsSync(b) && read(b) !== '');
  // A late EXIT of a removed service still gets written (the file is reopened on demand).
  log.log({ kind: 'EXIT', service: sb, pid: 1, status: 0, signal: null, durationSeconds: 0 });
  await log.close();
  assert.equal(read(b), `${TS}: START: b pid=1\n${TS}: EXIT: b status=0 pid=1 duration=0(sec)\n`);
});

test('a file that cannot keep up: lines beyond the backlog cap are dropped and counted', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'slow.log');
  const problems: Array<[string, DaemonLevel, string]> = [];
  const tr = new FileTransport({ path: p, soft: null, hard: null, maxBacklog: 1000, onProblem: (c, l, m) => problems.push([c, l, m]) });
  let ended = false;
  t.after(() => (ended ? undefined : new Promise<void>((r) => tr.end(r))));
  const line = 'y'.repeat(99) + '\n';
  for (let i = 0; i < 50; i++) tr.writeLine(line);
  await waitFor('drop report', () => problems.length === 2);
  // 11 lines fit under the 1000-byte cap (the check is made before each write); 39 were dropped.
  assert.deepEqual(problems, [
    ['log-lines-lost', 'warning', `log file ${p} cannot keep up; lines are dropped until it catches up`],
    ['log-lines-lost', 'warning', `log file ${p} was too slow: 39 lines dropped`],
  ]);
  ended = true;
  await new Promise<void>((r) => tr.end(r));
  assert.equal(statSync(p).size, 11 * line.length);
});
