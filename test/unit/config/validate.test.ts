// src/config/validate.ts: one check at a time on services built from text, with the fixture /etc files
// and a fake file system; then their effects through loadXinetdConfig (enabled / problems).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltService } from '../../../src/config/xinetd/build.js';
import { loadXinetdConfig } from '../../../src/config/config.js';
import {
  checkInternal,
  checkMux,
  checkNameInArgs,
  checkPort,
  checkRedirect,
  checkRequiredAttributes,
  checkRpcProgram,
  checkServer,
  checkUnsupported,
  checkUserGroup,
  type CheckEnv,
  type Finding,
} from '../../../src/config/validate.js';
import { checkDuplicateIds, checkPortClashes, checkRpcClashes, placedBlock, placedLine } from '../../../src/config/validate-across.js';
import { loadInetdText } from '../../../src/config/inetd/inetd.js';
import { fixtureEnv } from './inetd/inetd-fixture-env.js';
import { AS_ROOT, buildText, fakeProbe, fixtureDb } from './xinetd/xinetd-fixture-env.js';

const env: CheckEnv = { db: fixtureDb(), probe: fakeProbe };

type Check = (b: BuiltService, i: number, env: CheckEnv) => Finding[];

/** Runs one check on the first service of `text`: "line:col severity effect message". */
function run(check: Check, text: string): string[] {
  const b = buildText(text).services[0]!;
  return check(b, 0, env).map((f) => `${f.diagnostic.line}:${f.diagnostic.column} ${f.diagnostic.severity} ${f.effect} ${f.diagnostic.message}`);
}

const entry = (name: string, body: string): string => `service ${name}\n{\n${body}}\n`;
const ext = (more = ''): string => `\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/prog\n${more}`;

test('required attributes: socket_type and wait always; user and server for programs; protocol and port when UNLISTED', () => {
  assert.deepEqual(run(checkRequiredAttributes, entry('telnet', '\tserver = /bin/x\n')), [
    "1:9 error disable service 'telnet' is missing the required attributes 'socket_type', 'wait', 'user'; xinetd disables it",
  ]);
  assert.deepEqual(run(checkRequiredAttributes, entry('x', '\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/p\n')), [
    "1:9 error disable service 'x' is missing the required attribute 'port'; xinetd disables it",
  ]);
  assert.deepEqual(run(checkRequiredAttributes, entry('echo', '\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n')), []);
  assert.deepEqual(run(checkRequiredAttributes, entry('x', '\ttype = UNLISTED\n\tport = 1\n\tsocket_type = stream\n\twait = no\n\tredirect = 10.0.0.1 80\n')), [
    "1:9 error disable service 'x' is missing the required attribute 'user'; xinetd disables it",
  ]);
  assert.deepEqual(run(checkRequiredAttributes, entry('x', '\ttype = RPC UNLISTED\n' + ext())), [
    "1:9 error disable service 'x' is missing the required attributes 'rpc_version', 'rpc_number'; xinetd disables it",
  ]);
});

test("RPC: the program number is /etc/rpc's for the name or an alias, unless UNLISTED", () => {
  const rpc = (name: string, more = ''): string =>
    entry(name, `\ttype = RPC${more}\n\tsocket_type = dgram\n\tprotocol = udp\n\trpc_version = 2-4\n\twait = yes\n\tuser = root\n\tserver = /bin/prog\n`);
  const number = (text: string): number | null => buildText(text).services[0]!.service.rpc_number;
  assert.equal(number(rpc('rstatd')), 100001);
  assert.equal(number(rpc('rup')), 100001, 'an alias');
  assert.equal(number(rpc('rusersd')), 100002);
  // xinetd takes /etc/rpc's number even when rpc_number is set (confparse.c).
  assert.equal(number(rpc('rstatd').replace('\twait', '\trpc_number = 300000\n\twait')), 100001);
  assert.equal(number(rpc('mine', ' UNLISTED').replace('\twait', '\trpc_number = 300000\n\twait')), 300000);
  assert.deepEqual(run(checkRpcProgram, rpc('rstatd')), []);
  assert.deepEqual(run(checkRpcProgram, rpc('nosuchprog')), [
    "1:9 error disable unknown RPC service: nosuchprog (not in /etc/rpc, by name or alias); xinetd disables service 'nosuchprog'",
  ]);
  assert.deepEqual(run(checkRpcProgram, rpc('nosuchprog', ' UNLISTED')), [], 'UNLISTED: rpc_number is required instead');
  assert.deepEqual(run(checkPort, rpc('rstatd')), [], 'no port: an ephemeral one, registered with rpcbind');
  assert.deepEqual(run(checkUnsupported, rpc('rstatd')), []);
  assert.deepEqual(run(checkUnsupported, rpc('rstatd').replace('2-4', '1-300')), [
    '6:16 warning none not supported by tsinetd: rpc_version 1-300: only the first 256 versions are registered [versus xinetd: the same clients are admitted]',
  ]);
});

