// src/config/xinetd/build.ts and src/config/sources.ts: xinetd's semantics from syntax tree to Services — defaults,
// list operators, includes, enabled/disabled, ports, argv, internal services, every value grammar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { ATTRIBUTES } from '../../../../src/config/xinetd/attributes.js';
import { loadXinetdConfig } from '../../../../src/config/config.js';
import { checkServices } from '../../../../src/config/validate.js';
import { checkDuplicateIds, checkPortClashes, placedBlock } from '../../../../src/config/validate-across.js';
import { compareCLocale, loadConfigTree, skippedByName } from '../../../../src/config/sources.js';
import type { Service } from '../../../../src/table.js';
import { AS_ROOT, brief, buildText, fakeProbe, fixtureDb, XINETD_FIXTURES } from './xinetd-fixture-env.js';

/** The services of a text, by id. */
function byId(text: string): Map<string, Service> {
  return new Map(buildText(text).services.map((b) => [b.service.id, b.service]));
}

function one(text: string): Service {
  const [b] = buildText(text).services;
  assert.ok(b, 'no service built');
  return b.service;
}

const svc = (body: string, name = 'x'): string =>
  `service ${name}\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/prog\n\tport = 4000\n${body}}\n`;

// ---- Defaults ------------------------------------------------------------------------------------

