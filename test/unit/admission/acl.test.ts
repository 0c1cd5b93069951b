import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileAcl, compileServiceAcl, decideAccess, matchesAddress, matchesDomain, needsHostnames } from '../../../src/admission/acl.js';
import { formatAddress, parseInetAton, parsePeerAddress, sourceKey } from '../../../src/admission/acl-address.js';
import { parseAclEntry } from '../../../src/admission/acl-entry.js';
import {
  parseNetworks,
  resolveAclNames,
  systemResolver,
  verifiedHostnames,
  type NameResolution,
  type NameResolver,
} from '../../../src/admission/acl-resolver.js';

function peer(address: string): bigint {
  const a = parsePeerAddress(address);
  assert.notEqual(a, null, `test peer ${address} must parse`);
  return a!;
}

const names = new Map<string, NameResolution>([
  ['localhost', { kind: 'host', addresses: ['127.0.0.1', '::1'] }],
  ['loopback', { kind: 'network', number: '127.0.0.0' }],
  ['oldnet', { kind: 'network', number: '127' }],
  ['link-local', { kind: 'network', number: '169.254.0.0' }],
  ['halfnet', { kind: 'network', number: '192.168' }],
]);

// [entry, peer, matches]: every form against plain IPv4, IPv4-mapped and IPv6 peers.
const matchTable: [string, string, boolean][] = [
  ['127.0.0.1', '127.0.0.1', true],
  ['127.0.0.1', '::ffff:127.0.0.1', true],
  ['127.0.0.1', '127.0.0.2', false],
  ['127.0.0.1', '::1', false],
  ['127.1', '127.0.0.1', true],
  ['127.1', '::ffff:127.0.0.1', true],
  ['0177.0.0.1', '127.0.0.1', true],
  ['2130706433', '127.0.0.1', true],
  ['0x7f.0.0.1', '127.0.0.1', true],
  ['10.0.0.0', '10.200.3.4', true],
  ['10.0.0.0', '::ffff:10.1.1.1', true],
  ['10.0.0.0', '11.0.0.1', false],
  ['128.138.12.0', '128.138.12.77', true],
  ['128.138.12.0', '128.138.13.1', false],
  ['10.0.5.0', '10.0.5.9', true],
  ['10.0.5.0', '10.1.5.9', false],
  ['0.0.0.0', '1.2.3.4', true],
  ['0.0.0.0', '::ffff:255.255.255.255', true],
  ['0.0.0.0', '::1', false],
  ['0.0.0.0', '2001:db8::1', false],
  ['0', '192.0.2.1', true],
  ['0', '::1', false],
  ['::1', '::1', true],
  ['::1', '127.0.0.1', false],
  ['::1', '::2', false],
  ['::ffff:127.0.0.1', '::ffff:127.0.0.1', true],
  ['::ffff:127.0.0.1', '127.0.0.1', true],
  ['::', '::1', false],
  ['::', '127.0.0.1', false],
  ['::/0', '::1', true],
  ['::/0', '127.0.0.1', true],
  ['::/0', '2001:db8::5', true],
  ['192.168.1.0/24', '192.168.1.200', true],
  ['192.168.1.0/24', '::ffff:192.168.1.1', true],
  ['192.168.1.0/24', '192.168.2.1', false],
  ['192.168.1.0/24', '::1', false],
  ['127.0.0.1/8', '127.9.9.9', true],
  ['127.0.0.1/0', '8.8.8.8', true],
  ['127.0.0.1/0', '::1', false],
  ['127/8', '127.0.0.1', false],
  ['127/8', '0.1.2.3', true],
  ['127.1/16', '127.0.200.1', true],
  ['127.0.0.1/33', '127.0.0.1', true],
  ['127.0.0.1/33', '127.0.0.2', false],
  ['127.0.0.1/8x', '127.3.3.3', true],
  ['fe80::/10', 'fe80::1', true],
  ['fe80::/10', 'fe80::1%eth0', true],
  ['fe80::/10', 'febf::1', true],
  ['fe80::/10', 'fec0::1', false],
  ['fe80::/10', '127.0.0.1', false],
  ['::ffff:127.0.0.0/104', '127.0.0.2', true],
  ['::ffff:127.0.0.0/104', '::ffff:127.200.0.2', true],
  ['::ffff:127.0.0.0/104', '128.0.0.1', false],
  ['::1/128', '::1', true],
  ['::1/129', '::1', true],
  ['2001:db8::/32', '2001:db8:ffff::1', true],
  ['2001:db8::/32', '2001:db9::1', false],
  ['2001:DB8::1', '2001:db8::1', true],
  ['127.0.0.{1,3}', '127.0.0.1', true],
  ['127.0.0.{1,3}', '127.0.0.2', false],
  ['127.0.0.{1,3}', '127.0.0.3', true],
  ['127.0.0.{1,3}', '::ffff:127.0.0.3', true],
  ['128.138.{200,201}', '128.138.200.5', true],
  ['128.138.{200,201}', '128.138.201.255', true],
  ['128.138.{200,201}', '128.138.202.1', false],
  ['127.{0}', '127.0.5.5', true],
  ['127.{0}', '127.1.0.0', false],
  ['{10,11}', '10.1.1.1', true],
  ['{10,11}', '11.2.2.2', true],
  ['{10,11}', '12.0.0.1', false],
  ['localhost', '127.0.0.1', true],
  ['localhost', '::ffff:127.0.0.1', true], // xinetd's dual-stack hostname bug is not copied
  ['localhost', '::1', true],
  ['localhost', '127.0.0.2', false],
  ['loopback', '127.0.0.2', true], // dotted-quad network number: trailing-zero rule (xinetd: 127.0.0.0 only)
  ['loopback', '::ffff:127.1.2.3', true],
  ['loopback', '128.0.0.1', false],
  ['oldnet', '127.9.9.9', true],
  ['link-local', '169.254.3.3', true],
  ['link-local', '169.253.3.3', false],
  ['halfnet', '192.168.44.1', true],
  ['halfnet', '192.169.0.1', false],
];