test('port: the name must be in /etc/services unless UNLISTED, and a given port must match it', () => {
  assert.deepEqual(run(checkPort, entry('telnet', ext())), []);
  assert.deepEqual(run(checkPort, entry('telnet', ext('\tport = 2323\n'))), [
    "7:9 error disable /etc/services gives telnet/tcp port 23, not 2323: add 'type = UNLISTED' to run it on another port; xinetd disables service 'telnet'",
  ]);
  assert.deepEqual(run(checkPort, entry('mysqlchk', ext('\tport = 9200\n'))), [
    "1:9 error disable 'mysqlchk/tcp' is not in /etc/services: add 'type = UNLISTED' to use a name /etc/services does not list; xinetd disables service 'mysqlchk'",
  ]);
  assert.deepEqual(run(checkPort, entry('vnc', ext())), [
    "1:9 error disable 'vnc/tcp' is not in /etc/services: add 'type = UNLISTED' and 'port = N', or add the service to /etc/services; xinetd disables service 'vnc'",
  ]);
  assert.deepEqual(run(checkPort, entry('mysqlchk', ext('\ttype = UNLISTED\n\tport = 9200\n'))), []);
});

test('port: /etc/services is looked up with the protocol as written (xinetd: http/TCP is not http/tcp)', () => {
  assert.deepEqual(run(checkPort, entry('telnet', ext('\tprotocol = TCP\n'))), [
    "7:13 error disable 'telnet/TCP' is not in /etc/services (it lists telnet/tcp; the protocol is looked up as written): write 'protocol = tcp'; xinetd disables service 'telnet'",
  ]);
  assert.deepEqual(run(checkPort, entry('telnet', ext('\tprotocol = TCP\n\tport = 23\n'))).length, 1);
  assert.deepEqual(run(checkPort, entry('tftp', '\tsocket_type = dgram\n\tprotocol = UDP\n\twait = yes\n\tuser = root\n\tserver = /bin/prog\n')).length, 1);
  // Internal services are looked up too; UNLISTED services with a port are not.
  assert.deepEqual(run(checkPort, entry('echo', '\ttype = INTERNAL\n\tsocket_type = stream\n\tprotocol = TCP\n\twait = no\n')).length, 1);
  assert.deepEqual(run(checkPort, entry('mysqlchk', ext('\ttype = UNLISTED\n\tport = 9200\n\tprotocol = TCP\n'))), []);
  assert.deepEqual(run(checkPort, entry('telnet', ext('\tprotocol = tcp\n'))), []);
  // The socket is still TCP: only the lookup uses the written name.
  assert.equal(buildText(entry('x', ext('\ttype = UNLISTED\n\tport = 9200\n\tprotocol = TCP\n'))).services[0]!.service.protocol, 'tcp');
});

test('internal services: known names only; servers, services, xadmin are xinetd-only; tcpmux is served; no NAMEINARGS', () => {
  assert.deepEqual(run(checkInternal, entry('daytime', '\ttype = INTERNAL\n\tsocket_type = dgram\n\twait = yes\n')), []);
  assert.deepEqual(run(checkInternal, entry('git', '\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n')), [
    "1:9 error disable there is no internal service 'git' for socket_type stream (internal services are chosen by service name: echo, discard, daytime, chargen, time, and tcpmux for stream); xinetd disables service 'git'",
  ]);
  assert.deepEqual(run(checkInternal, entry('tcpmux', '\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n')), []);
  assert.deepEqual(run(checkInternal, entry('tcpmux', '\ttype = INTERNAL\n\tsocket_type = dgram\n\twait = yes\n')), [
    "1:9 error disable there is no internal service 'tcpmux' for socket_type dgram (internal services are chosen by service name: echo, discard, daytime, chargen, time, and tcpmux for stream); xinetd disables service 'tcpmux'",
  ]);
  assert.deepEqual(run(checkInternal, entry('xadmin', '\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n')), [
    "1:9 error problem not supported by tsinetd: xinetd's internal service 'xadmin' [versus xinetd: tsinetd starts less]",
  ]);
  assert.deepEqual(run(checkInternal, entry('echo', '\ttype = INTERNAL\n\tflags = NAMEINARGS\n\tsocket_type = stream\n\twait = no\n')), [
    "4:10 error disable service 'echo' is internal and has the NAMEINARGS flag; xinetd disables it",
  ]);
});

