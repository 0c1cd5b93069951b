// inetd.conf -> Services: the meaning of every field in each dialect, dialect detection,
// replacement of repeated entries, ids, and the fixture files (fixtures/conf/inetd/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatDiagnostic } from '../../../../src/diagnostics.js';
import { inetdIds, parseCUnsigned } from '../../../../src/config/inetd/inetd-build.js';
import { detectDialect } from '../../../../src/config/inetd/inetd-dialect.js';
import { parseInetdText } from '../../../../src/config/inetd/inetd-syntax.js';
import { loadInetdFile, loadInetdText, type InetdDialect, type InetdLoadResult } from '../../../../src/config/inetd/inetd.js';
import type { Service } from '../../../../src/table.js';
import { fixtureEnv, INETD_FIXTURES } from './inetd-fixture-env.js';

function load(text: string, dialect: InetdDialect = 'auto'): InetdLoadResult {
  return loadInetdText('t.conf', text, dialect, fixtureEnv());
}

function loadFixture(name: string, dialect: InetdDialect = 'auto'): InetdLoadResult {
  return loadInetdText(name, readFileSync(join(INETD_FIXTURES, name), 'utf8'), dialect, fixtureEnv());
}

function byId(r: InetdLoadResult): Map<string, Service> {
  return new Map(r.services.map((s) => [s.id, s]));
}

/** The fields that differ between inetd services, for compact expectations. */
function brief(s: Service) {
  return {
    name: s.name,
    socket_type: s.socket_type,
    protocol: s.protocol,
    port: s.port,
    wait: s.wait,
    user: s.user,
    group: s.group,
    server: s.server,
    server_argv: s.server_argv,
    flags: s.flags,
    v6only: s.v6only,
    family_sockets: s.family_sockets,
    bind: s.bind,
    rate: s.inetd_rate?.max,
    instances: s.instances,
    per_source: s.per_source,
    per_source_per_minute: s.per_source_per_minute,
  };
}

const RATE = { per_seconds: 60, shutdown_seconds: 600 };

// ---- the fixture files -----------------------------------------------------------------------