for (const [entry, address, expected] of matchTable) {
  test(`entry ${entry} ${expected ? 'matches' : 'does not match'} ${address}`, () => {
    const acl = compileAcl([entry], names);
    assert.deepEqual(
      acl.problems.filter((p) => p.severity === 'error'),
      [],
      `entry ${entry} compiles without errors`,
    );
    assert.equal(matchesAddress(acl, peer(address)), expected);
  });
}

test('.domain entries match verified names ending with the domain, case-insensitively', () => {
  const acl = compileAcl(['.example.com']);
  assert.deepEqual(acl.domains, ['.example.com']);
  assert.equal(matchesDomain(acl, ['host.example.com']), true);
  assert.equal(matchesDomain(acl, ['HOST.Example.COM.']), true);
  assert.equal(matchesDomain(acl, ['a.b.example.com']), true);
  assert.equal(matchesDomain(acl, ['example.com']), false);
  assert.equal(matchesDomain(acl, ['evil-example.com']), false);
  assert.equal(matchesDomain(acl, ['host.example.com.evil.org']), false);
  assert.equal(matchesDomain(acl, []), false);
  assert.equal(matchesAddress(acl, peer('127.0.0.1')), false);
});

// [entry, severity, disablesService]
const problemTable: [string, 'error' | 'warning', boolean][] = [
  ['127.0.0.300', 'error', false],
  ['1.2.3.4.5', 'error', false],
  ['#', 'error', false],
  ['comment!', 'error', false],
  ['127.0.0.{1,2', 'error', true],
  ['127.0.{0}.1', 'error', true],
  ['127.0.0.{1,,2}', 'error', true],
  ['127..0.{1}', 'error', true],
  ['127.0.0.{300}', 'error', false],
  ['1.2.3.4.{5}', 'error', false],
  ['127.0{1}', 'error', false],
  ['127.0.0.1/x', 'error', false],
  ['127.0.0.1/-1', 'error', false],
  ['fe80::1::2', 'error', false],
  ['fe80::1::2/64', 'error', false],
  ['.', 'error', false],
  ['.123', 'error', false],
  ['::', 'warning', false],
  ['127/8', 'warning', false],
  ['127.1', 'warning', false],
  ['127.0.0.1/33', 'warning', false],
  ['127.0.0.1/8x', 'warning', false],
  ['::1/200', 'warning', false],
];