test('TCPMUX services: UNLISTED and protocol tcp, else xinetd disables them; the others are not concerned', () => {
  const mux = (type: string, protocol = 'tcp'): string => entry('date', `\ttype = ${type}\n\tprotocol = ${protocol}\n${ext()}`);
  assert.deepEqual(run(checkMux, mux('TCPMUX UNLISTED')), []);
  assert.deepEqual(run(checkMux, mux('TCPMUXPLUS UNLISTED')), []);
  assert.deepEqual(run(checkMux, mux('TCPMUXPLUS')), [
    "3:9 error disable service 'date' is a TCPMUX service and should have UNLISTED in type; xinetd disables it",
  ]);
  assert.deepEqual(run(checkMux, mux('TCPMUX UNLISTED', 'udp')), [
    "4:13 error disable service 'date' is a TCPMUX service and should have tcp in protocol; xinetd disables it",
  ]);
  assert.deepEqual(run(checkMux, entry('date', `\ttype = UNLISTED\n\tprotocol = udp\n\tport = 13\n${ext()}`)), []);
});

test('redirect: stream and nowait only; TRAFFIC only with redirect (also when inherited)', () => {
  assert.deepEqual(run(checkRedirect, entry('x', '\tsocket_type = dgram\n\twait = yes\n\tredirect = 10.0.0.1 53\n')), [
    "5:13 error disable only stream (tcp) services can be redirected; xinetd disables service 'x'",
    "5:13 error disable a redirected service must have 'wait = no'; xinetd disables service 'x'",
  ]);
  assert.deepEqual(run(checkRedirect, 'defaults\n{\n\tlog_on_success = PID TRAFFIC\n}\n' + entry('telnet', ext())), [
    "5:9 error disable log_on_success TRAFFIC (inherited from defaults) is only for redirected services; xinetd disables service 'telnet'",
  ]);
});

test('NAMEINARGS needs server_args', () => {
  assert.deepEqual(run(checkNameInArgs, entry('telnet', ext('\tflags = NAMEINARGS\n'))), [
    "7:10 error disable the NAMEINARGS flag needs 'server_args' (its first word is argv[0]); xinetd disables service 'telnet'",
  ]);
  assert.deepEqual(run(checkNameInArgs, entry('telnet', ext('\tflags = NAMEINARGS\n\tserver_args = tcpd in.telnetd\n'))), []);
});

test('server: absolute, existing, a regular file, executable — else a problem (the service stays enabled)', () => {
  const server = (path: string): string[] => run(checkServer, entry('telnet', `\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = ${path}\n`));
  assert.deepEqual(server('/usr/sbin/in.telnetd'), []);
  assert.deepEqual(server('/missing/in.telnetd'), [
    '6:11 error problem server /missing/in.telnetd does not exist; xinetd disables such a service; tsinetd will not start it',
  ]);
  assert.deepEqual(server('/dir/x'), ['6:11 error problem server /dir/x is a directory; xinetd disables such a service; tsinetd will not start it']);
  assert.deepEqual(server('/noexec/x'), ['6:11 error problem server /noexec/x is not executable; xinetd disables such a service; tsinetd will not start it']);
  assert.deepEqual(server('bin/x'), ["6:11 error problem server 'bin/x' is not an absolute path; xinetd disables such a service; tsinetd will not start it"]);
});

test('an internal service whose written server is not executable is not started, as xinetd disables it', () => {
  const internal = (server: string) => entry('echo', `\ttype = INTERNAL UNLISTED\n\tport = 7\n\tserver = ${server}\n`);
  assert.deepEqual(run(checkServer, internal('/bin/sh')), []);
  assert.deepEqual(
    run(checkServer, internal('/noexec/passwd')).map((l) => l.replace(/^\d+:\d+ /, '')),
    ['error problem server /noexec/passwd is not executable; xinetd disables such a service; tsinetd will not start it'],
  );
});

