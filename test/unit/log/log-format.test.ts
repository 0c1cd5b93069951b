// Line shapes of the service and daemon logs, checked against lines real xinetd 2.3.15.3 wrote
// (measured on loopback) and against the formats in xinetd.log(5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  defaultHardLimit,
  formatDaemon,
  formatExit,
  formatFail,
  formatJson,
  formatServiceLine,
  formatStart,
  formatTraffic,
  formatUserid,
  sanitize,
  serviceBody,
  suppressedEvent,
  syslogPriority,
  xinetdTimestamp,
  type ServiceEvent,
} from '../../../src/log/log-format.js';
import { daemonMessage, MESSAGE_CODES, shownCode, type MessageCode } from '../../../src/message-codes.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';

function svc(id: string, success: string[], failure: string[]): Service {
  const s = newService(id, 'xinetd', { file: 'test.conf', line: 1 });
  s.log_on_success = success;
  s.log_on_failure = failure;
  s.log_type = { kind: 'file', path: '/tmp/unused.log', soft: null, hard: null };
  return s;
}

const mapped2: Peer = { address: '::ffff:127.0.0.2', port: 40000, family: 'IPv6' };
const mapped1: Peer = { address: '::ffff:127.0.0.1', port: 40001, family: 'IPv6' };
// Local-time constructor: the stamp is local time, like xinetd's, whatever TZ the tests run in.
const at = new Date(2005, 2, 4, 5, 6, 7);
const TS = '05/3/4@05:06:07';

test('timestamp: two-digit year, month and day unpadded, time padded', () => {
  assert.equal(xinetdTimestamp(new Date(2005, 2, 4, 5, 6, 7)), '05/3/4@05:06:07');
  assert.equal(xinetdTimestamp(new Date(2026, 10, 24, 15, 47, 20)), '26/11/24@15:47:20');
  assert.equal(xinetdTimestamp(new Date(2000, 0, 1, 0, 0, 0)), '00/1/1@00:00:00');
  assert.equal(xinetdTimestamp(new Date(2099, 11, 31, 23, 59, 59)), '99/12/31@23:59:59');
});

test('lines measured from real xinetd are reproduced byte for byte', () => {
  const t1 = svc('t1', ['PID', 'HOST', 'EXIT', 'DURATION'], ['HOST']);
  assert.equal(formatStart({ kind: 'START', service: t1, pid: 5448, peer: mapped1 }, at), `${TS}: START: t1 pid=5448 from=::ffff:127.0.0.1`);
  assert.equal(
    formatExit({ kind: 'EXIT', service: t1, pid: 5448, status: 0, signal: null, durationSeconds: 0.2 }, at),
    `${TS}: EXIT: t1 status=0 pid=5448 duration=0(sec)`,
  );
  assert.equal(formatFail({ kind: 'FAIL', service: t1, reason: 'address', peer: mapped2 }, at), `${TS}: FAIL: t1 address from=::ffff:127.0.0.2`);
  assert.equal(
    formatStart({ kind: 'START', service: t1, pid: 5162, peer: { address: '::1', port: 1, family: 'IPv6' } }, at),
    `${TS}: START: t1 pid=5162 from=::1`,
  );

  // log_on_success = EXIT, log_on_failure = ATTEMPT
  const t3 = svc('t3', ['EXIT'], ['ATTEMPT']);
  assert.equal(formatStart({ kind: 'START', service: t3, pid: 1, peer: mapped1 }, at), `${TS}: START: t3`);
  assert.equal(formatExit({ kind: 'EXIT', service: t3, pid: 1, status: 2, signal: null, durationSeconds: 0 }, at), `${TS}: EXIT: t3 status=2`);
  assert.equal(formatFail({ kind: 'FAIL', service: t3, reason: 'address', peer: mapped2 }, at), `${TS}: FAIL: t3 address`);

  // A redirect with TRAFFIC; a HOST-only service; an internal service (no process: pid=0).
  const r1 = svc('r1', ['PID', 'HOST', 'EXIT', 'DURATION', 'TRAFFIC', 'USERID'], ['HOST', 'USERID', 'ATTEMPT']);
  assert.equal(formatTraffic({ kind: 'TRAFFIC', service: r1, inBytes: 0, outBytes: 6 }, at), `${TS}: TRAFFIC: r1 in=0(bytes) out=6(bytes)`);
  const r2 = svc('r2', ['HOST'], []);
  assert.equal(formatStart({ kind: 'START', service: r2, pid: 7, peer: mapped1 }, at), `${TS}: START: r2 from=::ffff:127.0.0.1`);
  const daytime = svc('daytime', ['PID', 'HOST', 'EXIT', 'DURATION'], ['HOST']);
  assert.equal(formatStart({ kind: 'START', service: daytime, pid: null, peer: mapped1 }, at), `${TS}: START: daytime pid=0 from=::ffff:127.0.0.1`);
});