test('defaults: lists are copied when the service starts; scalars come from the final defaults', () => {
  const text =
    'defaults\n{\n\tonly_from = 10.0.0.1\n\tlog_on_success = PID\n\tinstances = 5\n}\n' +
    svc('\tonly_from += 10.0.0.2\n', 'a') +
    svc('\tinstances = 7\n\tonly_from = 10.0.0.3\n', 'b') +
    svc('', 'c');
  const m = byId(text);
  assert.deepEqual(m.get('a')!.only_from, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(m.get('a')!.log_on_success, ['PID']);
  assert.equal(m.get('a')!.instances, 5);
  assert.deepEqual(m.get('b')!.only_from, ['10.0.0.3']);
  assert.equal(m.get('b')!.instances, 7);
  assert.deepEqual(m.get('c')!.only_from, ['10.0.0.1']);
});

test("defaults: '=' on a list adds (as '+='); '-=' removes", () => {
  const text =
    'defaults\n{\n\tonly_from = 10.0.0.1\n\tonly_from = 10.0.0.2 10.0.0.3\n\tonly_from -= 10.0.0.2\n\tlog_on_failure = HOST\n\tlog_on_failure = ATTEMPT\n}\n' +
    svc('');
  const s = one(text);
  assert.deepEqual(s.only_from, ['10.0.0.1', '10.0.0.3']);
  assert.deepEqual(s.log_on_failure, ['HOST', 'ATTEMPT']);
});

test('defaults: a service entry before the defaults gets their scalars but not their lists', () => {
  const text = svc('', 'early') + 'defaults\n{\n\tonly_from = 10.0.0.1\n\tcps = 10 5\n\tper_source = 3\n\tlog_type = SYSLOG authpriv\n}\n';
  const s = one(text);
  assert.equal(s.only_from, null);
  assert.deepEqual(s.cps, [10, 5]);
  assert.equal(s.per_source, 3);
  assert.deepEqual(s.log_type, { kind: 'syslog', facility: 'authpriv', level: 'info' });
});

test('defaults: inherited scalars (instances umask per_source groups cps max_load bind v6only banners per_source_cps)', () => {
  const text =
    'defaults\n{\n\tinstances = UNLIMITED\n\tumask = 002\n\tper_source = 4\n\tgroups = yes\n\tcps = 25 30\n\tmax_load = 2.5\n' +
    '\tinterface = 127.0.0.1\n\tv6only = yes\n\tbanner = /etc/b\n\tbanner_success = /etc/ok\n\tbanner_fail = /etc/no\n\tper_source_cps = 0.5 3\n' +
    '\tpassenv = PATH\n}\n' +
    svc('');
  const s = one(text);
  assert.deepEqual(
    [s.instances, s.umask, s.per_source, s.groups, s.cps, s.max_load, s.bind, s.v6only, s.banner, s.banner_success, s.banner_fail, s.per_source_cps, s.passenv],
    [null, 0o2, 4, true, [25, 30], 2.5, '127.0.0.1', true, '/etc/b', '/etc/ok', '/etc/no', [0.5, 3], ['PATH']],
  );
});

test('defaults: attributes not allowed there are warned about and ignored; a second defaults in one file is an error', () => {
  const r = buildText('defaults\n{\n\trlimit_cpu = 10\n\tserver = /bin/x\n}\ndefaults\n{\n\tinstances = 3\n}\n' + svc(''));
  assert.deepEqual(brief(r.diagnostics), [
    `3:2 warning 'rlimit_cpu' cannot be set in defaults (set it in each service): ignored, as xinetd does ("should not be in default section")`,
    `4:2 warning 'server' cannot be set in defaults (set it in each service): ignored, as xinetd does ("should not be in default section")`,
    "6:1 error only one 'defaults' entry is allowed per file (the first is on line 1): this one is ignored, as xinetd does",
  ]);
  assert.equal(r.services[0]!.service.instances, null);
});

test('defaults: a bad value is an error, and no service starts (xinetd exits: "fatal error ... default section")', () => {
  const r = buildText('defaults\n{\n\tinstances = lots\n\tper_source = 2\n}\n' + svc(''));
  assert.deepEqual(brief(r.diagnostics), [
    `3:14 error bad value for 'instances': 'lots' cannot be read: it is not a whole number (xinetd reads it with strtol, base 10); xinetd exits at an error in defaults ("A fatal error was encountered while parsing the default section"): tsinetd starts none of the services`,
  ]);
  assert.equal(r.services[0]!.service.enabled, false);
  assert.deepEqual(r.services[0]!.off, { kind: 'error' });
  // A value count xinetd only warns about is not fatal: the line is ignored and services run.
  const warned = buildText('defaults\n{\n\tinstances = 1 2\n}\n' + svc(''));
  assert.equal(warned.services[0]!.service.enabled, true);
});

test('the implicit cps is 50 10; cps given in the service wins', () => {
  assert.deepEqual(one(svc('')).cps, [50, 10]);
  assert.deepEqual(one(svc('\tcps = 100 2\n')).cps, [100, 2]);
});

// ---- List operators -------------------------------------------------------------------------------

test("service lists: '=' replaces, '+=' adds, '-=' removes (only_from no_access log_on_* passenv env)", () => {
  const s = one(
    'defaults\n{\n\tlog_on_success = PID HOST\n\tno_access = 10.9.9.9\n}\n' +
      svc(
        '\tlog_on_success += EXIT\n\tlog_on_success -= PID\n\tno_access = 10.0.0.1\n\tno_access += 10.0.0.2\n\tpassenv = PATH HOME\n\tpassenv -= HOME\n' +
          '\tenv = A=1\n\tenv += B=2\n\tonly_from =\n',
      ),
  );
  assert.deepEqual(s.log_on_success, ['HOST', 'EXIT']);
  assert.deepEqual(s.no_access, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(s.passenv, ['PATH']);
  assert.deepEqual(s.env, ['A=1', 'B=2']);
  assert.deepEqual(s.only_from, []);
});

test("'-=' on env is an error that disables the service, as xinetd does", () => {
  const r = buildText(svc('\tenv -= A=1\n'));
  assert.deepEqual(brief(r.diagnostics), ["9:6 error '-=' cannot be used with 'env'; service 'x' is disabled, as xinetd does"]);
  assert.equal(r.services[0]!.service.enabled, false);
});

test("scalars: the first value wins; '+=' on a scalar is ignored with a warning", () => {
  const r = buildText(svc('\tport = 5000\n\tnice += 3\n'));
  assert.deepEqual(brief(r.diagnostics), [
    "9:2 warning 'port' is already set on line 8: this line is ignored (xinetd keeps the first value)",
    "10:7 warning '+=' works only on the list attributes (only_from, no_access, log_on_success, log_on_failure, passenv, env): this line is ignored, as xinetd does; use '='",
  ]);
  assert.equal(r.services[0]!.service.port, 4000);
  assert.equal(r.services[0]!.service.nice, null);
});

test("a wrong number of values ignores the line (a '#' comment after values is the usual cause)", () => {
  const r = buildText(svc('\tper_source = 10 # per address\n\tinstances = 4\n'));
  assert.deepEqual(brief(r.diagnostics), [
    "9:2 warning 'per_source' expects 1 value, found 4 ('#' starts a comment only at the beginning of a line: here it and the words after it are values): this line is ignored, as xinetd does",
  ]);
  const s = r.services[0]!.service;
  assert.equal(s.per_source, null);
  assert.equal(s.instances, 4);
  assert.equal(s.enabled, true);
});

test('unknown attributes are warnings with a suggestion; enabled/disabled in a service too', () => {
  const r = buildText(svc('\tserver_arg = -x\n\tenabled = x\n\tmdns = yes\n'));
  assert.deepEqual(brief(r.diagnostics), [
    `9:2 warning unknown attribute 'server_arg' (did you mean 'server_args'?): ignored, as xinetd does ("bad service attribute")`,
    "10:2 warning 'enabled' can only be set in defaults: ignored here, as xinetd does",
    "11:2 warning not supported by tsinetd: 'mdns' (service registration over multicast DNS) is ignored; xinetd 2.3.15 ignores it too",
  ]);
  assert.equal(r.services[0]!.service.enabled, true);
});

test('attribute names and keywords are compared without regard to case, as xinetd (Debian build) does', () => {
  const s = one(
    'service x\n{\n\tTYPE = unlisted\n\tSocket_Type = STREAM\n\tWAIT = No\n\tuser = root\n\tserver = /bin/p\n\tport = 4000\n\tFlags = ipv4 nodelay\n}\n',
  );
  assert.deepEqual([s.type, s.socket_type, s.wait, s.flags], [['UNLISTED'], 'stream', false, ['IPv4', 'NODELAY']]);
});

// ---- disable, enabled, disabled ---------------------------------------------------------------------

test('disable = yes turns the service off and ends its entry (later lines are not read)', () => {
  const r = buildText(svc('\tdisable = yes\n\tinstances = nonsense\n'));
  assert.equal(r.services[0]!.service.enabled, false);
  assert.deepEqual(r.services[0]!.off?.kind, 'disable');
  assert.deepEqual(r.diagnostics, []);
});

test("defaults' enabled and disabled lists, by id and without regard to case", () => {
  const text = 'defaults\n{\n\tenabled = A B\n\tenabled = c\n\tdisabled = b nosuch\n}\n' + svc('', 'a') + svc('', 'b') + svc('', 'c') + svc('', 'd');
  const r = buildText(text);
  const state = Object.fromEntries(r.services.map((b) => [b.service.id, [b.service.enabled, b.off?.kind ?? null]]));
  assert.deepEqual(state, { a: [true, null], b: [false, 'disabled-list'], c: [true, null], d: [false, 'not-enabled'] });
  assert.deepEqual(brief(r.diagnostics), ["5:15 warning 'disabled' names 'nosuch', but no service has that id (ids, not service names, go in this list)"]);
});

test("an empty 'enabled' turns every service off, as xinetd does, with a warning", () => {
  const r = buildText('defaults\n{\n\tenabled =\n}\n' + svc(''));
  assert.equal(r.services[0]!.service.enabled, false);
  assert.deepEqual(brief(r.diagnostics), ["3:2 warning 'enabled' is set but lists no service: xinetd then disables every service, and so does tsinetd"]);
});

// ---- Ports, protocols, argv -----------------------------------------------------------------------------

test('port from /etc/services; protocol from socket_type and socket_type from protocol', () => {
  const m = byId(
    'service telnet\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /usr/sbin/in.telnetd\n}\n' +
      'service tftp\n{\n\tprotocol = udp\n\twait = yes\n\tuser = root\n\tserver = /usr/sbin/in.tftpd\n\tserver_args = -s /srv/tftp\n}\n',
  );
  const telnet = m.get('telnet')!;
  assert.deepEqual([telnet.protocol, telnet.port, telnet.server_argv], ['tcp', 23, ['in.telnetd']]);
  const tftp = m.get('tftp')!;
  assert.deepEqual([tftp.socket_type, tftp.port, tftp.server_argv], ['dgram', 69, ['in.tftpd', '-s', '/srv/tftp']]);
});

test('UNLISTED services take their port from `port`; unlisted names have no port', () => {
  assert.equal(one(svc('')).port, 4000);
  const b = buildText('service nosuch\n{\n\tsocket_type = stream\n\twait = no\n}\n').services[0]!;
  assert.deepEqual([b.service.port, b.listedPort], [null, null]);
});

test('NAMEINARGS takes argv[0] from server_args, whether flags comes before or after server_args', () => {
  const before = one(svc('\tflags = NAMEINARGS\n\tserver_args = tcpd -l /usr/sbin/in.ftpd\n'));
  const after = one(svc('\tserver_args = tcpd -l /usr/sbin/in.ftpd\n\tflags = NAMEINARGS\n'));
  assert.deepEqual(before.server_argv, ['tcpd', '-l', '/usr/sbin/in.ftpd']);
  assert.deepEqual(after.server_argv, before.server_argv);
  assert.deepEqual(one(svc('\tserver_args = -l\n')).server_argv, ['prog', '-l']);
});

test("server_args keeps '#' words, as xinetd passes them to the server (with a warning)", () => {
  const r = buildText(svc('\tserver_args = -v # verbose\n'));
  assert.deepEqual(r.services[0]!.service.server_argv, ['prog', '-v', '#', 'verbose']);
  assert.deepEqual(brief(r.diagnostics), [
    "9:19 warning '#' starts a comment only at the beginning of a line: the server gets '#' 'verbose' as arguments (as with xinetd)",
  ]);
});

test('internal services are chosen by name with type = INTERNAL; they have no server and no argv', () => {
  const m = byId(
    'service echo\n{\n\ttype = INTERNAL\n\tid = echo-stream\n\tsocket_type = stream\n\twait = no\n}\n' +
      'service echo\n{\n\ttype = INTERNAL\n\tid = echo-dgram\n\tsocket_type = dgram\n\twait = yes\n\tserver = /bin/cat\n}\n',
  );
  assert.deepEqual([m.get('echo-stream')!.port, m.get('echo-stream')!.protocol, m.get('echo-stream')!.server], [7, 'tcp', null]);
  assert.deepEqual([m.get('echo-dgram')!.port, m.get('echo-dgram')!.protocol, m.get('echo-dgram')!.server_argv], [7, 'udp', []]);
});

test('redirect: host and port (number or tcp service name); no server then', () => {
  const s = one('service x\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 4000\n\tredirect = 10.0.0.5 http\n}\n');
  assert.deepEqual([s.redirect, s.server, s.server_argv], [{ host: '10.0.0.5', port: 80 }, null, []]);
  assert.deepEqual(one(svc('\tredirect = db.example.com 5432\n')).redirect, { host: 'db.example.com', port: 5432 });
});

// ---- Value grammars through the attributes ------------------------------------------------------------

test('log_type: FILE with xinetd default hard limit; SYSLOG with the default level', () => {
  assert.deepEqual(one(svc('\tlog_type = FILE /var/log/x.log\n')).log_type, { kind: 'file', path: '/var/log/x.log', soft: null, hard: null });
  assert.deepEqual(one(svc('\tlog_type = FILE /l 100K\n')).log_type, { kind: 'file', path: '/l', soft: 102400, hard: 102400 + 5120 });
  assert.deepEqual(one(svc('\tlog_type = FILE /l 10M\n')).log_type, { kind: 'file', path: '/l', soft: 10485760, hard: 10485760 + 20480 });
  assert.deepEqual(one(svc('\tlog_type = FILE /l 1K 2K\n')).log_type, { kind: 'file', path: '/l', soft: 1024, hard: 2048 });
  assert.deepEqual(one(svc('\tlog_type = SYSLOG local3\n')).log_type, { kind: 'syslog', facility: 'local3', level: 'info' });
  const r = buildText(svc('\tlog_type = FILE /l 10K 5K\n'));
  assert.deepEqual(brief(r.diagnostics), [
    "9:25 error bad value for 'log_type': the hard limit (5120 bytes) is less than the soft limit (10240 bytes); service 'x' is disabled, as xinetd does",
  ]);
});

test('access_times, rlimits, umask, nice, deny_time, max_load, per_source, instances', () => {
  const s = one(
    svc(
      '\taccess_times = 2:00-8:59 12:00-23:59\n\trlimit_as = 64M\n\trlimit_cpu = 20\n\trlimit_files = 1K\n\trlimit_stack = UNLIMITED\n' +
        '\tumask = 027\n\tnice = -5\n\tdeny_time = FOREVER\n\tmax_load = 1.5\n\tper_source = UNLIMITED\n\tinstances = 30\n\tflags = SENSOR\n',
    ),
  );
  assert.deepEqual(s.access_times, [
    { start: 120, end: 539 },
    { start: 720, end: 1439 },
  ]);
  assert.deepEqual(s.rlimits, { as: 64 * 1024 * 1024, cpu: 20, files: 1024, stack: 'unlimited' });
  assert.deepEqual([s.umask, s.nice, s.deny_time, s.max_load, s.per_source, s.instances], [0o27, -5, 'FOREVER', 1.5, null, 30]);
});

test('rpc, groups, v6only, bind, banners, libwrap, user, group, id, type, flags', () => {
  const s = one(
    svc(
      '\trpc_version = 2-4\n\trpc_number = 100001\n\tgroups = yes\n\tv6only = no\n\tbind = ::1\n\tbanner = /etc/banner\n\tlibwrap = ftpd\n' +
        '\tgroup = tty\n\tid = my-x\n\tflags = IPv6 KEEPALIVE\n',
    ),
  );
  assert.deepEqual(
    [s.rpc_version, s.rpc_number, s.groups, s.v6only, s.bind, s.banner, s.libwrap, s.user, s.group, s.id, s.name, s.type, s.flags],
    [[2, 4], 100001, true, false, '::1', '/etc/banner', 'ftpd', 'root', 'tty', 'my-x', 'x', ['UNLISTED'], ['IPv6', 'KEEPALIVE']],
  );
});

test('a bad value disables the service with an error at the value', () => {
  const cases: [string, string][] = [
    ['\tgroups = maybe\n', "9:11 error bad value for 'groups': expected yes or no, found 'maybe'; service 'x' is disabled, as xinetd does"],
    [
      '\tflags = IPv4 NODELY\n',
      "9:15 error unknown flag 'NODELY' in 'flags' (did you mean 'NODELAY'?): expected REUSE, INTERCEPT, NORETRY, IDONLY, NAMEINARGS, NODELAY, KEEPALIVE, NOLIBWRAP, SENSOR, IPv4, IPv6, LABELED; service 'x' is disabled, as xinetd does",
    ],
    ['\tprotocol = tpc\n', "9:13 error bad value for 'protocol': 'tpc' is not in /etc/protocols; service 'x' is disabled, as xinetd does"],
    [
      '\tumask = 999\n',
      "9:10 error bad value for 'umask': '999' cannot be read as a umask: it is not an octal number (xinetd reads it with strtol, base 8); service 'x' is disabled, as xinetd does",
    ],
    ['\tenv = NOEQUALS\n', "9:8 error bad value for 'env': 'NOEQUALS' has no '=': expected NAME=value; service 'x' is disabled, as xinetd does"],
    [
      '\tmax_load = 0\n',
      "9:13 error bad value for 'max_load': xinetd reads '0' as 0, which it refuses; leave max_load out for no limit; service 'x' is disabled, as xinetd does",
    ],
    ['\tredirect = 10.0.0.1 99999\n', "9:22 error bad value for 'redirect': port 99999 is too large (1-65535); service 'x' is disabled, as xinetd does"],
    ['\tserver_args =\n', "9:2 error 'server_args' needs at least one value; service 'x' is disabled, as xinetd does"],
    [
      '\tonly_from = 10.0.0.{1,,2}\n',
      "9:22 error bad factorized address '10.0.0.{1,,2}' in only_from: expected a number after the comma (no empty entries); service 'x' is disabled, as xinetd does",
    ],
  ];
  for (const [body, message] of cases) {
    const r = buildText(svc(body));
    assert.deepEqual(brief(r.diagnostics), [message], body);
    assert.equal(r.services[0]!.service.enabled, false, body);
  }
});

test('only_from: unreadable addresses are left out (an error); after a #, words are still addresses (a warning)', () => {
  const r = buildText(svc('\tonly_from = 127.0.0.1 300.1.1.1 10.0.0.0/8 # office\n'));
  assert.deepEqual(r.services[0]!.service.only_from, ['127.0.0.1', '10.0.0.0/8', 'office']);
  assert.equal(r.services[0]!.service.enabled, true);
  assert.deepEqual(brief(r.diagnostics), [
    `9:24 error cannot read '300.1.1.1' as an address of only_from: 300 is not a number from 0 to 255; xinetd ignores it ("failed to parse") and so does tsinetd`,
    "9:45 warning '#' starts a comment only at the beginning of a line: '# office' are more values of only_from; xinetd tries each as an address and keeps those it can read, and so does tsinetd",
  ]);
  assert.deepEqual(one(svc('\tonly_from = 127.0.0.{1,3} fe80::/10 .example.com\n')).only_from, ['127.0.0.{1,3}', 'fe80::/10', '.example.com']);
});

// Issue #19 item 1: xinetd refuses 10.0.0.5 here (measured: its dump lists 127.0.0.1 and 127.0.0.2
// for "no_access = 127.0.0.1 # was 127.0.0.2"); tsinetd used to drop the words after '#'.
test("'#' after values: no_access and only_from keep every word that reads as an address", () => {
  const r = buildText(svc('\tno_access = 10.0.0.1 # was 10.0.0.5\n\tonly_from += 192.0.2.1 #192.0.2.9 192.0.2.7\n'));
  const s = r.services[0]!.service;
  assert.deepEqual(s.no_access, ['10.0.0.1', 'was', '10.0.0.5']);
  assert.deepEqual(s.only_from, ['192.0.2.1', '192.0.2.7']);
  assert.equal(s.enabled, true);
  assert.deepEqual(
    brief(r.diagnostics).map((d) => d.split(' ').slice(0, 2).join(' ')),
    ['9:23 warning', '10:25 warning', '10:25 error'],
    'one located warning per line, and "#192.0.2.9" cannot be read',
  );
  // The other list attributes already treat the words after '#' as values, as xinetd does.
  assert.deepEqual(one(svc('\tserver_args = -v # note\n')).server_argv, ['prog', '-v', '#', 'note']);
  assert.equal(one(svc('\tlog_on_success = PID # note\n')).enabled, false);
  assert.equal(one(svc('\tflags = NODELAY # note\n')).enabled, false);
  assert.equal(one(svc('\taccess_times = 2:00-3:00 # note\n')).enabled, false);
  assert.equal(one(svc('\tenv = A=1 # note\n')).enabled, false);
});

// Issue #19 item 4, measured with xinetd 2.3.15.3 -d: an attribute error disables a service until a
// later `disable = no` (SC_DISABLE and SC_ENABLE share one flag); a `disable` line read while the
// service is disabled drops it; an error after `disable = no` disables it.
test('an attribute error followed by disable = no: the service runs without the bad value', () => {
  const run = (body: string): { enabled: boolean; s: Service; d: string[] } => {
    const r = buildText(svc(body));
    return { enabled: r.services[0]!.service.enabled, s: r.services[0]!.service, d: brief(r.diagnostics) };
  };
  const a = run('\tlog_on_failure += USERID#x\n\tdisable = no\n');
  assert.equal(a.enabled, true);
  assert.deepEqual(a.s.log_on_failure, []);
  assert.deepEqual(a.d, [
    "9:20 error unknown log_on_failure value 'USERID#x' in 'log_on_failure' (did you mean 'USERID'?): expected HOST, USERID, ATTEMPT; service 'x' is disabled, as xinetd does",
    "10:2 warning 'disable = no' re-enables service 'x' after the error on line 9, as xinetd does (an error disables a service only until a later 'disable = no'): of that line's 'log_on_failure', only the values before the bad one apply",
  ]);
  assert.equal(run('\tdisable = no\n\tlog_on_failure += USERID#x\n').enabled, false, 'an error after disable = no');
  assert.equal(run('\tper_source = 7x\n\tdisable = yes\n').enabled, false);
  assert.equal(run('\tper_source = 7x\n\tdisable = maybe\n').enabled, false);
  assert.equal(run('\tper_source = 7x\n\tdisable = no # note\n').enabled, false, 'a disable line with two values is ignored, and drops the entry');
  assert.equal(run('\tdisable = no\n\tper_source = 7x\n\tdisable = no\n').enabled, false, 'the second disable line is "already set"');
  const b = run('\tper_source = 7x\n\tdisable = no\n\tinstances = 4\n');
  assert.match(b.d[1]!, /^10:2 warning .*: it runs without that line's 'per_source'$/);
  assert.deepEqual([b.enabled, b.s.per_source, b.s.instances], [true, null, 4], 'the bad per_source is not set; later lines apply');
  // xinetd keeps the addresses it read before the bad word (measured: only_from = 127.0.0.5
  // 127.0.0.6,7 then disable = no serves with "Only from: 127.0.0.5"): never admit everybody.
  const c = run('\tonly_from = 127.0.0.5 127.0.0.6,7 127.0.0.8\n\tdisable = no\n');
  assert.deepEqual([c.enabled, c.s.only_from], [true, ['127.0.0.5']]);
  const e = run('\tflags = IPv4 BOGUS KEEPALIVE\n\tenv = A=1 B C=3\n\tdisable = no\n');
  assert.deepEqual([e.enabled, e.s.flags, e.s.env], [true, ['IPv4'], ['A=1']]);
});

test('numbers through the build: the value xinetd reads, with a located warning when it is not the one written', () => {
  const r = buildText(svc('\tinstances = 99999999999\n\tmax_load = 0x50\n\tcps = -1 10\n\tumask = 022\n'));
  const s = r.services[0]!.service;
  assert.deepEqual([s.enabled, s.instances, s.max_load, s.cps, s.umask], [true, 1215752191, 80, [4294967295, 10], 0o22]);
  assert.deepEqual(
    brief(r.diagnostics).map((d) => d.split(' ').slice(0, 3).join(' ')),
    ['9:14 warning instances:', '10:13 warning max_load:', '11:8 warning cps:'],
  );
  assert.equal(one(svc('\tport = 4294971296\n')).port, 4000);
  assert.equal(one(svc('\tmax_load = 2.5x\n')).max_load, 2.5);
  assert.equal(one(svc('\tinstances = 2147483648\n')).enabled, false, 'wraps to a negative number: refused');
  assert.deepEqual(one(svc('\tredirect = 10.0.0.1 4294967376\n')).redirect, { host: '10.0.0.1', port: 80 });
  assert.deepEqual(brief(buildText(svc('\tredirect = 10.0.0.1 0\n')).diagnostics), [
    "9:22 error bad value for 'redirect': '0' is neither a port number (1-65535) nor a tcp service of /etc/services; service 'x' is disabled, as xinetd does",
  ]);
});

test('per_source_cps (tsinetd extension): rate and burst', () => {
  assert.deepEqual(one(svc('\tper_source_cps = 2 5\n')).per_source_cps, [2, 5]);
  assert.equal(one(svc('')).per_source_cps, null);
  const r = buildText(svc('\tper_source_cps = 0 5\n'));
  assert.deepEqual(brief(r.diagnostics), [
    "9:19 error bad value for 'per_source_cps': the rate (connections per second) must be a number above 0; service 'x' is disabled, as xinetd does",
  ]);
});

// ---- Includes (sources.ts) ------------------------------------------------------------------------------

test('includedir: C-locale order; names with a dot or a final ~ and subdirectories are skipped', () => {
  const r = loadXinetdConfig(join(XINETD_FIXTURES, 'includedir', 'xinetd.conf'), { db: fixtureDb(), probe: fakeProbe, ...AS_ROOT });
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['svc-B', 'svc-_x', 'svc-a', 'svc-b'],
  );
  const d = join(XINETD_FIXTURES, 'includedir', 'd');
  assert.deepEqual(
    r.files.slice(1),
    ['B', '_x', 'a', 'b'].map((n) => join(d, n)),
  );
  assert.deepEqual(
    r.diagnostics.map((x) => `${x.severity} ${x.message}`),
    [
      `warning a relative path: tsinetd reads ${d}, next to this file; xinetd reads 'd' from its working directory (write an absolute path) [versus xinetd: tsinetd may start more]`,
      `warning ${join(d, 'sub')}: not a regular file: skipped (as xinetd does)`,
      // ids are compared without regard to case, as xinetd does
      `warning the id 'svc-b' is also used by service 'svc-B' (${join(d, 'B')}:1): give each service its own 'id' (logs, dumps and reloads tell services apart by id)`,
    ],
  );
  // The defaults of d/b (a file of its own) add to the lists of the services that follow.
  assert.deepEqual(
    r.services.map((s) => s.only_from),
    [['127.0.0.1'], ['127.0.0.1'], ['127.0.0.1'], ['127.0.0.1', '127.0.0.2']],
  );
  assert.ok(r.services.every((s) => s.instances === 20));
});

test('include: relative to the including file; a missing file is an error at the path; loading goes on', () => {
  const main = join(XINETD_FIXTURES, 'include', 'xinetd.conf');
  const r = loadXinetdConfig(main, { db: fixtureDb(), probe: fakeProbe, ...AS_ROOT });
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['one', 'after'],
  );
  const parts = join(XINETD_FIXTURES, 'include', 'parts');
  assert.deepEqual(brief(r.diagnostics), [
    `2:9 warning a relative path: tsinetd reads ${join(parts, 'one')}, next to this file; xinetd reads 'parts/one' from its working directory (write an absolute path) [versus xinetd: tsinetd may start more]`,
    `3:9 warning a relative path: tsinetd reads ${join(parts, 'missing')}, next to this file; xinetd reads 'parts/missing' from its working directory (write an absolute path) [versus xinetd: tsinetd may start more]`,
    `3:9 error cannot read the included file ${join(parts, 'missing')}: no such file or directory`,
  ]);
});

test('an include cycle is not followed, and no service starts (xinetd follows it until it crashes)', () => {
  const tree = loadConfigTree(join(XINETD_FIXTURES, 'cycle', 'a.conf'));
  assert.deepEqual(
    tree.entries.map((e) => (e.node.kind === 'service' ? e.node.name.text : e.node.kind)),
    ['time'],
  );
  assert.equal(tree.diagnostics.length, 3);
  assert.match(tree.diagnostics[0]!.message, /^a relative path: /);
  assert.match(
    tree.diagnostics[2]!.message,
    /a\.conf includes itself \(through 2 files\): xinetd reads it again and again until it crashes, starting nothing; tsinetd starts none of the services$/,
  );
  assert.equal(tree.startsNothing, true);
  const r = loadXinetdConfig(join(XINETD_FIXTURES, 'cycle', 'a.conf'), { db: fixtureDb(), probe: fakeProbe });
  assert.deepEqual(
    r.services.map((s) => [s.id, s.enabled]),
    [['time', false]],
  );
});

test('an unreadable main file is one diagnostic, not a throw', () => {
  const r = loadXinetdConfig('/nonexistent/xinetd.conf', { db: fixtureDb(), probe: fakeProbe, ...AS_ROOT });
  assert.deepEqual(brief(r.diagnostics), ['1:1 error cannot read the configuration file /nonexistent/xinetd.conf: no such file or directory']);
  assert.deepEqual(r.services, []);
});

test('the skip rules and the C-locale order', () => {
  assert.deepEqual(['b', 'a', 'B', '_x', 'Z9', 'é'].sort(compareCLocale), ['B', 'Z9', '_x', 'a', 'b', 'é']);
  assert.deepEqual(['ftp', 'ftp.rpmnew', 'ftp~', '.hidden', 'a.b'].map(skippedByName), [false, true, true, true, true]);
});

test('any attribute with any values, in a service or in defaults, never throws in build or checks (property)', () => {
  const word = fc.constantFrom(
    '',
    'yes',
    'no',
    '0',
    '-1',
    '10K',
    'UNLIMITED',
    'FILE',
    'SYSLOG',
    'daemon',
    '/x',
    '#',
    'a=b',
    '1:00-2:00',
    '10.0.0.{1,2}',
    '::1',
    'x,y',
    '{',
    'http',
  );
  const line = fc.tuple(fc.constantFrom(...ATTRIBUTES.map((a) => a.name)), fc.constantFrom('=', '+=', '-='), fc.array(word, { maxLength: 5 }));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 6 }), fc.array(line, { maxLength: 6 }), (defaults, service) => {
      const body = (lines: [string, string, string[]][]): string => lines.map(([n, op, vs]) => `\t${n} ${op} ${vs.join(' ')}\n`).join('');
      const r = buildText(`defaults\n{\n${body(defaults)}}\nservice echo\n{\n${body(service)}}\n`);
      const findings = [
        ...checkServices(r.services, { db: fixtureDb(), probe: fakeProbe }),
        ...checkPortClashes(r.services.map(placedBlock), () => true),
        ...checkDuplicateIds(r.services, () => true),
      ];
      for (const d of [...r.diagnostics, ...findings.map((f) => f.diagnostic)]) assert.ok(d.line >= 1 && d.column >= 1);
    }),
    { numRuns: 400 },
  );
});