test('user and group must exist; numeric ids are taken as they are', () => {
  assert.deepEqual(run(checkUserGroup, entry('telnet', ext('\tgroup = tty\n'))), []);
  assert.deepEqual(run(checkUserGroup, entry('telnet', '\tuser = 4242\n\tgroup = 4242\n')), []);
  assert.deepEqual(run(checkUserGroup, entry('telnet', '\tuser = ctf\n\tgroup = nagios\n')), [
    "3:9 error problem unknown user 'ctf' (not in /etc/passwd); xinetd disables such a service; tsinetd will not start it",
    "4:10 error problem unknown group 'nagios' (not in /etc/group); xinetd disables such a service; tsinetd will not start it",
  ]);
});

test('unsupported features: errors (problems) when the service cannot work, warnings when ignored', () => {
  assert.deepEqual(run(checkUnsupported, entry('x', '\ttype = RPC\n\tsocket_type = raw\n\tflags = LABELED INTERCEPT\n\tlibwrap = x\n')), [
    "4:16 error problem not supported by tsinetd: socket_type = raw; service 'x' will not be started [versus xinetd: tsinetd starts less]",
    "5:10 error problem not supported by tsinetd: flags = LABELED (SELinux labeled networking); service 'x' will not be started [versus xinetd: tsinetd starts less]",
    '5:10 warning none not supported by tsinetd: flags = INTERCEPT is ignored (addresses are checked on every connection anyway) [versus xinetd: the same clients are admitted]',
  ]);
  // IDONLY with USERID logging is served (ident.ts): nothing to report.
  assert.deepEqual(run(checkUnsupported, entry('x', '\tflags = IDONLY\n\tlog_on_success = USERID\n')), []);
  assert.deepEqual(run(checkUnsupported, entry('x', '\tflags = IDONLY\n')), [
    '3:10 warning none flags = IDONLY has no effect without USERID in log_on_success or log_on_failure (as in xinetd)',
  ]);
  assert.deepEqual(run(checkUnsupported, entry('x', '\ttype = TCPMUX\n\tprotocol = icmp\n')), [
    "4:13 error problem not supported by tsinetd: protocol icmp (only tcp and udp); service 'x' will not be started [versus xinetd: tsinetd starts less]",
  ]);
});

test('port clashes: TCP, the later of two enabled services on one port/address is turned off; UDP, both run with a warning', () => {
  const text =
    entry('a', '\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 7000\n') +
    entry('b', '\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 7000\n') +
    entry('c', '\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\twait = yes\n\tport = 7000\n') +
    entry('d', '\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 7000\n\tbind = 127.0.0.1\n') +
    entry('e', '\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\twait = yes\n\tport = 7000\n');
  const built = buildText(text).services;
  const f = checkPortClashes(built.map(placedBlock), () => true);
  assert.deepEqual(
    f.map((x) => [x.index, x.effect, x.diagnostic.severity, `${x.diagnostic.line}:${x.diagnostic.column}`, x.diagnostic.message]),
    [
      [
        1,
        'disable',
        'error',
        '8:9',
        "port 7000/tcp on all addresses is already used by service 'a' (test.conf:1); xinetd cannot start service 'b' either (its bind fails): it is disabled",
      ],
      [
        4,
        'none',
        'warning',
        '30:9',
        "port 7000/udp on all addresses is already used by service 'c' (test.conf:15); both start, as under xinetd (datagram sockets share a port), and the system gives each datagram to one of them: the socket bound last (service 'e'), unless only one of the two is IPv4-only, which then gets the IPv4 datagrams",
      ],
    ],
  );
  assert.deepEqual(
    checkPortClashes(built.map(placedBlock), (i) => i !== 0 && i !== 2),
    [],
  );
});