test('which lines are written follows xinetd: empty lists log nothing, EXIT needs EXIT or DURATION', () => {
  const none = svc('n', [], []);
  assert.equal(formatStart({ kind: 'START', service: none, pid: 1, peer: mapped1 }, at), null);
  assert.equal(formatExit({ kind: 'EXIT', service: none, pid: 1, status: 0, signal: null, durationSeconds: 1 }, at), null);
  assert.equal(formatFail({ kind: 'FAIL', service: none, reason: 'address', peer: mapped2 }, at), null);

  const pidOnly = svc('p', ['PID'], []);
  assert.equal(formatStart({ kind: 'START', service: pidOnly, pid: 9, peer: mapped1 }, at), `${TS}: START: p pid=9`);
  assert.equal(formatExit({ kind: 'EXIT', service: pidOnly, pid: 9, status: 0, signal: null, durationSeconds: 1 }, at), null);
  assert.equal(formatTraffic({ kind: 'TRAFFIC', service: pidOnly, inBytes: 1, outBytes: 2 }, at), null);

  const dur = svc('d', ['DURATION'], []);
  assert.equal(formatExit({ kind: 'EXIT', service: dur, pid: 9, status: 0, signal: null, durationSeconds: 3.9 }, at), `${TS}: EXIT: d duration=3(sec)`);
  const exitPid = svc('e', ['EXIT', 'PID'], []);
  assert.equal(formatExit({ kind: 'EXIT', service: exitPid, pid: 9, status: null, signal: 9, durationSeconds: 0 }, at), `${TS}: EXIT: e signal=9 pid=9`);

  const hostFail = svc('h', [], ['HOST']);
  assert.equal(
    formatFail({ kind: 'FAIL', service: hostFail, reason: 'connections per second', peer: mapped2 }, at),
    `${TS}: FAIL: h connections per second from=::ffff:127.0.0.2`,
  );
  assert.equal(formatFail({ kind: 'FAIL', service: hostFail, reason: 'service_limit', peer: null }, at), `${TS}: FAIL: h service_limit`);
});

test('flags are matched case-insensitively; negative or odd durations print as whole seconds', () => {
  const s = svc('c', ['pid', 'exit', 'Duration'], []);
  assert.equal(
    formatExit({ kind: 'EXIT', service: s, pid: 3, status: 1, signal: null, durationSeconds: -2 }, at),
    `${TS}: EXIT: c status=1 pid=3 duration=0(sec)`,
  );
  assert.equal(
    formatExit({ kind: 'EXIT', service: s, pid: 3, status: 1, signal: null, durationSeconds: NaN }, at),
    `${TS}: EXIT: c status=1 pid=3 duration=0(sec)`,
  );
});

test('USERID lines carry the identd answer, never a second line', () => {
  const s = svc('u', ['USERID'], []);
  assert.equal(formatUserid({ kind: 'USERID', service: s, text: 'UNIX : alice' }, at), `${TS}: USERID: u UNIX : alice`);
  const forged = formatUserid({ kind: 'USERID', service: s, text: 'x\n05/3/4@05:06:07: FAIL: u address from=10.0.0.1' }, at)!;
  assert.equal(forged.includes('\n'), false);
  assert.match(forged, /^05\/3\/4@05:06:07: USERID: u x\\x0a05/);
  assert.equal(formatUserid({ kind: 'USERID', service: svc('v', ['PID'], []), text: 'x' }, at), null);
  assert.equal(sanitize('a\tb\x7fc'), 'a\\x09b\\x7fc');
});

