// src/convert/xinetd-writer.ts: every Service field becomes its xinetd attribute, in canonical order, and
// a written block read back by the real xinetd loader (loadConfig on a temporary file, with the
// fixture /etc databases) is the same Service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../../src/config/config.js';
import type { Diagnostic } from '../../../src/diagnostics.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { needsUnlisted, serviceToXinetd, writeService } from '../../../src/convert/xinetd-writer.js';
import { AS_ROOT, fakeProbe, fixtureDb } from '../config/xinetd/xinetd-fixture-env.js';

const db = fixtureDb();

/** A plain forking TCP service on an unlisted port, as the xinetd loader builds it. */
function base(name = 'svc'): Service {
  const s = newService(name, 'xinetd', { file: 'x', line: 1 });
  s.type = ['UNLISTED'];
  s.port = 4000;
  s.user = 'root';
  s.server = '/bin/prog';
  s.server_argv = ['prog'];
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'tsinetd-writer-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

/** Loads a text with the xinetd loader; returns its services and diagnostics. */
async function load(text: string): Promise<{ services: Service[]; diagnostics: Diagnostic[] }> {
  const file = join(dir, `conf${fileNo++}`);
  writeFileSync(file, text);
  const t = await loadConfig({ configFile: file, inetdFiles: [] }, { db, probe: fakeProbe, ...AS_ROOT });
  return { services: t.services, diagnostics: t.diagnostics };
}

/** The fields that describe behaviour (not where the service was read, nor the problem wording). */
function comparable(s: Service): Omit<Service, 'source' | 'problems'> {
  const { source: _source, problems: _problems, ...rest } = s;
  return rest;
}

/** Writes, reads back, and checks that the one service read is equal to `s`. */
async function roundTrip(s: Service): Promise<{ text: string; back: Service; diagnostics: Diagnostic[] }> {
  const text = serviceToXinetd(s, { db });
  const r = await load(text);
  assert.equal(r.services.length, 1, `one service expected from:\n${text}`);
  const back = r.services[0]!;
  assert.deepEqual(comparable(back), comparable(s), `round trip changed the service; written:\n${text}`);
  return { text, back, diagnostics: r.diagnostics };
}

function lines(text: string): string[] {
  return text.split('\n').map((l) =>
    l
      .trim()
      .replace(/\s+=\s*/, ' = ')
      .trimEnd(),
  );
}

test('a plain service: canonical order, explicit limits, aligned values', () => {
  assert.equal(
    serviceToXinetd(base(), { db }),
    [
      'service svc',
      '{',
      '\ttype        = UNLISTED',
      '\tsocket_type = stream',
      '\tprotocol    = tcp',
      '\tport        = 4000',
      '\twait        = no',
      '\tuser        = root',
      '\tgroups      = no',
      '\tserver      = /bin/prog',
      '\tinstances   = UNLIMITED',
      '\tper_source  = UNLIMITED',
      '\tcps         = 50 10',
      '}',
      '',
    ].join('\n'),
  );
});

/** One case per attribute: how to set it on a Service, and the line it must produce. */
const ATTRIBUTE_CASES: { attribute: string; set: (s: Service) => void; line: string }[] = [
  { attribute: 'id', set: (s) => (s.id = 'svc-other'), line: 'id = svc-other' },
  {
    attribute: 'type INTERNAL',
    set: (s) => Object.assign(s, { name: 'echo', type: ['INTERNAL'], port: 7, server: null, server_argv: [] }),
    line: 'type = INTERNAL',
  },
  {
    attribute: 'flags',
    set: (s) => (s.flags = ['REUSE', 'NODELAY', 'KEEPALIVE', 'NOLIBWRAP', 'IPv4']),
    line: 'flags = REUSE NODELAY KEEPALIVE NOLIBWRAP IPv4',
  },
  { attribute: 'socket_type/protocol', set: (s) => Object.assign(s, { socket_type: 'dgram', protocol: 'udp', wait: true }), line: 'socket_type = dgram' },
  { attribute: 'protocol', set: (s) => Object.assign(s, { socket_type: 'dgram', protocol: 'udp', wait: true }), line: 'protocol = udp' },
  { attribute: 'port', set: (s) => (s.port = 65000), line: 'port = 65000' },
  { attribute: 'wait', set: (s) => (s.wait = true), line: 'wait = yes' },
  { attribute: 'user', set: (s) => (s.user = 'nobody'), line: 'user = nobody' },
  { attribute: 'group', set: (s) => (s.group = 'nogroup'), line: 'group = nogroup' },
  { attribute: 'groups', set: (s) => (s.groups = true), line: 'groups = yes' },
  { attribute: 'server', set: (s) => Object.assign(s, { server: '/usr/bin/git', server_argv: ['git'] }), line: 'server = /usr/bin/git' },
  { attribute: 'server_args', set: (s) => (s.server_argv = [basename(s.server!), '-a', '--b=c']), line: 'server_args = -a --b=c' },
  {
    attribute: 'redirect',
    set: (s) => Object.assign(s, { redirect: { host: '127.0.0.1', port: 8080 }, server: null, server_argv: [] }),
    line: 'redirect = 127.0.0.1 8080',
  },
  { attribute: 'bind', set: (s) => (s.bind = '::1'), line: 'bind = ::1' },
  { attribute: 'v6only', set: (s) => (s.v6only = true), line: 'v6only = yes' },
  { attribute: 'instances', set: (s) => (s.instances = 30), line: 'instances = 30' },
  { attribute: 'per_source', set: (s) => (s.per_source = 4), line: 'per_source = 4' },
  { attribute: 'cps', set: (s) => (s.cps = [0, 0]), line: 'cps = 0 0' },
  { attribute: 'per_source_cps', set: (s) => (s.per_source_cps = [0.5, 3]), line: 'per_source_cps = 0.5 3' },
  { attribute: 'max_load', set: (s) => (s.max_load = 2.5), line: 'max_load = 2.5' },
  { attribute: 'deny_time', set: (s) => Object.assign(s, { deny_time: 'FOREVER' }), line: 'deny_time = FOREVER' },
  {
    attribute: 'only_from',
    set: (s) => (s.only_from = ['127.0.0.1', '10.0.0.0/8', '::1', '.example.org']),
    line: 'only_from = 127.0.0.1 10.0.0.0/8 ::1 .example.org',
  },
  { attribute: 'only_from (nobody)', set: (s) => (s.only_from = []), line: 'only_from =' },
  { attribute: 'no_access', set: (s) => (s.no_access = ['127.0.0.2']), line: 'no_access = 127.0.0.2' },
  {
    attribute: 'access_times',
    set: (s) =>
      (s.access_times = [
        { start: 0, end: 8 * 60 + 5 },
        { start: 12 * 60, end: 23 * 60 + 59 },
      ]),
    line: 'access_times = 0:00-8:05 12:00-23:59',
  },
  {
    attribute: 'log_type FILE',
    set: (s) => (s.log_type = { kind: 'file', path: '/var/log/x.log', soft: 10240, hard: 20480 }),
    line: 'log_type = FILE /var/log/x.log 10240 20480',
  },
  {
    attribute: 'log_type SYSLOG',
    set: (s) => (s.log_type = { kind: 'syslog', facility: 'authpriv', level: 'warning' }),
    line: 'log_type = SYSLOG authpriv warning',
  },
  { attribute: 'log_on_success', set: (s) => (s.log_on_success = ['PID', 'HOST', 'EXIT', 'DURATION']), line: 'log_on_success = PID HOST EXIT DURATION' },
  { attribute: 'log_on_failure', set: (s) => (s.log_on_failure = ['HOST', 'ATTEMPT']), line: 'log_on_failure = HOST ATTEMPT' },
  { attribute: 'env', set: (s) => (s.env = ['A=1', 'B=x=y', 'EMPTY=']), line: 'env = A=1 B=x=y EMPTY=' },
  { attribute: 'passenv', set: (s) => (s.passenv = ['PATH', 'LANG']), line: 'passenv = PATH LANG' },
  { attribute: 'passenv (nothing)', set: (s) => (s.passenv = []), line: 'passenv =' },
  { attribute: 'banner', set: (s) => (s.banner = '/etc/banner'), line: 'banner = /etc/banner' },
  { attribute: 'banner_success', set: (s) => (s.banner_success = '/etc/ok'), line: 'banner_success = /etc/ok' },
  { attribute: 'banner_fail', set: (s) => (s.banner_fail = '/etc/no'), line: 'banner_fail = /etc/no' },
  { attribute: 'nice', set: (s) => (s.nice = -5), line: 'nice = -5' },
  { attribute: 'umask', set: (s) => (s.umask = 0o27), line: 'umask = 027' },
  { attribute: 'rlimits', set: (s) => (s.rlimits = { as: 1 << 20, cpu: 'unlimited', files: 64 }), line: 'rlimit_cpu = UNLIMITED' },
  { attribute: 'libwrap', set: (s) => (s.libwrap = 'in.prog'), line: 'libwrap = in.prog' },
  {
    attribute: 'rpc',
    set: (s) => Object.assign(s, { type: ['RPC', 'UNLISTED'], port: null, rpc_version: [1, 3], rpc_number: 100001 }),
    line: 'rpc_version = 1-3',
  },
  { attribute: 'disable', set: (s) => (s.enabled = false), line: 'disable = yes' },
];

for (const c of ATTRIBUTE_CASES) {
  test(`attribute ${c.attribute}: written, and read back to an equal Service`, async () => {
    const s = base();
    c.set(s);
    const { text } = await roundTrip(s);
    assert.ok(lines(text).includes(c.line), `expected the line '${c.line}' in:\n${text}`);
  });
}

test('the attributes come in canonical order; flags before server_args (xinetd reads NAMEINARGS only then)', () => {
  const s = base();
  s.id = 'svc-1';
  s.flags = ['NAMEINARGS'];
  s.server_argv = ['other-name', '-x'];
  s.bind = '127.0.0.1';
  s.only_from = ['127.0.0.1'];
  s.log_on_success = ['PID'];
  s.umask = 0o22;
  s.enabled = false;
  const names = serviceToXinetd(s, { db })
    .split('\n')
    .filter((l) => l.startsWith('\t') && !l.startsWith('\t#'))
    .map((l) => l.trim().split(/\s/)[0]);
  assert.deepEqual(names, [
    'id',
    'type',
    'flags',
    'socket_type',
    'protocol',
    'port',
    'wait',
    'user',
    'groups',
    'server',
    'server_args',
    'bind',
    'instances',
    'per_source',
    'cps',
    'only_from',
    'log_on_success',
    'umask',
    'disable',
  ]);
});

test('NAMEINARGS is added when argv[0] is not the server base name, and server_args then holds argv[0]', async () => {
  const s = base();
  s.server = '/usr/sbin/tcpd';
  s.server_argv = ['in.ftpd', '-l'];
  const { text, back } = await roundTrip({ ...s, flags: ['NAMEINARGS'] });
  assert.ok(lines(text).includes('flags = NAMEINARGS'));
  assert.ok(lines(text).includes('server_args = in.ftpd -l'));
  assert.deepEqual(back.server_argv, ['in.ftpd', '-l']);
  // Without the flag in the Service, the writer still adds it (argv needs it).
  const written = serviceToXinetd(s, { db });
  assert.ok(lines(written).includes('flags = NAMEINARGS'), written);
});

test('NAMEINARGS kept from the Service even when argv[0] is the base name; never for internal services', async () => {
  const s = base();
  s.flags = ['NAMEINARGS', 'NOLIBWRAP'];
  s.server_argv = ['prog', 'a'];
  const { text } = await roundTrip(s);
  assert.ok(lines(text).includes('server_args = prog a'), text);
  const internal = newService('echo', 'xinetd', { file: 'x', line: 1 });
  Object.assign(internal, { type: ['INTERNAL'], port: 7, user: 'root', flags: ['NAMEINARGS'] });
  assert.ok(!serviceToXinetd(internal, { db }).includes('NAMEINARGS'));
});

test('type = UNLISTED only when /etc/services does not list the name with that port', () => {
  const ftp = base('ftp');
  ftp.type = [];
  ftp.port = 21;
  assert.equal(needsUnlisted(ftp, db), false);
  assert.ok(!serviceToXinetd(ftp, { db }).includes('UNLISTED'));
  assert.ok(lines(serviceToXinetd(ftp, { db })).includes('port = 21'));
  assert.equal(needsUnlisted({ ...ftp, port: 2121 }, db), true);
  assert.equal(needsUnlisted({ ...ftp, name: '41001', port: 41001 }, db), true);
  assert.equal(needsUnlisted({ ...ftp, protocol: 'udp', socket_type: 'dgram' }, db), true, 'ftp/udp is not listed');
  assert.ok(lines(serviceToXinetd({ ...ftp, port: 2121 }, { db })).includes('type = UNLISTED'));
});

test('a listed service without UNLISTED reads back with the same port', async () => {
  const ftp = base('ftp');
  ftp.type = [];
  ftp.port = 21;
  await roundTrip(ftp);
});

test("an RPC service (an inetd.conf rpc/udp line) is written as type = RPC with its versions, and reads back with /etc/rpc's program", async () => {
  const s = base('rstatd');
  Object.assign(s, { type: ['RPC'], port: null, socket_type: 'dgram', protocol: 'udp', wait: true, rpc_version: [1, 3], rpc_number: 100001 });
  const { text } = await roundTrip(s);
  for (const l of ['type = RPC', 'rpc_version = 1-3', 'protocol = udp']) assert.ok(lines(text).includes(l), text);
  assert.ok(!text.includes('port'), 'no port: an ephemeral one, registered with rpcbind');
});

test('a word with a blank cannot be written: reported as lost, and the block is disabled', async () => {
  const s = base();
  s.server_argv = ['prog', '-c', 'echo hi'];
  const w = writeService(s, { db });
  assert.deepEqual(
    w.lost.map((l) => [l.field, l.word, l.severity]),
    [['server_argv', 'echo hi', 'error']],
  );
  assert.doesNotMatch(w.text, /^\tserver_args/m);
  assert.match(w.text, /^\t# server_args not written/m);
  assert.ok(lines(w.text).includes('disable = yes'));
  const r = await load(w.text);
  assert.equal(r.services[0]!.enabled, false);
  const empty = writeService({ ...base(), server_argv: ['prog', ''] }, { db });
  assert.equal(empty.lost[0]?.word, '');
});

test('inetd rate and FreeBSD per-minute limit: comments in the block and lost fields, no attribute', async () => {
  const s = base();
  s.cps = [0, 0];
  s.inetd_rate = { flavour: 'openbsd', max: 40, written: true, per_seconds: 60, shutdown_seconds: 600 };
  s.per_source_per_minute = 7;
  const w = writeService(s, { db });
  assert.deepEqual(
    w.lost.map((l) => [l.field, l.severity]),
    [
      ['inetd_rate', 'warning'],
      ['per_source_per_minute', 'warning'],
    ],
  );
  assert.match(w.text, /\n\t# inetd rate limit, which xinetd does not have: 39 starts served in 60 s, the next one stops the service for 600 s\n/);
  assert.match(w.text, /\n\t# FreeBSD per-source limit, which xinetd does not have: at most 7 connections a minute/);
  const r = await load(w.text);
  assert.deepEqual(
    r.diagnostics.map((d) => d.message),
    [],
  );
  assert.equal(r.services[0]!.inetd_rate, null);
  assert.deepEqual(comparable(r.services[0]!), comparable({ ...s, inetd_rate: null, per_source_per_minute: null }));
});

test('header lines become comments above the block, and the block still loads', async () => {
  const text = serviceToXinetd(base(), { db, header: ['from inetd.conf line 3:', '', '    svc stream tcp nowait root /bin/prog'] });
  assert.ok(text.startsWith('# from inetd.conf line 3:\n#\n#     svc stream tcp nowait root /bin/prog\nservice svc\n'), text);
  const r = await load(text);
  assert.equal(r.services.length, 1);
});

test('property: any combination of attributes reads back to the same Service', async () => {
  const picks = fc.subarray(
    ATTRIBUTE_CASES.filter((c) => !['type INTERNAL', 'redirect', 'rpc', 'disable', 'id'].includes(c.attribute)),
    { minLength: 1 },
  );
  await fc.assert(
    fc.asyncProperty(picks, fc.boolean(), async (cases, disabled) => {
      const s = base();
      for (const c of cases) c.set(s);
      s.enabled = !disabled;
      await roundTrip(s);
    }),
    { numRuns: 60 },
  );
});

test('TCPMUX: a tcpmux/+NAME service becomes type = TCPMUXPLUS UNLISTED without a port, and reads back equal; FreeBSD tcpmux says what xinetd answers differently', async () => {
  const plus = base('date');
  plus.type = ['TCPMUXPLUS', 'UNLISTED'];
  plus.port = null;
  const { text } = await roundTrip(plus);
  assert.ok(lines(text).includes('type = TCPMUXPLUS UNLISTED'), text);
  assert.ok(!lines(text).some((l) => l.startsWith('port ')), text);
  const mux = newService('tcpmux', 'inetd-freebsd', { file: 'i.conf', line: 1 });
  Object.assign(mux, { type: ['INTERNAL'], port: 1, user: 'root' });
  const written = writeService(mux, { db });
  assert.match(written.text, /# xinetd's tcpmux is not FreeBSD's: no `help`, `-Service name not found` for an unknown name/);
  assert.deepEqual(
    written.lost.map((l) => `${l.field} ${l.severity}`),
    ['type warning'],
  );
});