test('openbsd.conf: every OpenBSD/Debian form becomes the expected Service', () => {
  const r = loadFixture('openbsd.conf');
  assert.equal(r.dialect, 'openbsd');
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`),
    [
      '9:21: warning: tsinetd does not set socket buffer sizes: `sndbuf=64k` is ignored',
      '9:32: warning: tsinetd does not set socket buffer sizes: `rcvbuf=16384` is ignored',
    ],
  );
  const s = byId(r);
  const common = { instances: null, per_source: null, per_source_per_minute: null, family_sockets: false };
  const x = (o: Record<string, unknown>): Record<string, unknown> => ({ ...common, ...o });
  assert.deepEqual(
    [...s.keys()],
    [
      'ftp',
      'telnet',
      'finger',
      'comsat',
      'ntalk/udp',
      'ntalk/udp6',
      '41001',
      '127.0.0.1:41002/tcp',
      '127.0.0.2:41002/tcp',
      'echo/tcp',
      'echo/udp',
      'daytime/tcp',
      'daytime/tcp6',
    ],
  );
  const flags = (...f: string[]): string[] => ['NAMEINARGS', 'NOLIBWRAP', ...f];
  const expected: Record<string, Record<string, unknown>> = {
    // tcp = IPv4 and IPv6: two sockets, an AF_INET one and a v6only AF_INET6 one
    ftp: x({
      name: 'ftp',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 21,
      wait: false,
      user: 'root',
      group: null,
      server: '/usr/libexec/ftpd',
      server_argv: ['ftpd', '-US'],
      flags: flags(),
      v6only: true,
      family_sockets: true,
      bind: null,
      rate: 256,
    }),
    telnet: x({
      name: 'telnet',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 23,
      wait: false,
      user: 'root',
      group: 'root',
      server: '/usr/libexec/telnetd',
      server_argv: ['telnetd'],
      flags: flags('IPv4'),
      v6only: null,
      bind: null,
      rate: 400,
    }),
    finger: x({
      name: 'finger',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 79,
      wait: false,
      user: 'nobody',
      group: 'nogroup',
      server: '/usr/libexec/fingerd',
      server_argv: ['fingerd', '-lsm'],
      flags: flags('IPv6'),
      v6only: true,
      bind: null,
      rate: 10,
    }),
    // wait.0x20: inetd reads the max with strtoul(..., 0)
    comsat: x({
      name: 'comsat',
      socket_type: 'dgram',
      protocol: 'udp',
      port: 512,
      wait: true,
      user: 'tty',
      group: 'tty',
      server: '/usr/libexec/comsat',
      server_argv: ['comsat'],
      flags: flags(),
      v6only: true,
      family_sockets: true,
      bind: null,
      rate: 32,
    }),
    'ntalk/udp': x({
      name: 'ntalk',
      socket_type: 'dgram',
      protocol: 'udp',
      port: 518,
      wait: true,
      user: 'root',
      group: null,
      server: '/usr/libexec/ntalkd',
      server_argv: ['ntalkd'],
      flags: flags('IPv4'),
      v6only: null,
      bind: '127.0.0.1',
      rate: 256,
    }),
    'ntalk/udp6': x({
      name: 'ntalk',
      socket_type: 'dgram',
      protocol: 'udp',
      port: 518,
      wait: true,
      user: 'root',
      group: null,
      server: '/usr/libexec/ntalkd',
      server_argv: ['ntalkd'],
      flags: flags('IPv6'),
      v6only: true,
      bind: '::1',
      rate: 256,
    }),
    // tcp46 = dual-stack; no arguments = the program's base name as argv[0]
    '41001': x({
      name: '41001',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 41001,
      wait: false,
      user: 'daemon',
      group: null,
      server: '/bin/cat',
      server_argv: ['cat'],
      flags: flags(),
      v6only: false,
      bind: null,
      rate: 256,
    }),
    // a host list: one Service per address; the continuation line adds arguments
    '127.0.0.1:41002/tcp': x({
      name: '41002',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 41002,
      wait: false,
      user: 'first.last',
      group: 'staff',
      server: '/bin/cat',
      server_argv: ['cat', '-u', '-v'],
      flags: flags('IPv4'),
      v6only: null,
      bind: '127.0.0.1',
      rate: 256,
    }),
    '127.0.0.2:41002/tcp': x({
      name: '41002',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 41002,
      wait: false,
      user: 'first.last',
      group: 'staff',
      server: '/bin/cat',
      server_argv: ['cat', '-u', '-v'],
      flags: flags('IPv4'),
      v6only: null,
      bind: '127.0.0.2',
      rate: 256,
    }),
    // `127.0.0.1:` alone sets the host of the following lines, `*:` resets it
    'echo/tcp': x({
      name: 'echo',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 7,
      wait: false,
      user: 'root',
      group: null,
      server: null,
      server_argv: [],
      flags: ['NOLIBWRAP', 'IPv4'],
      v6only: null,
      bind: '127.0.0.1',
      rate: 256,
    }),
    'echo/udp': x({
      name: 'echo',
      socket_type: 'dgram',
      protocol: 'udp',
      port: 7,
      wait: true,
      user: 'root',
      group: null,
      server: null,
      server_argv: [],
      flags: ['NOLIBWRAP', 'IPv4'],
      v6only: null,
      bind: '127.0.0.1',
      rate: 256,
    }),
    // `daytime tcp` then `daytime tcp6`: the second takes the IPv6 half (inetd's REDO)
    'daytime/tcp': x({
      name: 'daytime',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 13,
      wait: false,
      user: 'root',
      group: null,
      server: null,
      server_argv: [],
      flags: ['NOLIBWRAP', 'IPv4'],
      v6only: null,
      bind: null,
      rate: 256,
    }),
    'daytime/tcp6': x({
      name: 'daytime',
      socket_type: 'stream',
      protocol: 'tcp',
      port: 13,
      wait: false,
      user: 'root',
      group: null,
      server: null,
      server_argv: [],
      flags: ['NOLIBWRAP', 'IPv6'],
      v6only: true,
      bind: null,
      rate: 256,
    }),
  };
  for (const [id, want] of Object.entries(expected)) assert.deepEqual(brief(s.get(id)!), want, id);
  for (const svc of r.services) {
    assert.equal(svc.dialect, 'inetd');
    assert.equal(svc.enabled, true);
    assert.deepEqual(svc.cps, [0, 0]);
    assert.deepEqual(svc.inetd_rate, { flavour: 'openbsd', max: brief(svc).rate, written: brief(svc).rate !== 256, ...RATE });
    assert.equal(svc.instances_at_limit, 'refuse');
    assert.equal(svc.groups, true);
    assert.deepEqual(svc.problems, []);
    assert.equal(svc.source.file, 'openbsd.conf');
    assert.deepEqual(svc.type, svc.server === null ? ['INTERNAL'] : []);
  }
  assert.equal(s.get('ftp')!.source.line, 3);
  assert.equal(s.get('127.0.0.2:41002/tcp')!.source.line, 10);
});

test('freebsd.conf: detected as FreeBSD; limits, login class, aliases, TCPMUX, unsupported entries', () => {
  const r = loadFixture('freebsd.conf');
  assert.equal(r.dialect, 'freebsd');
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}`),
    ['5:19: note', '6:45: warning', '13:1: warning', '14:1: error'],
  );
  assert.match(r.diagnostics[0]!.message, /FreeBSD inetd\.conf because of `nowait\/3\/10`/);
  assert.match(r.diagnostics[3]!.message, /IPsec policy of line 13/);
  const s = byId(r);
  assert.deepEqual([...s.keys()], ['ftp/tcp', 'ftp/tcp6', 'finger', 'shell', 'login', 'comsat', 'chargen', 'time', 'date', 'rstatd', 'tftp']);
  // tcpmux/+date: a TCPMUXPLUS service named date, with no port, served through tcpmux
  const date = s.get('date')!;
  assert.deepEqual([date.type, date.port, date.wait, date.server, date.server_argv], [['TCPMUXPLUS', 'UNLISTED'], null, false, '/bin/date', ['date']]);
  // rstatd/1-3 dgram rpc/udp: program 100001 from /etc/rpc, versions 1 to 3, no port (an ephemeral one).
  const rstatd = s.get('rstatd')!;
  assert.deepEqual([rstatd.type, rstatd.rpc_number, rstatd.rpc_version, rstatd.port, rstatd.protocol], [['RPC'], 100001, [1, 3], null, 'udp']);
  assert.deepEqual(rstatd.flags, ['NAMEINARGS', 'NOLIBWRAP', 'IPv4'], 'FreeBSD rpc/udp: IPv4, as udp');
  for (const svc of r.services) {
    assert.equal(svc.dialect, 'inetd-freebsd');
    assert.deepEqual(svc.inetd_rate, { flavour: 'openbsd', max: 256, written: false, ...RATE });
    assert.equal(svc.instances_at_limit, 'queue', 'max-child queues');
  }
  // FreeBSD tcp = IPv4 only
  assert.deepEqual(s.get('ftp/tcp')!.flags, ['NAMEINARGS', 'NOLIBWRAP', 'IPv4']);
  assert.deepEqual(s.get('ftp/tcp6')!.flags, ['NAMEINARGS', 'NOLIBWRAP', 'IPv6']);
  assert.equal(s.get('ftp/tcp6')!.v6only, true);
  // nowait/3/10: max-child 3, 10 connections per IP per minute
  assert.deepEqual([s.get('finger')!.instances, s.get('finger')!.per_source_per_minute, s.get('finger')!.per_source], [3, 10, null]);
  // nowait/0/20/2 on tcp46, user:group/class
  const shell = s.get('shell')!;
  assert.deepEqual([shell.instances, shell.per_source_per_minute, shell.per_source], [null, 20, 2]);
  assert.deepEqual([shell.flags, shell.v6only, shell.user, shell.group], [['NAMEINARGS', 'NOLIBWRAP'], false, 'root', 'daemon']);
  // nowait//5: empty max-child
  assert.deepEqual([s.get('login')!.instances, s.get('login')!.per_source_per_minute], [null, 5]);
  // `ttytst` is an /etc/services alias of chargen: FreeBSD accepts it for the internal service
  assert.deepEqual(brief(s.get('chargen')!).server_argv, []);
  assert.deepEqual(s.get('chargen')!.type, ['INTERNAL']);
  // `#@` alone ends the policy: tftp loads again
  assert.equal(s.get('tftp')!.source.line, 16);
});