test('syslog bodies are the file lines without the timestamp', () => {
  const t1 = svc('t1', ['PID', 'HOST', 'EXIT', 'DURATION'], ['HOST']);
  assert.equal(serviceBody({ kind: 'FAIL', service: t1, reason: 'address', peer: mapped2 }), 'FAIL: t1 address from=::ffff:127.0.0.2');
  assert.equal(serviceBody({ kind: 'START', service: t1, pid: 4, peer: mapped1 }), 'START: t1 pid=4 from=::ffff:127.0.0.1');
});

// Regular expressions written from the formats in xinetd.log(5) (brackets = optional parts).
const STAMP = String.raw`\d{2}/\d{1,2}/\d{1,2}@\d{2}:\d{2}:\d{2}`;
const MAN_START = new RegExp(`^${STAMP}: START: \\S+( pid=\\d+)?( from=\\S+)?$`);
const MAN_EXIT = new RegExp(`^${STAMP}: EXIT: \\S+( (status|signal)=-?\\d+)?( pid=\\d+)?( duration=\\d+\\(sec\\))?$`);
const MAN_FAIL = new RegExp(
  `^${STAMP}: FAIL: \\S+ (fork|time|address|service_limit|per_source_limit|process_limit|load|libwrap|connections per second)( from=\\S+)?$`,
);

const successFlag = fc.subarray(['PID', 'HOST', 'USERID', 'EXIT', 'DURATION', 'TRAFFIC']);
const failureFlag = fc.subarray(['HOST', 'USERID', 'ATTEMPT']);
const ident = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/);
const address = fc.oneof(
  fc.ipV4().map((a) => `::ffff:${a}`),
  fc.ipV4(),
  fc.ipV6(),
);
const date = fc.date({ min: new Date(1990, 0, 1), max: new Date(2090, 0, 1), noInvalidDate: true });

test('every flag combination gives lines matching xinetd.log(5)', () => {
  fc.assert(
    fc.property(ident, successFlag, failureFlag, fc.nat(4_000_000), address, date, fc.nat(100000), (id, succ, fail, pid, addr, when, dur) => {
      const s = svc(id, succ, fail);
      const peer: Peer = { address: addr, port: 1, family: addr.includes(':') ? 'IPv6' : 'IPv4' };
      const start = formatStart({ kind: 'START', service: s, pid, peer }, when);
      if (succ.length === 0) assert.equal(start, null);
      else {
        assert.match(start!, MAN_START);
        assert.equal(start!.includes(' pid='), succ.includes('PID'));
        assert.equal(start!.includes(' from='), succ.includes('HOST'));
      }
      const exit = formatExit({ kind: 'EXIT', service: s, pid, status: pid % 256, signal: null, durationSeconds: dur }, when);
      if (!succ.includes('EXIT') && !succ.includes('DURATION')) assert.equal(exit, null);
      else assert.match(exit!, MAN_EXIT);
      const failLine = formatFail({ kind: 'FAIL', service: s, reason: 'address', peer }, when);
      if (fail.length === 0) assert.equal(failLine, null);
      else {
        assert.match(failLine!, MAN_FAIL);
        assert.equal(failLine!.endsWith(` from=${addr}`), fail.includes('HOST'));
      }
    }),
    { numRuns: 300 },
  );
});

