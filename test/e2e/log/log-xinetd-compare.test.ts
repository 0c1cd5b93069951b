// Side by side with the real xinetd (optional: skipped when it is not unpacked on this machine).
// xinetd serves two services on loopback while clients connect from 127.0.0.1 and 127.0.0.2;
// the same events are then written through our EventLog, and the two log files must be equal
// once timestamps are masked. Set TSINETD_XINETD_REF to use another xinetd binary.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createEventLog } from '../../../src/log/log.js';
import type { LogEvent } from '../../../src/log/log-types.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { freePort } from '../../helpers/net.js';

const XINETD = process.env['TSINETD_XINETD_REF'] ?? '/opt/xinetd-ref/usr/sbin/xinetd';
const skip = existsSync(XINETD) ? false : `real xinetd not found at ${XINETD} (set TSINETD_XINETD_REF)`;

const STAMP = /^\d{2}\/\d{1,2}\/\d{1,2}@\d{2}:\d{2}:\d{2}/;

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Connects from `local` and reads until the server closes (or 5 s pass). */
function session(local: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no end of session from ${local}`));
    }, 5000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    sock.resume();
    sock.connect({ host: '127.0.0.1', port, localAddress: local });
  });
}

const lines = (p: string): string[] =>
  existsSync(p)
    ? readFileSync(p, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

function startXinetd(t: TestContext, conf: string, daemonLog: string): void {
  const child = spawn(XINETD, ['-dontfork', '-f', conf, '-filelog', daemonLog], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGTERM');
  });
}

test('our FILE lines equal real xinetd lines for the same events', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-xref-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [p1, p2] = [await freePort(), await freePort()];
  const user = userInfo().username;
  const realLog = join(dir, 'xinetd.log');
  const daemonLog = join(dir, 'daemon.log');
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(
    conf,
    `service full
{
  type = UNLISTED
  port = ${p1}
  socket_type = stream
  wait = no
  user = ${user}
  server = /bin/echo
  server_args = hello
  log_type = FILE ${realLog}
  log_on_success = PID HOST EXIT DURATION
  log_on_failure = HOST
  only_from = 127.0.0.1
}
service terse
{
  type = UNLISTED
  port = ${p2}
  socket_type = stream
  wait = no
  user = ${user}
  server = /bin/echo
  log_type = FILE ${realLog}
  log_on_success = EXIT
  log_on_failure = ATTEMPT
  no_access = 127.0.0.2
}
`,
  );
  startXinetd(t, conf, daemonLog);
  await waitFor('xinetd to start', () => lines(daemonLog).some((l) => l.includes('Started working')));
  for (const [from, port] of [
    ['127.0.0.1', p1],
    ['127.0.0.2', p1],
    ['127.0.0.1', p2],
    ['127.0.0.2', p2],
  ] as const) {
    const before = lines(realLog).length;
    await session(from, port);
    // An accepted client gives START + EXIT, a refused one START + FAIL + EXIT (xinetd forks first).
    await waitFor('xinetd log lines', () => lines(realLog).length >= before + (from === '127.0.0.1' ? 2 : 3));
  }
  // xinetd writes START in the parent and FAIL in the forked child, so under load the child's
  // FAIL line can land first; the order within one session is not part of the format.
  const kindRank = (l: string): number => ['START:', 'FAIL:', 'EXIT:'].findIndex((k) => l.includes(` ${k} `));
  const raw = lines(realLog);
  const real: string[] = [];
  for (const size of [2, 3, 2, 3]) real.push(...raw.splice(0, size).sort((a, b) => kindRank(a) - kindRank(b)));
  real.push(...raw);
  assert.equal(real.length, 10, real.join('\n'));
  for (const l of real) assert.match(l, STAMP);

  // The same events through our EventLog; pids and durations are taken from xinetd's lines.
  const mk = (id: string, success: string[], failure: string[]): Service => {
    const s = newService(id, 'xinetd', { file: conf, line: 1 });
    s.log_type = { kind: 'file', path: join(dir, 'ours.log'), soft: null, hard: null };
    s.log_on_success = success;
    s.log_on_failure = failure;
    return s;
  };
  const full = mk('full', ['PID', 'HOST', 'EXIT', 'DURATION'], ['HOST']);
  const terse = mk('terse', ['EXIT'], ['ATTEMPT']);
  const num = (line: string, key: string): number => Number(new RegExp(` ${key}=(\\d+)`).exec(line)?.[1] ?? 0);
  const peer = (a: string) => ({ address: `::ffff:${a}`, port: 1, family: 'IPv6' as const });
  const events: LogEvent[] = [];
  const script: Array<[Service, string, boolean]> = [
    [full, '127.0.0.1', true],
    [full, '127.0.0.2', false],
    [terse, '127.0.0.1', true],
    [terse, '127.0.0.2', false],
  ];
  let i = 0;
  for (const [s, from, allowed] of script) {
    const pid = num(real[i]!, 'pid');
    events.push({ kind: 'START', service: s, pid, peer: peer(from) });
    if (!allowed) events.push({ kind: 'FAIL', service: s, reason: 'address', peer: peer(from) });
    const exitLine = real[i + (allowed ? 1 : 2)]!;
    events.push({ kind: 'EXIT', service: s, pid, status: num(exitLine, 'status'), signal: null, durationSeconds: num(exitLine, 'duration') });
    i += allowed ? 2 : 3;
  }
  const ourDaemon = join(dir, 'our-daemon.log');
  const log = createEventLog({ filelog: ourDaemon, syslog: null, foreground: true, format: 'text', debug: false, daemonPid: 777 });
  for (const e of events) log.log(e);
  log.log({ kind: 'daemon', code: 'started-working', level: 'notice', message: 'Started working: 2 available services' });
  await log.close();

  const mask = (l: string): string => l.replace(STAMP, 'TIME');
  assert.deepEqual(lines(join(dir, 'ours.log')).map(mask), real.map(mask));
  const realStarted = lines(daemonLog).find((l) => l.includes('Started working'))!;
  assert.equal(mask(lines(ourDaemon)[0]!), mask(realStarted).replace(/\[\d+\]/, '[777]'));
});