for (const [entry, severity, disables] of problemTable) {
  test(`entry ${JSON.stringify(entry)} is reported as ${severity}${disables ? ' that disables the service' : ''}`, () => {
    const acl = compileAcl([entry]);
    assert.equal(acl.set, true);
    assert.equal(acl.problems.length, 1, JSON.stringify(acl.problems));
    const p = acl.problems[0]!;
    assert.equal(p.entry, entry);
    assert.equal(p.severity, severity);
    assert.equal(p.disablesService === true, disables);
    if (severity === 'error') assert.equal(acl.nets.length, 0);
  });
}

test('names that were not resolved are reported and match nothing', () => {
  const acl = compileAcl(['nosuchhost.invalid', 'mystery'], new Map([['mystery', { kind: 'unresolved', message: 'unknown host or network name' }]]));
  assert.equal(acl.nets.length, 0);
  assert.deepEqual(
    acl.problems.map((p) => [p.entry, p.severity]),
    [
      ['nosuchhost.invalid', 'error'],
      ['mystery', 'error'],
    ],
  );
  const zeroNet = compileAcl(['default'], new Map([['default', { kind: 'network', number: '0.0.0.0' }]]));
  assert.equal(zeroNet.nets.length, 0);
  assert.equal(zeroNet.problems[0]?.severity, 'error');
});

test('a list that is not set neither admits nor refuses; an empty list admits nobody', () => {
  const notSet = compileServiceAcl({ only_from: null, no_access: null });
  for (const a of ['127.0.0.1', '::1', '::ffff:10.0.0.1']) assert.deepEqual(decideAccess(notSet, peer(a)), { allow: true });
  const empty = compileServiceAcl({ only_from: [], no_access: null });
  for (const a of ['127.0.0.1', '::1', '::ffff:10.0.0.1']) {
    assert.deepEqual(decideAccess(empty, peer(a)), { allow: false, why: 'only_from' });
  }
  const garbageOnly = compileServiceAcl({ only_from: ['#', 'x!'], no_access: null });
  assert.deepEqual(decideAccess(garbageOnly, peer('127.0.0.1')), { allow: false, why: 'only_from' });
  const emptyNoAccess = compileServiceAcl({ only_from: null, no_access: [] });
  assert.deepEqual(decideAccess(emptyNoAccess, peer('127.0.0.1')), { allow: true });
});

test('precedence: an address on both lists is refused, whichever entry is more specific (as xinetd does)', () => {
  const a = compileServiceAcl({ only_from: ['127.0.0.0/24'], no_access: ['127.0.0.2'] });
  assert.deepEqual(decideAccess(a, peer('127.0.0.1')), { allow: true });
  assert.deepEqual(decideAccess(a, peer('::ffff:127.0.0.1')), { allow: true });
  assert.deepEqual(decideAccess(a, peer('127.0.0.2')), { allow: false, why: 'both' });
  assert.deepEqual(decideAccess(a, peer('::ffff:127.0.0.2')), { allow: false, why: 'both' });
  assert.deepEqual(decideAccess(a, peer('127.0.1.1')), { allow: false, why: 'only_from' });

  const b = compileServiceAcl({ only_from: ['127.0.0.2'], no_access: ['127.0.0.0/8'] });
  assert.deepEqual(decideAccess(b, peer('127.0.0.2')), { allow: false, why: 'both' });
  assert.deepEqual(decideAccess(b, peer('127.0.0.1')), { allow: false, why: 'no_access' });

  const onlyNoAccess = compileServiceAcl({ only_from: null, no_access: ['127.0.0.2', '::1'] });
  assert.deepEqual(decideAccess(onlyNoAccess, peer('127.0.0.1')), { allow: true });
  assert.deepEqual(decideAccess(onlyNoAccess, peer('::ffff:127.0.0.2')), { allow: false, why: 'no_access' });
  assert.deepEqual(decideAccess(onlyNoAccess, peer('::1')), { allow: false, why: 'no_access' });
});