test('daemon lines: -filelog, terminal (-d) and syslog shapes as xinetd writes them', () => {
  const e = daemonMessage('started-working', 'notice', 'Started working: 3 available services', 'main');
  assert.equal(formatDaemon(e, at, { style: 'file', pid: 5406 }), `${TS} xinetd[5406]: NOTICE: Started working: 3 available services`);
  assert.equal(formatDaemon(e, at, { style: 'terminal', pid: 6145 }), `${TS}: NOTICE: 6145 {main} Started working: 3 available services`);
  assert.equal(formatDaemon(e, at, { style: 'syslog', pid: 6145 }), 'Started working: 3 available services');
  assert.equal(
    formatDaemon(daemonMessage('libwrap-warning', 'warning', 'bad service attribute: bogus [file=f.conf] [line=22]', 'attr_lookup'), at, {
      style: 'terminal',
      pid: 6145,
    }),
    `${TS}: WARNING: 6145 {attr_lookup} bad service attribute: bogus [file=f.conf] [line=22]`,
  );
  assert.equal(formatDaemon(daemonMessage('bind-failed', 'error', 'x'), at, { style: 'file', pid: 1, ident: 'tsinetd' }), `${TS} tsinetd[1]: ERROR: x`);
  assert.equal(formatDaemon(daemonMessage('state-dump', 'info', 'y'), at, { style: 'terminal', pid: 2 }), `${TS}: INFO: 2 {main} y`);
  assert.equal(formatDaemon(daemonMessage('exiting', 'warning', 'a\nb'), at, { style: 'syslog', pid: 2 }), 'a\\x0ab');
});

test("daemon lines in tsinetd's own words end with their code; xinetd's words stay as xinetd writes them", () => {
  const own = daemonMessage('bind-retry', 'notice', 'service x will try to bind again', 'activate_normal');
  assert.equal(formatDaemon(own, at, { style: 'file', pid: 7 }), `${TS} xinetd[7]: NOTICE: service x will try to bind again [bind-retry]`);
  assert.equal(formatDaemon(own, at, { style: 'terminal', pid: 7 }), `${TS}: NOTICE: 7 {activate_normal} service x will try to bind again [bind-retry]`);
  assert.equal(formatDaemon(own, at, { style: 'syslog', pid: 7 }), 'service x will try to bind again [bind-retry]');
  // A configuration problem shows its tsinetd.conf(5) code, as --check does.
  const conf = daemonMessage('config-problem', 'error', 'a.conf:3:9: error: bad port', 'parse', 'bad-value');
  assert.equal(formatDaemon(conf, at, { style: 'syslog', pid: 7 }), 'a.conf:3:9: error: bad port [bad-value]');
  // Every row of the catalogue: a code in the text exactly when the row says the words are tsinetd's.
  for (const [code, row] of Object.entries(MESSAGE_CODES)) {
    const m = daemonMessage(code as MessageCode, row.levels[0] as never, 'text');
    assert.equal(shownCode(m), row.text === 'own' ? code : null, code);
    assert.equal(formatDaemon(m, at, { style: 'syslog', pid: 1 }), row.text === 'own' ? `text [${code}]` : 'text', code);
  }
});

