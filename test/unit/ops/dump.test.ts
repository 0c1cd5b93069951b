// The SIGUSR1 text dump: xinetd's layout (measured from /var/run/xinetd.dump of xinetd 2.3.15.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctime, formatServiceDump } from '../../../src/ops/dump.js';
import { newService } from '../../../src/service-defaults.js';
import type { ServiceTable } from '../../../src/table.js';

const now = new Date(2026, 10, 4, 5, 6, 7);
const protocolNumber = (n: string): number | undefined => ({ tcp: 6, udp: 17 })[n];

function table(): ServiceTable {
  const t1 = newService('t1', 'xinetd', { file: '/etc/xinetd.d/t1', line: 3 });
  Object.assign(t1, {
    flags: ['IPv6'],
    type: ['UNLISTED'],
    port: 47031,
    user: 'root',
    server: '/bin/echo',
    server_argv: ['echo', 'hello', 'world'],
    access_times: [
      { start: 8 * 60, end: 12 * 60 },
      { start: 13 * 60, end: 17 * 60 + 30 },
    ],
    only_from: ['127.0.0.1', '10.0.0.0/8'],
    no_access: ['127.0.0.2'],
    per_source: 5,
    log_type: { kind: 'file', path: '/var/log/t1.log', soft: null, hard: null },
    log_on_success: ['PID', 'HOST', 'EXIT', 'DURATION'],
    log_on_failure: ['HOST'],
    passenv: ['PATH'],
    env: ['FOO=bar'],
  });
  const t2 = newService('t2', 'xinetd', { file: '/etc/xinetd.d/t2', line: 1 });
  Object.assign(t2, {
    flags: ['NAMEINARGS', 'IPv4'],
    socket_type: 'dgram',
    protocol: 'udp',
    port: 47032,
    wait: true,
    user: 'nobody',
    group: 'nogroup',
    server: '/bin/cat',
    server_argv: ['cat', '-u'],
    bind: '127.0.0.1',
    instances: 7,
    cps: [10, 5],
    umask: 0o22,
    nice: 3,
    log_type: { kind: 'syslog', facility: 'local3', level: 'warning' },
    log_on_success: ['USERID', 'PID'],
    log_on_failure: ['USERID', 'ATTEMPT', 'HOST'],
    rlimits: { as: 8 * 1024 * 1024, cpu: 'unlimited' },
  });
  const t3 = newService('t3', 'inetd', { file: '/etc/inetd.conf', line: 9 });
  Object.assign(t3, {
    enabled: false,
    flags: ['SENSOR'],
    port: 7,
    redirect: { host: '127.0.0.1', port: 47031 },
    deny_time: 'FOREVER',
    only_from: [],
    log_type: { kind: 'file', path: '/var/log/t3.log', soft: 1000, hard: null },
    problems: ['server /nope does not exist'],
  });
  return { services: [t1, t2, t3], diagnostics: [], files: ['/etc/xinetd.conf', '/etc/xinetd.d/t1'] };
}

test('ctime: like ctime(3), day padded with a space', () => {
  assert.equal(ctime(new Date(2026, 10, 24, 15, 48, 22)), 'Tue Nov 24 15:48:22 2026');
  assert.equal(ctime(new Date(2005, 2, 4, 5, 6, 7)), 'Fri Mar  4 05:06:07 2005');
});

test('dump: header, one block per service in xinetd labels and order, totals, END OF DUMP', () => {
  const text = formatServiceDump(table(), now, { protocolNumber, version: '9.9.9' });
  const lines = text.split('\n');
  assert.equal(lines[0], 'INTERNAL STATE DUMP: tsinetd 9.9.9');
  assert.equal(lines[1], 'Current time: Wed Nov  4 05:06:07 2026');
  const t1 = lines.slice(lines.indexOf('Service = t1'), lines.indexOf('Service = t2'));
  assert.deepEqual(t1, [
    'Service = t1',
    '\tState = Active',
    '\tService configuration: t1',
    '\t\tid = t1',
    '\t\tflags = IPv6',
    '\t\ttype = UNLISTED',
    '\t\tsocket_type = stream',
    '\t\tProtocol (name,number) = (tcp,6)',
    '\t\tport = 47031',
    '\t\twait = no',
    '\t\tuser = root',
    '\t\tGroups = no',
    '\t\tPER_SOURCE = 5',
    '\t\tBind = All addresses.',
    '\t\tServer = /bin/echo',
    '\t\tServer argv = echo hello world',
    '\t\tAccess times = 08:00-12:00 13:00-17:30',
    '\t\tOnly from:  127.0.0.1 10.0.0.0/8',
    '\t\tNo access:  127.0.0.2',
    '\t\tLogging to file: /var/log/t1.log (no limits)',
    '\t\tLog_on_success flags = HOST DURATION EXIT PID',
    '\t\tLog_on_failure flags = HOST',
    '\t\tPassenv = PATH',
    '\t\tEnvironment additions:',
    '\t\t\tFOO=bar',
    '\t\tDefined at = /etc/xinetd.d/t1:3 (xinetd)',
    '',
  ]);
  for (const l of [
    '\t\tflags = NAMEINARGS IPv4',
    '\t\tProtocol (name,number) = (udp,17)',
    '\t\tInstances = 7',
    '\t\twait = yes',
    '\t\tgroup = nogroup',
    '\t\tumask = 22',
    '\t\tNice = 3',
    '\t\tCPS = max conn:10 wait:5',
    '\t\tPER_SOURCE = -1',
    '\t\tBind = 127.0.0.1',
    '\t\tOnly from: All sites',
    '\t\tNo access: No blocked sites',
    '\t\tLogging to syslog. Facility = local3, level = warning',
    '\t\tLog_on_success flags = PID USERID',
    '\t\tLog_on_failure flags = HOST ATTEMPT USERID',
    '\t\tRlimits = as=8388608 cpu=unlimited',
    '\tState = Disabled',
    '\t\tRedirect = 127.0.0.1:47031',
    '\t\tOnly from: No sites',
    '\t\tDeny Time: FOREVER',
    '\t\tLogging to file: /var/log/t3.log (soft=1000 hard=6120)',
    '\t\tLog_on_success flags =',
    '\t\tProblem: server /nope does not exist',
  ]) {
    assert.ok(lines.includes(l), `missing line ${JSON.stringify(l)}`);
  }
  assert.ok(!text.includes('running servers'), 'no runtime counts unless given');
  const tail = lines.slice(lines.indexOf('active_services = 2'));
  assert.deepEqual(tail, [
    'active_services = 2',
    'available_services = 2',
    '',
    'config_file = /etc/xinetd.conf',
    'included_file = /etc/xinetd.d/t1',
    '',
    'END OF DUMP',
    '',
    '',
  ]);
});

test('dump: runtime counts when the daemon supplies them; an empty table is still a dump', () => {
  const text = formatServiceDump(table(), now, { protocolNumber, runningServers: (s) => (s.id === 't1' ? 2 : 0) });
  assert.match(text, /Service = t1\n[\s\S]*?\trunning servers = 2\n/);
  assert.match(text, /running_servers = 2\n/);
  const empty = formatServiceDump({ services: [], diagnostics: [], files: [] }, now, { protocolNumber });
  assert.match(empty, /^INTERNAL STATE DUMP: tsinetd \S+\nCurrent time: .*\n\nServices:\nactive_services = 0\navailable_services = 0\n\n\nEND OF DUMP\n\n$/);
});