test('netkit.conf: Linux netkit/inetutils lines read as the OpenBSD/Linux dialect', () => {
  const r = loadFixture('netkit.conf');
  assert.equal(r.dialect, 'openbsd');
  assert.deepEqual(
    r.diagnostics.map((d) => formatDiagnostic(d)),
    ['netkit.conf:12:36: warning: server program /missing/nyancat does not exist'],
  );
  const s = byId(r);
  assert.deepEqual([...s.keys()], ['echo/tcp', 'echo/udp', 'discard', 'chargen', 'time', 'telnet', 'finger', 'tftp', 'ident', '2323']);
  // tcpd as the server: argv[0] is the wrapped program, exactly as written
  assert.deepEqual([s.get('telnet')!.server, s.get('telnet')!.server_argv], ['/usr/sbin/tcpd', ['/usr/sbin/in.telnetd']]);
  assert.equal(s.get('telnet')!.inetd_rate!.max, 400);
  assert.deepEqual([s.get('2323')!.user, s.get('2323')!.group], ['daemon', 'tty']);
  assert.deepEqual(s.get('2323')!.problems, ['server program /missing/nyancat does not exist']);
  assert.equal(s.get('2323')!.enabled, true);
  assert.deepEqual([s.get('chargen')!.socket_type, s.get('chargen')!.wait], ['dgram', true]);
});

test('bad.conf: the diagnostics of bad.expected, exactly; the good entries still load', () => {
  const r = loadFixture('bad.conf');
  const expected = readFileSync(join(INETD_FIXTURES, 'bad.expected'), 'utf8').trimEnd().split('\n');
  assert.deepEqual(
    r.diagnostics.map((d) => formatDiagnostic(d)),
    expected,
  );
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['41008', '41010', '41011', '41012', '41015', 'echo', '41016'],
  );
  assert.equal(byId(r).get('41016')!.server_argv.length, 20);
});

// ---- field meaning -------------------------------------------------------------------------

test('RPC entries: NAME/VERS or NAME/LOW-HIGH, rpc/ before the protocol, the program from /etc/rpc', () => {
  const o = load(
    'rstatd/2-4 dgram rpc/udp wait root /usr/sbin/rpc.rstatd rpc.rstatd\nrup/3 stream rpc/tcp6 nowait root /usr/sbin/rpc.rstatd rpc.rstatd\n',
    'openbsd',
  );
  assert.deepEqual(o.diagnostics, []);
  const [udp, tcp] = o.services as [Service, Service];
  assert.deepEqual(
    [udp.id, udp.name, udp.type, udp.rpc_number, udp.rpc_version, udp.port, udp.protocol, udp.wait],
    ['rstatd', 'rstatd', ['RPC'], 100001, [2, 4], null, 'udp', true],
  );
  // OpenBSD rpc/udp: the families of plain udp (two sockets), as openbsd-inetd binds rpc/udp and rpc/udp6.
  assert.deepEqual([udp.family_sockets, udp.v6only], [true, true]);
  // An alias names the program too; rpc/tcp6 is IPv6 only.
  assert.deepEqual([tcp.name, tcp.rpc_number, tcp.rpc_version, tcp.flags], ['rup', 100001, [3, 3], ['NAMEINARGS', 'NOLIBWRAP', 'IPv6']]);
  const f = load('rusersd/2 dgram rpc/udp46 wait root /usr/sbin/rpc.rusersd rpc.rusersd\n', 'freebsd').services[0]!;
  assert.deepEqual([f.rpc_number, f.rpc_version, f.v6only, f.family_sockets], [100002, [2, 2], false, false]);
  const errors = (line: string): string[] => load(line + '\n', 'openbsd').diagnostics.map((d) => `${d.column} ${d.message}`);
  assert.deepEqual(errors('rstatd dgram rpc/udp wait root /bin/x x'), ['1 rstatd: no rpc version (an RPC entry names `NAME/VERSION` or `NAME/LOW-HIGH`)']);
  assert.deepEqual(errors('rstatd/x dgram rpc/udp wait root /bin/x x'), ['8 bad RPC version `x` (a number, or LOW-HIGH with LOW <= HIGH)']);
  assert.deepEqual(errors('100002/3 dgram rpc/udp wait root /bin/x x'), ['1 unknown RPC service `100002`: not in /etc/rpc (by name or alias)']);
  assert.deepEqual(errors('nosuch/1 dgram rpc/udp wait root /bin/x x'), ['1 unknown RPC service `nosuch`: not in /etc/rpc (by name or alias)']);
  assert.deepEqual(errors('rstatd/1 dgram rpc/sctp wait root /bin/x x'), [
    '16 unknown RPC protocol `rpc/sctp` (expected rpc/tcp or rpc/udp, optionally with 4, 6 or 46)',
  ]);
  assert.deepEqual(errors('rstatd/1 stream rpc/udp wait root /bin/x x'), [
    '17 protocol `rpc/udp` does not go with socket type stream (stream needs tcp, dgram needs udp)',
  ]);
});