test('domains: decided with verified names, and a lookup is asked for only when it can change the answer', () => {
  const acl = compileServiceAcl({ only_from: ['127.0.0.1', '.example.com'], no_access: null });
  assert.equal(needsHostnames(acl, peer('127.0.0.1')), false);
  assert.equal(needsHostnames(acl, peer('127.0.0.2')), true);
  assert.deepEqual(decideAccess(acl, peer('127.0.0.2'), ['h.example.com']), { allow: true });
  assert.deepEqual(decideAccess(acl, peer('127.0.0.2'), ['h.example.org']), { allow: false, why: 'only_from' });
  assert.deepEqual(decideAccess(acl, peer('127.0.0.2'), null), { allow: false, why: 'only_from' });

  const deny = compileServiceAcl({ only_from: null, no_access: ['.bad.example', '10.0.0.0/8'] });
  assert.equal(needsHostnames(deny, peer('10.1.1.1')), false); // refused by address anyway
  assert.equal(needsHostnames(deny, peer('127.0.0.1')), true);
  assert.deepEqual(decideAccess(deny, peer('127.0.0.1'), ['x.bad.example']), { allow: false, why: 'no_access' });
  assert.deepEqual(decideAccess(deny, peer('127.0.0.1'), ['x.good.example']), { allow: true });

  const numeric = compileServiceAcl({ only_from: ['127.0.0.0/8'], no_access: ['::1'] });
  assert.equal(needsHostnames(numeric, peer('127.0.0.1')), false);
  assert.equal(needsHostnames(numeric, peer('10.0.0.1')), false);
});

function fakeResolver(hosts: Record<string, string[]>, reverse: Record<string, string[]>, networks: Record<string, string> = {}) {
  const calls: string[] = [];
  const resolver: NameResolver = {
    async lookupHost(name) {
      calls.push(`host ${name}`);
      const r = hosts[name];
      if (r === undefined) throw new Error('ENOTFOUND');
      return r;
    },
    async lookupNetwork(name) {
      calls.push(`net ${name}`);
      return networks[name] ?? null;
    },
    async reverse(address) {
      calls.push(`reverse ${address}`);
      const r = reverse[address];
      if (r === undefined) throw new Error('ENOTFOUND');
      return r;
    },
  };
  return { resolver, calls };
}

test('resolveAclNames: host names first, then /etc/networks names, each resolved once', async () => {
  const { resolver, calls } = fakeResolver({ 'db.example': ['192.0.2.7', '2001:db8::7'] }, {}, { mynet: '10.1' });
  const resolved = await resolveAclNames({ only_from: ['db.example', 'mynet', '127.0.0.1', '.example.com', 'ghost'], no_access: ['db.example'] }, resolver);
  assert.deepEqual(resolved.get('db.example'), { kind: 'host', addresses: ['192.0.2.7', '2001:db8::7'] });
  assert.deepEqual(resolved.get('mynet'), { kind: 'network', number: '10.1' });
  assert.equal(resolved.get('ghost')?.kind, 'unresolved');
  assert.equal(resolved.has('127.0.0.1'), false);
  assert.equal(resolved.has('.example.com'), false);
  assert.equal(calls.filter((c) => c === 'host db.example').length, 1);
  const acl = compileServiceAcl({ only_from: ['db.example', 'mynet'], no_access: null }, resolved);
  assert.deepEqual(decideAccess(acl, peer('::ffff:192.0.2.7')), { allow: true });
  assert.deepEqual(decideAccess(acl, peer('2001:db8::7')), { allow: true });
  assert.deepEqual(decideAccess(acl, peer('10.1.200.3')), { allow: true }); // 10.1 = 10.1.0.0/16
  assert.deepEqual(decideAccess(acl, peer('192.0.2.8')), { allow: false, why: 'only_from' });
});

test('verifiedHostnames keeps only names whose forward lookup gives the peer back', async () => {
  const { resolver } = fakeResolver(
    { 'good.example.com': ['192.0.2.1'], 'liar.example.com': ['198.51.100.9'] },
    { '192.0.2.1': ['good.example.com'], '192.0.2.2': ['liar.example.com'], '192.0.2.3': ['gone.example.com'] },
  );
  assert.deepEqual(await verifiedHostnames(peer('::ffff:192.0.2.1'), resolver), ['good.example.com']);
  assert.deepEqual(await verifiedHostnames(peer('192.0.2.2'), resolver), []);
  assert.deepEqual(await verifiedHostnames(peer('192.0.2.3'), resolver), []);
  assert.deepEqual(await verifiedHostnames(peer('192.0.2.4'), resolver), []);
});