test('port clashes at scale: 2,000 services on one port, one address each; the twins are found by address, a disabled one is no twin', () => {
  const svc = (name: string, bind: string | null): string =>
    entry(name, `\tid = ${name}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\twait = yes\n\tport = 7000\n${bind === null ? '' : `\tbind = ${bind}\n`}`);
  const parts: string[] = [];
  for (let i = 0; i < 2000; i++) parts.push(svc(`s${i}`, `10.0.${i >> 8}.${i & 255}`));
  parts.push(svc('again', '10.0.3.7'), svc('upper', '10.0.0.1'), svc('any', null), svc('late', '10.9.9.9'));
  const placed = buildText(parts.join('')).services.map(placedBlock);
  const who = (i: number): string => placed[i]!.service.id;
  const f = checkPortClashes(placed, () => true);
  assert.deepEqual(
    f.map((x) => [who(x.index), x.effect]),
    [
      ['again', 'disable'],
      ['upper', 'disable'],
      ['any', 'disable'],
    ],
  );
  assert.match(f[0]!.diagnostic.message, /as service 's775' .*bound to 10\.0\.3\.7\)/);
  assert.match(f[2]!.diagnostic.message, /as service 's0' .*bound to 10\.0\.0\.0\)/);
  // s0 and s775 off by other checks: 'any' is the twin of s1, and 'again' has none.
  const off = new Set([0, 775]);
  assert.deepEqual(
    checkPortClashes(placed, (i) => !off.has(i)).map((x) => [who(x.index), x.diagnostic.message.match(/as service '(\w+)'/)?.[1]]),
    [
      ['upper', 's1'],
      ['any', 's1'],
    ],
  );
});

test("port clashes: xinetd's check_entry disables a later service on the port and protocol of an earlier one with a bind address", () => {
  const svc = (name: string, proto: 'stream' | 'dgram', more = ''): string =>
    entry(name, `\tid = ${name}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = ${proto}\n\twait = ${proto === 'dgram' ? 'yes' : 'no'}\n\tport = 7000\n${more}`);
  const bound = buildText(
    svc('lo', 'dgram', '\tbind = 127.0.0.1\n') +
      svc('any', 'dgram') +
      svc('lo2', 'dgram', '\tbind = 127.0.0.1\n') +
      svc('other', 'dgram', '\tbind = 127.0.0.2\n'),
  ).services;
  const f = checkPortClashes(bound.map(placedBlock), () => true);
  assert.deepEqual(
    f.map((x) => [x.index, x.effect]),
    [
      [1, 'disable'],
      [2, 'disable'],
    ],
  );
  assert.match(
    f[0]!.diagnostic.message,
    /^port 7000\/udp on all addresses as service 'lo' \(test\.conf:1, bound to 127\.0\.0\.1\): xinetd calls service 'any' identical/,
  );
  // The other way round (wildcard first) xinetd compares nothing: both run, each on its own address.
  assert.deepEqual(
    checkPortClashes(buildText(svc('any', 'dgram') + svc('lo', 'dgram', '\tbind = 127.0.0.1\n')).services.map(placedBlock), () => true),
    [],
  );
  // Another protocol on the same port is no twin.
  assert.deepEqual(
    checkPortClashes(buildText(svc('lo', 'dgram', '\tbind = 127.0.0.1\n') + svc('any', 'stream')).services.map(placedBlock), () => true),
    [],
  );
});

test('port clashes follow address families: IPv4 + IPv6-only share a port, dual-stack + IPv4 do not', () => {
  const svc = (name: string, more: string): string =>
    entry(name, `\tid = ${name}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 7000\n${more}`);
  const split = buildText(svc('v4', '\tflags = IPv4\n') + svc('v6', '\tflags = IPv6\n\tv6only = yes\n')).services;
  assert.deepEqual(
    checkPortClashes(split.map(placedBlock), () => true),
    [],
  );
  const dual = buildText(svc('dual', '') + svc('v4', '\tflags = IPv4\n')).services;
  assert.deepEqual(
    checkPortClashes(dual.map(placedBlock), () => true).map((x) => x.index),
    [1],
  );
  const dual6 = buildText(svc('v6', '\tflags = IPv6\n\tv6only = yes\n') + svc('dual', '')).services;
  assert.deepEqual(
    checkPortClashes(dual6.map(placedBlock), () => true).map((x) => x.index),
    [1],
  );
});