test('bare tcp/udp: both families for OpenBSD (a socket each), IPv4 only for FreeBSD', () => {
  const line = 'ftp stream tcp nowait root /bin/cat cat\n';
  const o = load(line, 'openbsd').services[0]!;
  const f = load(line, 'freebsd').services[0]!;
  assert.deepEqual([o.flags, o.v6only, o.family_sockets, o.dialect], [['NAMEINARGS', 'NOLIBWRAP'], true, true, 'inetd']);
  assert.deepEqual([f.flags, f.v6only, f.dialect], [['NAMEINARGS', 'NOLIBWRAP', 'IPv4'], null, 'inetd-freebsd']);
  assert.deepEqual(load('ftp stream tcp64 nowait root /bin/cat\n', 'freebsd').services[0]!.v6only, false);
});

test("an address in host: keeps only its own family; a host name keeps the protocol's", () => {
  const r = load(
    '127.0.0.1:ftp stream tcp nowait root /bin/cat\n[::1]:41001 stream tcp nowait root /bin/cat\nlocalhost:41002 stream tcp6 nowait root /bin/cat\n',
  );
  assert.deepEqual(
    r.services.map((s) => [s.id, s.bind, s.flags.at(-1), s.v6only]),
    [
      ['ftp', '127.0.0.1', 'IPv4', null],
      ['41001', '::1', 'IPv6', true],
      ['41002', 'localhost', 'IPv6', true],
    ],
  );
  assert.deepEqual(load('*:ftp stream tcp nowait root /bin/cat\n').services[0]!.bind, null);
  // `host: service ...` with a blank after the colon
  assert.deepEqual(
    load('127.0.0.2: ftp stream tcp nowait root /bin/cat\n').services.map((s) => [s.name, s.bind]),
    [['ftp', '127.0.0.2']],
  );
});

test('default host lines apply to later lines without a host, until the next one', () => {
  const r = load(['127.0.0.1,127.0.0.2:', '41001 stream tcp nowait root /bin/cat', '*:', '41002 stream tcp nowait root /bin/cat', ''].join('\n'));
  assert.deepEqual(
    r.services.map((s) => [s.id, s.bind]),
    [
      ['127.0.0.1:41001/tcp', '127.0.0.1'],
      ['127.0.0.2:41001/tcp', '127.0.0.2'],
      ['41002', null],
    ],
  );
});

test('the OpenBSD .max rate: decimal, hex, octal; an illegal max falls back to 256 with a warning', () => {
  const rate = (w: string): number | undefined => load(`ftp stream tcp ${w} root /bin/cat\n`).services[0]?.inetd_rate?.max;
  assert.equal(rate('nowait'), 256);
  assert.equal(rate('nowait.1'), 1);
  assert.equal(rate('wait.0x10'), 16);
  assert.equal(rate('nowait.010'), 8);
  assert.equal(rate('nowait.0'), 256);
  assert.equal(rate('nowait.'), 256);
  assert.equal(load('ftp stream tcp nowait.-3 root /bin/cat\n').diagnostics[0]!.severity, 'warning');
  assert.deepEqual([parseCUnsigned('12'), parseCUnsigned('0x1f'), parseCUnsigned('017'), parseCUnsigned('0')], [12, 31, 15, 0]);
  assert.ok(Number.isNaN(parseCUnsigned('08')) && Number.isNaN(parseCUnsigned('1e3')) && Number.isNaN(parseCUnsigned('')));
});