test('addresses: inet_aton forms, canonical text and source keys agree for mapped and plain peers', () => {
  assert.deepEqual(parseInetAton('127.1'), { value: 0x7f000001, parts: 2 });
  assert.deepEqual(parseInetAton('10.1.2'), { value: 0x0a010002, parts: 3 });
  assert.deepEqual(parseInetAton('0x0a.010.0.1'), { value: 0x0a080001, parts: 4 });
  assert.equal(parseInetAton('256.0.0.1'), null);
  assert.equal(parseInetAton('1.2.3.4.5'), null);
  assert.equal(parseInetAton('1..2'), null);
  assert.equal(formatAddress(peer('::ffff:127.0.0.1')), '127.0.0.1');
  assert.equal(formatAddress(peer('2001:0db8:0000:0000:0000:0000:0000:0001')), '2001:db8::1');
  assert.equal(formatAddress(peer('2001:db8:0:1:0:0:0:1')), '2001:db8:0:1::1');
  assert.equal(formatAddress(peer('::')), '::');
  assert.equal(formatAddress(peer('1:0:0:2:0:0:0:3')), '1:0:0:2::3');
  assert.equal(sourceKey('::ffff:127.0.0.2'), sourceKey('127.0.0.2'));
  assert.equal(sourceKey('::FFFF:7f00:2'), '127.0.0.2');
  assert.equal(sourceKey('::1'), '::1');
  assert.equal(parsePeerAddress('not-an-address'), null);
  assert.equal(parsePeerAddress('1.2.3'), null);
});

test('parseAclEntry classifies names and domains without looking anything up', () => {
  assert.deepEqual(parseAclEntry('host.example.com'), { kind: 'name', name: 'host.example.com' });
  assert.deepEqual(parseAclEntry('.Example.COM'), { kind: 'domain', suffix: '.example.com' });
  assert.deepEqual(parseAclEntry('deadbeef'), { kind: 'name', name: 'deadbeef' });
  assert.equal(parseAclEntry('127.0.0.1').kind, 'nets');
});

test('parseNetworks reads /etc/networks names and aliases', () => {
  const m = parseNetworks('# comment\ndefault\t\t0.0.0.0\nloopback 127.0.0.0 lo-net # x\n\nbad\n');
  assert.equal(m.get('loopback'), '127.0.0.0');
  assert.equal(m.get('lo-net'), '127.0.0.0');
  assert.equal(m.get('default'), '0.0.0.0');
  assert.equal(m.has('bad'), false);
});

test('systemResolver: networks from a file, localhost from the system', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-acl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'networks');
  writeFileSync(file, 'campus 10.20\n');
  const r = systemResolver({ networksPath: file, timeoutMs: 3000 });
  assert.equal(await r.lookupNetwork('CAMPUS'), '10.20');
  assert.equal(await r.lookupNetwork('elsewhere'), null);
  assert.equal(await systemResolver({ networksPath: join(dir, 'missing') }).lookupNetwork('campus'), null);
  const addrs = await r.lookupHost('localhost');
  assert.ok(
    addrs.some((a) => a === '127.0.0.1' || a === '::1'),
    `localhost resolved to ${addrs.join(' ')}`,
  );
  await assert.rejects(r.lookupHost('no-such-host.invalid'));
  assert.deepEqual(await r.reverse('192.0.2.123'), []);
});

test('problem messages name the list and the entry', () => {
  const acl = compileServiceAcl({ only_from: ['127.0.0.300'], no_access: ['127.0.0.{1,'] });
  assert.equal(acl.onlyFrom.problems[0]?.message, 'only_from entry `127.0.0.300`: not a valid IPv4 address; entry ignored');
  assert.equal(
    acl.noAccess.problems[0]?.message,
    'no_access entry `127.0.0.{1,`: bad factorized address: the entry must end with `}`; the service is disabled (as xinetd does)',
  );
});