test("JSON lines: one object per event with the text line's fields", () => {
  const t1 = svc('t1', ['PID', 'HOST', 'EXIT', 'DURATION'], ['HOST']);
  const iso = at.toISOString();
  const parse = (e: Parameters<typeof formatJson>[0]): unknown => JSON.parse(formatJson(e, at, 99)!);
  assert.deepEqual(parse({ kind: 'START', service: t1, pid: 5, peer: mapped1 }), {
    time: iso,
    event: 'START',
    service: 't1',
    pid: 5,
    from: '::ffff:127.0.0.1',
  });
  assert.deepEqual(parse({ kind: 'EXIT', service: t1, pid: 5, status: null, signal: 15, durationSeconds: 2.5 }), {
    time: iso,
    event: 'EXIT',
    service: 't1',
    signal: 15,
    pid: 5,
    duration: 2,
  });
  assert.deepEqual(parse({ kind: 'FAIL', service: t1, reason: 'per_source_limit', peer: mapped2 }), {
    time: iso,
    event: 'FAIL',
    service: 't1',
    reason: 'per_source_limit',
    from: '::ffff:127.0.0.2',
  });
  const r = svc('r', ['TRAFFIC', 'USERID'], []);
  assert.deepEqual(parse({ kind: 'TRAFFIC', service: r, inBytes: 10, outBytes: 20 }), { time: iso, event: 'TRAFFIC', service: 'r', in: 10, out: 20 });
  assert.deepEqual(parse({ kind: 'USERID', service: r, text: 'UNIX : bob\n' }), { time: iso, event: 'USERID', service: 'r', text: 'UNIX : bob\n' });
  assert.equal(formatJson({ kind: 'START', service: svc('q', [], []), pid: 1, peer: null }, at, 99), null);
  assert.deepEqual(parse(daemonMessage('bind-failed', 'error', 'boom', 'f')), {
    time: iso,
    event: 'daemon',
    level: 'error',
    code: 'bind-failed',
    pid: 99,
    func: 'f',
    message: 'boom',
  });
  assert.deepEqual(parse(daemonMessage('config-problem', 'warning', 'f:1:1: warning: m', 'parse', 'bad-value')), {
    time: iso,
    event: 'daemon',
    level: 'warning',
    code: 'config-problem',
    diagnostic: 'bad-value',
    pid: 99,
    func: 'parse',
    message: 'f:1:1: warning: m',
  });
  assert.equal(formatJson(daemonMessage('internal-error', 'error', 'a\nb'), at, 1).includes('\n'), false);
});

test('default hard limit: soft + 1%, the extra within 5K..20K (xinetd printed soft=1000 hard=6120)', () => {
  assert.equal(defaultHardLimit(1000), 6120);
  assert.equal(defaultHardLimit(10240), 10240 + 5120);
  assert.equal(defaultHardLimit(1024 * 1024), 1024 * 1024 + 10485);
  assert.equal(defaultHardLimit(100 * 1024 * 1024), 100 * 1024 * 1024 + 20480);
});

test('syslog priorities match what xinetd sent (daemon.info 30, local3.warning 156, local5.notice 173)', () => {
  assert.equal(syslogPriority('daemon', 'info'), 30);
  assert.equal(syslogPriority('local3', 'warning'), 156);
  assert.equal(syslogPriority('local5', 'notice'), 173);
  assert.equal(syslogPriority('local5', 'warning'), 172);
  assert.equal(syslogPriority('authpriv', 'err'), 83);
  assert.equal(syslogPriority('AUTH', 'error'), 35);
  assert.equal(syslogPriority('nonsense', 'constructor'), 30);
});

test('flood protection message names the service and the count', () => {
  const e = suppressedEvent(svc('ssh', [], ['HOST']), 57);
  assert.equal(e.kind, 'daemon');
  assert.equal(e.level, 'warning');
  assert.equal(e.message, '57 similar FAIL lines of service ssh suppressed');
  assert.equal(suppressedEvent(svc('x', [], []), 1).message, '1 similar FAIL line of service x suppressed');
});

test('formatServiceLine dispatches every service event kind', () => {
  const s = svc('all', ['PID', 'HOST', 'EXIT', 'DURATION', 'TRAFFIC', 'USERID'], ['HOST']);
  const events: ServiceEvent[] = [
    { kind: 'START', service: s, pid: 1, peer: mapped1 },
    { kind: 'EXIT', service: s, pid: 1, status: 0, signal: null, durationSeconds: 1 },
    { kind: 'FAIL', service: s, reason: 'time', peer: mapped1 },
    { kind: 'TRAFFIC', service: s, inBytes: 1, outBytes: 2 },
    { kind: 'USERID', service: s, text: 'u' },
  ];
  assert.deepEqual(
    events.map((e) => formatServiceLine(e, at)),
    [
      `${TS}: START: all pid=1 from=::ffff:127.0.0.1`,
      `${TS}: EXIT: all status=0 pid=1 duration=1(sec)`,
      `${TS}: FAIL: all time from=::ffff:127.0.0.1`,
      `${TS}: TRAFFIC: all in=1(bytes) out=2(bytes)`,
      `${TS}: USERID: all u`,
    ],
  );
});