test('GNU inetutils (--dialect gnu): `.N` read with strtoul(.., 10), `.0` = no limit of its own, plain tcp IPv4 only', () => {
  const svc = (w: string, proto = 'tcp'): Service | undefined => load(`ftp stream ${proto} ${w} root /bin/cat\n`, 'gnu').services[0];
  assert.deepEqual(svc('nowait.5')!.inetd_rate, { flavour: 'gnu', max: 5, written: true, ...RATE });
  assert.deepEqual(svc('nowait')!.inetd_rate, { flavour: 'gnu', max: 1000, written: false, ...RATE });
  assert.deepEqual(svc('nowait.0')!.inetd_rate, { flavour: 'gnu', max: 1000, written: false, ...RATE });
  assert.equal(svc('wait.010')!.inetd_rate!.max, 10, 'decimal, not octal');
  const junk = load('ftp stream tcp nowait.12x root /bin/cat\n', 'gnu');
  assert.equal(junk.services[0]!.inetd_rate!.max, 12);
  assert.deepEqual(
    junk.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}`),
    ['1:25: warning'],
  );
  assert.match(junk.diagnostics[0]!.message, /GNU inetd reads it as 12/);
  assert.deepEqual([svc('nowait')!.flags, svc('nowait')!.v6only], [['NAMEINARGS', 'NOLIBWRAP', 'IPv4'], null]);
  assert.deepEqual(svc('nowait', 'tcp6')!.flags, ['NAMEINARGS', 'NOLIBWRAP', 'IPv6']);
  assert.equal(svc('nowait.5')!.instances_at_limit, 'refuse');
  // The same line read as OpenBSD: its own flavour, a socket per family.
  const o = load('ftp stream tcp nowait.5 root /bin/cat\n').services[0]!;
  assert.deepEqual([o.inetd_rate!.flavour, o.family_sockets], ['openbsd', true]);
});

test('FreeBSD limits: bounds and syntax', () => {
  const errs = (w: string): string[] => load(`ftp stream tcp ${w} root /bin/cat\n`, 'freebsd').diagnostics.map((d) => d.severity);
  assert.deepEqual(errs('nowait/32767'), []);
  assert.deepEqual(errs('nowait/32768'), ['error']);
  assert.deepEqual(errs('nowait/1/x'), ['error']);
  assert.deepEqual(errs('nowait.5'), ['error']);
  assert.equal(load('ftp stream tcp wait/1 root /bin/cat\n', 'freebsd').services[0]!.instances, 1);
});

test('internal services: server null, type INTERNAL, wait = dgram, no argv; unknown ones are errors', () => {
  const r = load('echo stream tcp wait root internal extra args\ntime dgram udp nowait root internal\n');
  assert.deepEqual(
    r.services.map((s) => [s.id, s.server, s.type, s.wait, s.server_argv, s.flags]),
    [
      ['echo', null, ['INTERNAL'], false, [], ['NOLIBWRAP']],
      ['time', null, ['INTERNAL'], true, [], ['NOLIBWRAP']],
    ],
  );
  // OpenBSD wants the official name; FreeBSD also takes an alias
  assert.equal(load('ttytst stream tcp nowait root internal\n', 'openbsd').services.length, 0);
  assert.equal(load('ttytst stream tcp nowait root internal\n', 'freebsd').services[0]!.name, 'chargen');
  assert.match(load('7 stream tcp nowait root internal\n').diagnostics[0]!.message, /unknown internal service `7`/);
  assert.match(load('ident stream tcp nowait root internal\n', 'freebsd').diagnostics[0]!.message, /auth \(ident\).*not supported/);
});

test("unix sockets: the path is the service field; owner, group and mode from FreeBSD's prefix or the inetd's default", () => {
  const o = load(
    '/run/a.sock stream unix nowait nobody /bin/cat cat -u\n/run/b.sock stream unix wait root /bin/cat\n/run/c.sock dgram unix wait root /bin/cat\n',
  );
  assert.deepEqual(o.diagnostics, []);
  assert.deepEqual(
    o.services.map((s) => [s.id, s.protocol, s.port, s.socket_type, s.wait, s.unix, s.flags, s.bind, s.v6only, s.family_sockets]),
    [
      [
        '/run/a.sock',
        'unix',
        null,
        'stream',
        false,
        { path: '/run/a.sock', owner: null, group: null, mode: 0o666 },
        ['NAMEINARGS', 'NOLIBWRAP'],
        null,
        null,
        false,
      ],
      [
        '/run/b.sock',
        'unix',
        null,
        'stream',
        true,
        { path: '/run/b.sock', owner: null, group: null, mode: 0o666 },
        ['NAMEINARGS', 'NOLIBWRAP'],
        null,
        null,
        false,
      ],
      [
        '/run/c.sock',
        'unix',
        null,
        'dgram',
        true,
        { path: '/run/c.sock', owner: null, group: null, mode: 0o666 },
        ['NAMEINARGS', 'NOLIBWRAP'],
        null,
        null,
        false,
      ],
    ],
  );
  assert.deepEqual(o.services[0]!.server_argv, ['cat', '-u']);
  // FreeBSD: the prefix, or 0200 owned by the daemon; the internal service found by the path's last component
  const f = load(
    ':nobody:nogroup:0640:/run/a.sock stream unix nowait root /bin/cat cat\n/run/b.sock stream unix nowait root /bin/cat cat\n/var/run/echo stream unix nowait root internal\n',
    'freebsd',
  );
  assert.deepEqual(f.diagnostics, []);
  assert.deepEqual(
    f.services.map((s) => [s.id, s.name, s.unix, s.type]),
    [
      ['/run/a.sock', '/run/a.sock', { path: '/run/a.sock', owner: 'nobody', group: 'nogroup', mode: 0o640 }, []],
      ['/run/b.sock', '/run/b.sock', { path: '/run/b.sock', owner: null, group: null, mode: 0o200 }, []],
      ['echo', 'echo', { path: '/var/run/echo', owner: null, group: null, mode: 0o200 }, ['INTERNAL']],
    ],
  );
  const errors = (text: string, dialect: InetdDialect = 'auto'): string[] =>
    load(text, dialect).diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`);
  assert.deepEqual(errors(':nobody:nogroup:0649:/run/a stream unix nowait root /bin/cat\n', 'freebsd'), [
    '1:17: error: bad mode `0649` (an octal number such as 0660)',
  ]);
  assert.deepEqual(errors(':nosuch:nogroup:0600:/run/a stream unix nowait root /bin/cat\n', 'freebsd'), [
    "1:2: error: no such user `nosuch` for the socket's owner (FreeBSD inetd skips the entry)",
  ]);
  assert.deepEqual(errors(':nobody:nosuch:0600:/run/a stream unix nowait root /bin/cat\n', 'freebsd'), [
    "1:9: error: no such group `nosuch` for the socket's group (FreeBSD inetd skips the entry)",
  ]);
  assert.deepEqual(errors(':nobody:nogroup/run/a stream unix nowait root /bin/cat\n', 'freebsd'), [
    '1:1: error: incomplete `:user:group:mode:` prefix: no mode (FreeBSD inetd skips the entry)',
  ]);
  assert.deepEqual(errors('run/a stream unix nowait root /bin/cat\n'), [
    "1:1: error: the path of a unix-domain socket must be absolute (`run/a` would depend on the daemon's working directory)",
  ]);
  assert.deepEqual(errors(`/${'x'.repeat(107)} stream unix nowait root /bin/cat\n`), ['1:1: error: unix-domain socket path too long (108 bytes; at most 107)']);
  assert.deepEqual(errors('127.0.0.1:/run/a stream unix nowait root /bin/cat\n'), [
    '1:1: error: a unix-domain socket has no host address: write the path alone',
  ]);
  // OpenBSD matches internal services on the whole field: a path names none (its inetd skips it too)
  assert.match(errors('/run/echo stream unix nowait root internal\n', 'openbsd')[0]!, /^1:1: error: unknown internal service `\/run\/echo`/);
  // the prefix on a tcp line is ignored, as FreeBSD does
  assert.deepEqual(errors(':nobody:nogroup:0600:echo stream tcp nowait root internal\n', 'freebsd'), [
    '1:1: warning: the `:user:group:mode:` prefix only applies to unix-domain sockets: ignored, as FreeBSD inetd does',
  ]);
  // a later entry for the same path replaces the earlier one; a default host line does not apply
  const r = load('127.0.0.1:\n/run/a stream unix nowait root /bin/cat\n/run/a stream unix wait root /bin/cat\n');
  assert.deepEqual(
    r.services.map((s) => [s.source.line, s.wait, s.bind]),
    [[3, true, null]],
  );
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`),
    ['3:1: this entry replaces the one of line 2 (inetd keeps the last entry for a service)'],
  );
});

test('arguments: as written, argv[0] first; 20 at most (OpenBSD drops the rest, FreeBSD skips the entry)', () => {
  const many = Array.from({ length: 21 }, (_, i) => `a${i}`).join(' ');
  const o = load(`ftp stream tcp nowait root /bin/echo ${many}\n`, 'openbsd');
  assert.equal(o.services[0]!.server_argv.length, 20);
  assert.equal(o.diagnostics[0]!.column, 1 + 'ftp stream tcp nowait root /bin/echo '.length + many.indexOf('a20'));
  const f = load(`ftp stream tcp nowait root /bin/echo ${many}\n`, 'freebsd');
  assert.deepEqual([f.services.length, f.diagnostics[0]!.severity], [0, 'error']);
  assert.deepEqual(load('ftp stream tcp nowait root /usr/local/bin/x\n').services[0]!.server_argv, ['x']);
  // FreeBSD quoted arguments keep their blanks
  assert.deepEqual(load('ftp stream tcp nowait root /bin/sh sh -c "exec cat"\n', 'freebsd').services[0]!.server_argv, ['sh', '-c', 'exec cat']);
});

test('users and groups: unknown ones are problems (and warnings), not errors', () => {
  const r = load('ftp stream tcp nowait ghost.ghosts /bin/cat\n');
  assert.deepEqual(r.services[0]!.problems, ['unknown user ghost', 'unknown group ghosts']);
  assert.deepEqual(
    r.diagnostics.map((d) => [d.severity, d.column, d.length]),
    [
      ['warning', 23, 5],
      ['warning', 29, 6],
    ],
  );
  assert.match(load('ftp stream tcp nowait root/staff /bin/cat\n', 'openbsd').diagnostics[0]!.message, /FreeBSD syntax/);
});

// ---- repeated entries and ids ----------------------------------------------------------------

test('a later entry replaces an earlier one for the same host, service, protocol and family', () => {
  const r = load('omni stream tcp nowait root /a/inet\n41001 stream tcp nowait root /b/inet\n41001 stream tcp nowait root /c/inet\n');
  assert.deepEqual(
    r.services.map((s) => [s.id, s.server, s.source.line]),
    [['41001', '/c/inet', 3]],
  );
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`),
    [
      '1:1: unknown service `omni/tcp`: not in /etc/services and not a port number',
      '3:1: this entry replaces the one of line 2 (inetd keeps the last entry for a service)',
    ],
  );
  // tcp then tcp4: the IPv4 half goes to the second line, the first keeps IPv6
  const narrowed = load('41001 stream tcp nowait root /a\n41001 stream tcp4 nowait root /b\n');
  assert.deepEqual(
    narrowed.services.map((s) => [s.id, s.flags.at(-1), s.v6only]),
    [
      ['41001/tcp', 'IPv6', true],
      ['41001/tcp4', 'IPv4', null],
    ],
  );
  // different hosts do not replace each other
  assert.equal(load('127.0.0.1:41001 stream tcp nowait root /a\n127.0.0.2:41001 stream tcp nowait root /a\n').services.length, 2);
});