test('port clashes over the whole table: an inetd.conf service loses to an earlier xinetd one on its port, as under xinetd -inetd_compat', () => {
  const svc = (name: string, port: number, more = ''): string =>
    entry(
      name,
      `\ttype = INTERNAL UNLISTED\n\tsocket_type = ${more.includes('dgram') ? 'dgram' : 'stream'}\n\twait = ${more.includes('dgram') ? 'yes' : 'no'}\n\tport = ${port}\n${more.replace('dgram', '')}`,
    );
  const xinetd = buildText(svc('x', 7000) + svc('lo', 7001, '\tbind = 127.0.0.1\n') + svc('u', 7002, 'dgram') + svc('v4', 7004, '\tflags = IPv4\n')).services;
  const inetd = loadInetdText(
    'inetd.conf',
    [
      '7000\tstream\ttcp\tnowait\troot\t/bin/cat\tcat', // IPv4 + IPv6 sockets: both slots taken by x
      '127.0.0.1:7001\tstream\ttcp\tnowait\troot\t/bin/cat\tcat', // xinetd's "identical" rule
      '7002\tdgram\tudp\twait\troot\t/bin/cat\tcat', // datagram sockets share a port
      '7004\tstream\ttcp6\tnowait\troot\t/bin/cat\tcat', // IPv6 only, beside an IPv4-only socket
      '7005\tstream\ttcp4\tnowait\troot\t/bin/cat\tcat',
      '7005\tstream\ttcp46\tnowait\troot\t/bin/cat\tcat', // a later inetd line loses to an earlier one
    ].join('\n') + '\n',
    'openbsd',
    fixtureEnv(),
  ).services;
  const placed = [...xinetd.map(placedBlock), ...inetd.map(placedLine)];
  const f = checkPortClashes(placed, () => true);
  const who = (i: number): string => `${placed[i]!.service.id}@${placed[i]!.service.port}`;
  assert.deepEqual(
    f.map((x) => [who(x.index), x.effect, x.diagnostic.severity, `${x.diagnostic.file}:${x.diagnostic.line}:${x.diagnostic.column}`]),
    [
      ['7000@7000', 'disable', 'error', 'inetd.conf:1:1'],
      ['7001@7001', 'disable', 'error', 'inetd.conf:2:1'],
      ['7002@7002', 'none', 'warning', 'inetd.conf:3:1'],
      [`${inetd[5]!.id}@7005`, 'disable', 'error', 'inetd.conf:6:1'],
    ],
  );
  // The loser's diagnostic names the winner and where it is defined.
  assert.match(
    f[0]!.diagnostic.message,
    /^port 7000\/tcp on all addresses is already used by service 'x' \(test\.conf:1\); xinetd cannot start service '7000' either/,
  );
  assert.match(f[1]!.diagnostic.message, /as service 'lo' \(test\.conf:\d+, bound to 127\.0\.0\.1\): xinetd calls service '7001' identical to it/);
  assert.match(f[3]!.diagnostic.message, /is already used by service '7005' \(id 7005\/tcp4\) \(inetd\.conf:5\)/);
  // With the xinetd service off, the inetd.conf one keeps its port.
  assert.deepEqual(
    checkPortClashes(placed, (i) => i !== 0).map((x) => who(x.index)),
    ['7001@7001', '7002@7002', `${inetd[5]!.id}@7005`],
  );
});