test('ids: name, then name/protocol, then host:name/protocol, then @line', () => {
  assert.deepEqual(
    inetdIds([
      { name: 'ftp', protoWritten: 'tcp', host: '*', line: 1 },
      { name: 'echo', protoWritten: 'tcp', host: '*', line: 2 },
      { name: 'echo', protoWritten: 'udp', host: '*', line: 3 },
      { name: 'x', protoWritten: 'udp', host: '::1', line: 4 },
      { name: 'x', protoWritten: 'udp', host: '127.0.0.1', line: 5 },
      { name: 'y', protoWritten: 'tcp', host: '*', line: 6 },
      { name: 'y', protoWritten: 'tcp', host: '*', line: 7 },
    ]),
    ['ftp', 'echo/tcp', 'echo/udp', '[::1]:x/udp', '127.0.0.1:x/udp', '*:y/tcp@6', '*:y/tcp@7'],
  );
});

// ---- dialect detection ------------------------------------------------------------------------

test('dialect detection: evidence in entries, then version tags, then OpenBSD/Linux', () => {
  const d = (text: string): string => detectDialect('f', parseInetdText('f', text).nodes).dialect;
  assert.equal(d('ftp stream tcp nowait root /bin/cat\n'), 'openbsd');
  assert.equal(d('ftp stream tcp nowait/5 root /bin/cat\n'), 'freebsd');
  assert.equal(d('ftp stream tcp nowait root:wheel/daemon /bin/cat\n'), 'freebsd');
  assert.equal(d('#@ ipsec in\n'), 'freebsd');
  assert.equal(d('tcpmux/+date stream tcp nowait root /bin/date date\n'), 'freebsd');
  // the internal tcpmux: 4.4BSD's and FreeBSD's inetd serve it, OpenBSD's drops it
  assert.equal(d('tcpmux stream tcp nowait root internal\n'), 'freebsd');
  assert.equal(d('tcpmux stream tcp nowait root /usr/sbin/tcpmuxd tcpmuxd\n'), 'openbsd');
  assert.equal(d(':root:wheel:0600:/var/run/s stream unix nowait root /bin/cat\n'), 'freebsd');
  assert.equal(d('ftp stream tcp nowait.10 root /bin/cat\n'), 'openbsd');
  assert.equal(d('127.0.0.1:\n'), 'openbsd');
  assert.equal(d('ftp stream tcp,sndbuf=1k nowait root /bin/cat\n'), 'openbsd');
  assert.equal(d('# $FreeBSD: src/etc/inetd.conf $\nftp stream tcp nowait root /bin/cat\n'), 'freebsd');
  assert.equal(d('# $OpenBSD: inetd.conf $\n'), 'openbsd');
  // a tag does not outweigh evidence in the entries
  assert.equal(d('# $FreeBSD: x $\nftp stream tcp nowait.10 root /bin/cat\n'), 'openbsd');
  // commented-out entries are not evidence
  assert.equal(d('#finger stream tcp nowait/3/10 nobody /usr/libexec/fingerd fingerd\n'), 'openbsd');
});