test('RPC clashes: the first service gets a program version over a transport; a later one without any version left is turned off', () => {
  const rpc = (id: string, proto: 'udp' | 'tcp', versions: string, more = ''): string =>
    entry(
      'rstatd',
      `\tid = ${id}\n\ttype = RPC\n\tsocket_type = ${proto === 'udp' ? 'dgram' : 'stream'}\n\tprotocol = ${proto}\n\trpc_version = ${versions}\n` +
        `\twait = ${proto === 'udp' ? 'yes' : 'no'}\n\tuser = root\n\tserver = /bin/rstatd\n${more}`,
    );
  // As measured with xinetd 2.3.15.3: a (1-2), then b (2-3) loses version 2 and keeps 3, c (1-2) loses
  // both and is deactivated; t (tcp) is another netid; d, bound elsewhere, still clashes (xinetd
  // registers every RPC socket as "udp"); an inetd.conf line comes after the xinetd services.
  const xinetd = buildText(
    rpc('a', 'udp', '1-2') + rpc('b', 'udp', '2-3') + rpc('c', 'udp', '1-2') + rpc('t', 'tcp', '2-3') + rpc('d', 'udp', '3-5', '\tbind = 127.0.0.1\n'),
  ).services;
  const inetd = loadInetdText('inetd.conf', 'rstatd/3-5\tdgram\trpc/udp\twait\troot\t/bin/rstatd\trstatd\n', 'openbsd', fixtureEnv()).services;
  const placed = [...xinetd.map(placedBlock), ...inetd.map(placedLine)];
  assert.deepEqual(
    xinetd.map((b) => b.service.problems),
    xinetd.map(() => []),
  );
  const f = checkRpcClashes(placed, () => true);
  assert.deepEqual(
    f.map((x) => [
      placed[x.index]!.service.id,
      x.effect,
      x.diagnostic.code,
      x.diagnostic.severity,
      `${x.diagnostic.file}:${x.diagnostic.line}:${x.diagnostic.column}`,
    ]),
    [
      ['b', 'none', 'rpc-clash', 'warning', 'test.conf:12:9'],
      ['c', 'disable', 'rpc-clash', 'error', 'test.conf:23:9'],
      ['d', 'none', 'rpc-clash', 'warning', 'test.conf:45:9'],
      [inetd[0]!.id, 'disable', 'rpc-clash', 'error', 'inetd.conf:1:1'],
    ],
  );
  assert.equal(
    f[0]!.diagnostic.message,
    "RPC program 100001 over udp: version 2 is registered by service 'rstatd' (id a) (test.conf:1) first; rpcbind refuses each of them again, so service 'rstatd' (id b) registers only its other versions (xinetd and tsinetd log \"pmap_set failed\" for these)",
  );
  assert.match(
    f[1]!.diagnostic.message,
    /versions 1-2 are registered by service 'rstatd' \(id a\) .*deactivates service 'rstatd' \(id c\) \("failed to start"\): it is disabled$/,
  );
  // Version 3 belongs to b, 4-5 to d: the inetd.conf line has nothing left.
  assert.match(
    f[3]!.diagnostic.message,
    /^RPC program 100001 over udp: version 3 is registered by service 'rstatd' \(id b\) \(test\.conf:12\) first; versions 4-5 are registered by service 'rstatd' \(id d\) \(test\.conf:45\) first;/,
  );
  // A service turned off takes nothing: with a off, b has 2-3 and c gets 1; the inetd.conf line still has none.
  assert.deepEqual(
    checkRpcClashes(placed, (i) => i !== 0).map((x) => [placed[x.index]!.service.id, x.effect, x.diagnostic.message.replace(/;.*/, '')]),
    [
      ['c', 'none', "RPC program 100001 over udp: version 2 is registered by service 'rstatd' (id b) (test.conf:12) first"],
      ['d', 'none', "RPC program 100001 over udp: version 3 is registered by service 'rstatd' (id b) (test.conf:12) first"],
      [inetd[0]!.id, 'disable', "RPC program 100001 over udp: version 3 is registered by service 'rstatd' (id b) (test.conf:12) first"],
    ],
  );
});

test('duplicate ids (compared without regard to case) are warned about', () => {
  const text =
    entry('echo', '\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n') +
    entry('echo', '\tid = ECHO\n\ttype = INTERNAL\n\tsocket_type = dgram\n\twait = yes\n');
  const f = checkDuplicateIds(buildText(text).services, () => true);
  assert.deepEqual(
    f.map((x) => [x.index, x.effect, `${x.diagnostic.line}:${x.diagnostic.column}`]),
    [[1, 'none', '9:7']],
  );
});

test('through loadXinetdConfig: problems keep a service enabled, errors that xinetd drops it for disable it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-validate-'));
  try {
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(
      conf,
      entry('telnet', '\tsocket_type = stream\n\twait = no\n\tuser = nosuchuser\n\tserver = /missing/in.telnetd\n') +
        entry('finger', '\tsocket_type = stream\n\tuser = root\n\tserver = /usr/sbin/in.fingerd\n'),
    );
    const r = loadXinetdConfig(conf, { db: fixtureDb(), probe: fakeProbe, ...AS_ROOT });
    const [telnet, finger] = r.services;
    assert.deepEqual([telnet!.enabled, telnet!.problems], [true, ['server /missing/in.telnetd does not exist', "unknown user 'nosuchuser'"]]);
    assert.deepEqual([finger!.enabled, finger!.problems], [false, []]);
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.line}:${d.column} ${d.severity}`),
      ['5:9 error', '6:11 error', '8:9 error'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