test('dialect detection: mixed evidence warns and the majority wins (OpenBSD on a tie)', () => {
  const text = 'a stream tcp nowait/1 root /bin/cat\nb stream tcp nowait/2 root /bin/cat\nc stream tcp nowait.3 root /bin/cat\n';
  const r = detectDialect('f', parseInetdText('f', text).nodes);
  assert.equal(r.dialect, 'freebsd');
  assert.deepEqual(
    r.diagnostics.map((x) => `${x.severity} ${x.line}:${x.column}`),
    ['warning 3:14', 'note 1:14'],
  );
  const tie = detectDialect('f', parseInetdText('f', 'a stream tcp nowait/1 root /bin/cat\nc stream tcp nowait.3 root /bin/cat\n').nodes);
  assert.equal(tie.dialect, 'openbsd');
});

// ---- loading files ----------------------------------------------------------------------------

test('loadInetdFile: reads the file; an unreadable file is one diagnostic, never a throw', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-inetd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = loadInetdFile(join(dir, 'nope.conf'));
  assert.deepEqual(missing.services, []);
  assert.deepEqual(
    missing.diagnostics.map((d) => [d.line, d.column, d.severity, d.message]),
    [[1, 1, 'error', 'cannot read inetd configuration file: no such file or directory']],
  );
  assert.match(loadInetdFile(dir).diagnostics[0]!.message, /is a directory/);
  // real /etc/services: ftp and echo are in every distribution's
  const real = loadInetdFile(join(dir, 'x.conf'), 'ftp stream tcp nowait root /bin/sh sh\necho dgram udp wait root internal\n');
  assert.deepEqual(
    real.services.map((s) => [s.id, s.port]),
    [
      ['ftp', 21],
      ['echo', 7],
    ],
  );
});

test('never throws; every entry line becomes a Service or a located diagnostic on that entry', () => {
  const token = fc.constantFrom(
    'ftp',
    'echo',
    '41001',
    '127.0.0.1:',
    '[::1]:41002',
    'a,b:x',
    'tcpmux/+x',
    'stream',
    'dgram',
    'raw',
    'tcp',
    'udp6',
    'tcp46,sndbuf=1k',
    'rpc/tcp',
    'unix',
    'wait',
    'nowait.5',
    'nowait/1/2/3',
    'root',
    'nobody:tty',
    'root.x',
    'u:g/c',
    'internal',
    '/bin/cat',
    'cat',
    '#',
    '"q',
    '',
  );
  const line = fc.tuple(fc.constantFrom('', ' ', '\t', '#', '#@'), fc.array(token, { maxLength: 9 })).map(([lead, ws]) => lead + ws.join(' '));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom<InetdDialect>('auto', 'openbsd', 'freebsd'), (lines, dialect) => {
      const text = lines.join('\n');
      const r = load(text, dialect);
      const reparsed = parseInetdText('t.conf', text, r.dialect === 'freebsd').nodes;
      for (const node of reparsed) {
        if (node.kind !== 'entry') continue;
        const first = node.line;
        const last = node.continuations.at(-1)?.line ?? first;
        const served = r.services.some((s) => s.source.line === first);
        const said = r.diagnostics.some((d) => d.line >= first && d.line <= last);
        const hostLine = node.words.length === 1 && node.words[0]!.text.endsWith(':');
        const replaced = r.diagnostics.some((d) => d.message.includes(`replaces the one of line ${first} `));
        assert.ok(served || said || hostLine || replaced, `entry of line ${first} vanished silently:\n${text}`);
      }
    }),
    { numRuns: 400 },
  );
});

test('TCPMUX lines: FreeBSD and GNU read tcpmux/NAME and tcpmux/+NAME (tcp and stream only) and their internal tcpmux; OpenBSD has none', () => {
  const text =
    'tcpmux\tstream\ttcp\tnowait\troot\tinternal\ntcpmux/plain\tstream\ttcp\twait\tnobody\t/bin/x\tx a\ntcpmux/+plus\tstream\ttcp6\tnowait\tnobody\t/bin/x\tx\ntcpmux/+\tstream\ttcp\tnowait\tnobody\t/bin/x\tx\n';
  const freebsd = load(text, 'freebsd');
  assert.deepEqual(
    freebsd.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`),
    [
      '3:1: error: bad protocol for tcpmux service plus: FreeBSD inetd takes `tcp` only and skips this entry',
      '4:1: error: a TCPMUX service needs a name after `tcpmux/`',
    ],
  );
  const s = byId(freebsd);
  assert.deepEqual([...s.keys()], ['tcpmux', 'plain']);
  assert.deepEqual([s.get('tcpmux')!.type, s.get('tcpmux')!.port], [['INTERNAL'], 1]);
  // wait is forced to nowait, as FreeBSD does for TCPMUX services
  assert.deepEqual(
    [s.get('plain')!.type, s.get('plain')!.port, s.get('plain')!.wait, s.get('plain')!.server_argv],
    [['TCPMUX', 'UNLISTED'], null, false, ['x', 'a']],
  );
  const openbsd = load(text, 'openbsd');
  assert.deepEqual(openbsd.services, []);
  assert.deepEqual(
    openbsd.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`),
    [
      "1:1: the internal tcpmux service is not in the openbsd dialect (that inetd has none; FreeBSD's and GNU inetutils' have: --dialect freebsd or gnu); entry skipped",
      ...[2, 3, 4].map(
        (n) =>
          `${n}:1: TCPMUX services (\`tcpmux/NAME\`) in the openbsd dialect (FreeBSD's and GNU inetutils' inetds have them: --dialect freebsd or gnu) are not supported by tsinetd; entry skipped`,
      ),
    ],
  );
  // GNU inetutils: any protocol starting with tcp (its strncmp), the same names and types.
  const gnu = load(text, 'gnu');
  assert.deepEqual(
    gnu.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`),
    ['4:1: error: a TCPMUX service needs a name after `tcpmux/`'],
  );
  const g = byId(gnu);
  assert.deepEqual([...g.keys()], ['tcpmux', 'plain', 'plus']);
  assert.deepEqual(
    [...g.values()].map((x) => [x.dialect, x.type, x.wait]),
    [
      ['inetd-gnu', ['INTERNAL'], false],
      ['inetd-gnu', ['TCPMUX', 'UNLISTED'], false],
      ['inetd-gnu', ['TCPMUXPLUS', 'UNLISTED'], false],
    ],
  );
  assert.equal(
    load('tcpmux/+x\tdgram\tudp\twait\tnobody\t/bin/x\tx\n', 'gnu').diagnostics[0]?.message,
    'bad protocol for tcpmux service x: GNU inetutils inetd takes `tcp` (tcp4, tcp6...) only and skips this entry',
  );
});

test('GNU inetutils: TCPMUX lines without an internal tcpmux get the one its inetd adds (tcpmux port, IPv4 and IPv6, root)', () => {
  const text = '# local services\ntcpmux/+plus\tstream\ttcp\tnowait\tnobody\t/bin/x\tx\ntcpmux/plain\tstream\ttcp\tnowait\tnobody\t/bin/x\tx\n';
  const gnu = load(text, 'gnu');
  assert.deepEqual(
    gnu.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`),
    ['2:1: warning: no internal tcpmux entry: GNU inetutils inetd adds one (port 1, IPv4 and IPv6, as root), and so does tsinetd'],
  );
  const mux = byId(gnu).get('tcpmux');
  assert.ok(mux !== undefined);
  assert.deepEqual(
    [mux.type, mux.port, mux.user, mux.wait, mux.v6only, mux.flags.includes('IPv4') || mux.flags.includes('IPv6'), mux.source.line],
    [['INTERNAL'], 1, 'root', false, false, false, 2],
  );
  // With a tcpmux line of its own, or in another dialect, nothing is added.
  assert.equal(byId(load(`tcpmux\tstream\ttcp\tnowait\troot\tinternal\n${text}`, 'gnu')).size, 3);
  assert.equal(byId(load(text, 'freebsd')).has('tcpmux'), false);
});
