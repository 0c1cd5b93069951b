import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionController } from '../../../src/admission/admission.js';
import { AddressLists } from '../../../src/admission/admission-acl.js';
import { addressChecks } from '../../../src/service-needs.js';
import type { Decision, FailReason } from '../../../src/admission/admission-types.js';
import type { NameResolver } from '../../../src/admission/acl-resolver.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';

function svc(over: Partial<Service> = {}): Service {
  return { ...newService('svc', 'xinetd', { file: 'test.conf', line: 1 }), ...over };
}

const p4 = (address: string): Peer => ({ address, port: 40000, family: 'IPv4' });
const p6 = (address: string): Peer => ({ address, port: 40000, family: 'IPv6' });

interface FakeDns {
  hosts: Record<string, string[]>;
  reverse: Record<string, string[]>;
  calls: string[];
}

function setup(options: { load?: number; processLimit?: number; dns?: Partial<FakeDns>; outsideTime?: boolean } = {}) {
  const dns: FakeDns = { hosts: {}, reverse: {}, calls: [], ...options.dns };
  const resolver: NameResolver = {
    async lookupHost(name) {
      dns.calls.push(`host ${name}`);
      const r = dns.hosts[name];
      if (r === undefined) throw new Error('ENOTFOUND');
      return r;
    },
    async lookupNetwork() {
      return null;
    },
    async reverse(address) {
      dns.calls.push(`reverse ${address}`);
      return dns.reverse[address] ?? [];
    },
  };
  const clock = { ms: 5_000_000, load: options.load ?? 0 };
  const ctl = new AdmissionController({
    now: () => clock.ms,
    load: () => clock.load,
    wallClock: () => new Date(2024, 0, 1, 12, 0),
    processLimit: options.processLimit ?? null,
    resolver,
  });
  return { ctl, clock, dns };
}

function sync(d: Decision | Promise<Decision>): Decision {
  assert.ok(!(d instanceof Promise), 'decided without a lookup');
  return d;
}

const why = (d: Decision): FailReason | 'allow' => (d.allow ? 'allow' : d.reason);

const noon = [{ start: 0, end: 60 }]; // 00:00-01:00: the injected wall clock (12:00) is outside

test('order: every check failing at once → the first in xinetd order wins, then the next, and so on', () => {
  const { ctl, clock } = setup({ load: 9, processLimit: 1 });
  const trap = svc({ id: 'other' });
  ctl.started(trap, p4('127.0.0.9')); // fills -limit 1
  const s = svc({
    cps: [1, 5],
    max_load: 1,
    access_times: noon,
    instances: 1,
    per_source: 1,
    per_source_cps: [0, 1],
    only_from: [],
  });
  // drain the per-source bucket (burst 1, no refill) ten seconds earlier, while -limit is free
  ctl.finished(trap, p4('127.0.0.9'));
  clock.ms -= 10_000;
  const saved = { ...s };
  Object.assign(s, { max_load: null, access_times: [] });
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.1')))), 'address', 'the bucket is charged before the lists refuse');
  Object.assign(s, saved);
  clock.ms += 10_000;
  ctl.started(trap, p4('127.0.0.9'));
  ctl.started(s, p4('127.0.0.1')); // instances and per_source are now full
  // 1st connection opens the cps window; load is the first failing check
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.1')))), 'load');
  // 2nd in the same second: 2/1 > 1 → cps first
  const trip = sync(ctl.admit(s, p4('127.0.0.1')));
  assert.equal(why(trip), 'connections per second');
  assert.equal(trip.allow ? 0 : trip.suspendSeconds, 5);
  clock.ms += 4999;
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.1')))), 'connections per second', 'still off');
  clock.ms += 1;
  // cps is back; from here on it must not trip again while the other checks are peeled one by one
  s.cps = [1000, 5];
  const order: string[] = [];
  clock.load = 9;
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  clock.load = 0;
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  s.access_times = [];
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  s.instances = null;
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  s.per_source = null;
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  s.per_source_cps = null;
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  ctl.finished(trap, p4('127.0.0.9'));
  ctl.finished(s, p4('127.0.0.1'));
  order.push(why(sync(ctl.admit(s, p4('127.0.0.1')))));
  // the ACL is compiled once per Service object (a reload brings new objects)
  order.push(why(sync(ctl.admit({ ...s, only_from: null }, p4('127.0.0.1')))));
  assert.deepEqual(order, ['load', 'time', 'service_limit', 'per_source_limit', 'per_source_cps', 'process_limit', 'address', 'allow']);
});

test('an instances limit that queues (FreeBSD max-child) refuses nobody; one that refuses does', () => {
  const { ctl } = setup();
  const queued = svc({ id: 'q', instances: 1, instances_at_limit: 'queue' });
  const refused = svc({ id: 'r', instances: 1 });
  ctl.started(queued, p4('127.0.0.1'));
  ctl.started(refused, p4('127.0.0.1'));
  assert.equal(why(sync(ctl.admit(queued, p4('127.0.0.1')))), 'allow', 'the server stops accepting instead (acceptPaused)');
  assert.equal(why(sync(ctl.admit(refused, p4('127.0.0.1')))), 'service_limit');
  // per_source still refuses on a queueing service
  const perSource = svc({ id: 'p', instances: 5, instances_at_limit: 'queue', per_source: 1 });
  ctl.started(perSource, p4('127.0.0.1'));
  assert.equal(why(sync(ctl.admit(perSource, p4('127.0.0.1')))), 'per_source_limit');
});

test('reasons are spelled exactly as xinetd logs them (xinetd.log(5))', () => {
  const seen = new Set<string>();
  const { ctl } = setup({ load: 5, processLimit: 1 });
  const add = (d: Decision | Promise<Decision>) => seen.add(why(sync(d)));
  add(ctl.admit(svc({ id: 'a', only_from: ['10.0.0.0/8'] }), p4('127.0.0.1')));
  add(ctl.admit(svc({ id: 'b', access_times: noon }), p4('127.0.0.1')));
  const c = svc({ id: 'c', instances: 0 });
  add(ctl.admit(c, p4('127.0.0.1')));
  const d = svc({ id: 'd', per_source: 0 });
  add(ctl.admit(d, p4('127.0.0.1')));
  ctl.started(svc({ id: 'e' }), p4('127.0.0.1'));
  add(ctl.admit(svc({ id: 'f' }), p4('127.0.0.1')));
  add(ctl.admit(svc({ id: 'g', max_load: 1 }), p4('127.0.0.1')));
  const h = svc({ id: 'h', cps: [1, 1] });
  void ctl.admit(h, p4('127.0.0.1')); // the first only counts toward cps
  add(ctl.admit(h, p4('127.0.0.1')));
  assert.deepEqual([...seen].sort(), ['address', 'connections per second', 'load', 'per_source_limit', 'process_limit', 'service_limit', 'time']);
});

test('SENSOR and the global deny list come before only_from, and are refused as `address`', () => {
  const { ctl } = setup();
  const trap = svc({ id: 'trap', flags: ['SENSOR'], deny_time: 10, only_from: ['0.0.0.0'] });
  const d = sync(ctl.admit(trap, p4('127.0.0.2')));
  assert.equal(why(d), 'address');
  const open = svc({ id: 'open', only_from: ['127.0.0.0/8'] });
  const refused = sync(ctl.admit(open, p6('::ffff:127.0.0.2')));
  assert.equal(why(refused), 'address');
  assert.match(refused.allow ? '' : (refused.detail ?? ''), /global no_access list/);
  assert.equal(why(sync(ctl.admit(open, p6('::ffff:127.0.0.1')))), 'allow');
});

test("address refusals say which list refused, with xinetd's message for both lists", () => {
  const { ctl } = setup();
  const s = svc({ id: 'both', only_from: ['127.0.0.2'], no_access: ['127.0.0.0/8'] });
  const d = sync(ctl.admit(s, p6('::ffff:127.0.0.2')));
  assert.equal(d.allow ? '' : d.detail, 'Service=both: only_from list and no_access list match equally the address ::ffff:127.0.0.2');
  const e = sync(ctl.admit(s, p4('127.0.0.1')));
  assert.equal(e.allow ? '' : e.detail, '127.0.0.1 matches no_access');
});

test('without a peer address (a wait = yes stream service): only_from refuses, as xinetd; per-source checks do not apply', () => {
  const { ctl } = setup();
  const none = p6('<no address>');
  // Measured with xinetd 2.3.15.3: "FAIL: wt address from=<no address>" for every client.
  assert.equal(why(sync(ctl.admit(svc({ id: 'a', only_from: ['127.0.0.1'] }), none))), 'address');
  assert.equal(why(sync(ctl.admit(svc({ id: 'n', no_access: ['127.0.0.1'] }), none))), 'allow');
  assert.equal(why(sync(ctl.admit(svc({ id: 'b', per_source: 0, per_source_cps: [0, 0] }), none))), 'allow');
  assert.equal(why(sync(ctl.admit(svc({ id: 'trap', flags: ['SENSOR'], deny_time: 5 }), none))), 'allow');
  assert.deepEqual(ctl.snapshot().denied, {});
  const w = svc({ id: 'w', wait: true, instances: 1 });
  assert.equal(why(sync(ctl.admit(w, none))), 'allow');
  ctl.started(w, none);
  assert.equal(why(sync(ctl.admit(w, none))), 'service_limit');
  ctl.finished(w, none);
  assert.equal(why(sync(ctl.admit(w, none))), 'allow');
  assert.equal(why(sync(ctl.admit(svc({ id: 'c', access_times: noon }), none))), 'time');
});

test('host names: resolved in prepare(), compared by address, mapped peers included; problems reported', async () => {
  const { ctl, dns } = setup({ dns: { hosts: { 'db.example': ['127.0.0.5'] } } });
  const s = svc({ id: 'named', only_from: ['db.example', 'nowhere.example', '127.0.0.{1,'] });
  const problems = await ctl.prepare([s]);
  assert.deepEqual(
    problems.get('named')?.map((p) => [p.entry, p.severity, p.disablesService === true]),
    [
      ['nowhere.example', 'error', false],
      ['127.0.0.{1,', 'error', true],
    ],
  );
  assert.equal(why(sync(ctl.admit(s, p6('::ffff:127.0.0.5')))), 'allow');
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.5')))), 'allow');
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.6')))), 'address');
  const lookups = dns.calls.length;
  sync(ctl.admit(s, p4('127.0.0.5')));
  assert.equal(dns.calls.length, lookups, 'no lookup per connection');
});

test('host names: admit() before prepare() resolves once, then decides', async () => {
  const { ctl, dns } = setup({ dns: { hosts: { 'db.example': ['::1'] } } });
  const s = svc({ only_from: ['db.example'] });
  const first = ctl.admit(s, p6('::1'));
  const second = ctl.admit(s, p6('::2'));
  assert.ok(first instanceof Promise);
  assert.deepEqual(await first, { allow: true });
  assert.equal(why(await second), 'address');
  assert.equal(dns.calls.filter((c) => c === 'host db.example').length, 1);
  assert.equal(why(sync(ctl.admit(s, p6('::1')))), 'allow');
});

test('.domain: reverse lookup confirmed by a forward lookup, cached; numeric entries need none', async () => {
  const { ctl, dns, clock } = setup({
    dns: {
      hosts: { 'ok.example.com': ['127.0.0.3'], 'spoof.example.com': ['192.0.2.1'] },
      reverse: { '127.0.0.3': ['ok.example.com'], '127.0.0.4': ['spoof.example.com'] },
    },
  });
  const s = svc({ only_from: ['.example.com', '127.0.0.1'] });
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.1')))), 'allow');
  assert.deepEqual(dns.calls, []);
  assert.equal(why(await ctl.admit(s, p6('::ffff:127.0.0.3'))), 'allow');
  assert.deepEqual(dns.calls, ['reverse 127.0.0.3', 'host ok.example.com']);
  assert.equal(why(await ctl.admit(s, p4('127.0.0.4'))), 'address', 'reverse name not confirmed');
  const calls = dns.calls.length;
  assert.equal(why(await ctl.admit(s, p4('127.0.0.3'))), 'allow');
  assert.equal(dns.calls.length, calls, 'cached');
  clock.ms += 61_000;
  await ctl.admit(s, p4('127.0.0.3'));
  assert.equal(dns.calls.length, calls + 2, 'looked up again after the cache time');
});

test('limits are counted again after an asynchronous lookup', async () => {
  const { ctl } = setup({ dns: { hosts: { 'h.example.org': ['127.0.0.7'] }, reverse: { '127.0.0.7': ['h.example.org'] } } });
  const s = svc({ only_from: ['.example.org'], instances: 1 });
  const pending = ctl.admit(s, p4('127.0.0.7'));
  ctl.started(s, p4('127.0.0.8')); // another connection got the only instance meanwhile
  assert.equal(why(await pending), 'service_limit');
});

test('reload: new Service objects are recompiled; running counts survive; removed ids lose their rate state', async () => {
  const { ctl } = setup();
  const v1 = svc({ id: 'web', instances: 1, only_from: ['127.0.0.1'] });
  await ctl.prepare([v1, svc({ id: 'gone', cps: [1, 30] })]);
  ctl.started(v1, p4('127.0.0.1'));
  const v2 = svc({ id: 'web', instances: 2, only_from: ['127.0.0.2'] });
  await ctl.prepare([v2]);
  assert.equal(why(sync(ctl.admit(v2, p4('127.0.0.1')))), 'address');
  assert.equal(why(sync(ctl.admit(v2, p4('127.0.0.2')))), 'allow');
  ctl.started(v2, p4('127.0.0.2'));
  assert.equal(why(sync(ctl.admit(v2, p4('127.0.0.2')))), 'service_limit', 'the server started under v1 still counts');
  assert.deepEqual(ctl.snapshot().running, { web: 2 });
});

test('the cps trip switches the service off for every peer; snapshot shows the seconds left', () => {
  const { ctl, clock } = setup();
  const s = svc({ id: 'busy', cps: [2, 10] });
  for (let i = 0; i < 2; i++) sync(ctl.admit(s, p4(`127.0.0.${i + 1}`)));
  assert.equal(why(sync(ctl.admit(s, p4('127.0.0.3')))), 'connections per second');
  clock.ms += 4000;
  assert.deepEqual(ctl.snapshot().off, { busy: 6 });
  assert.equal(why(sync(ctl.admit(s, p6('::1')))), 'connections per second');
});

test('needsAddress: the attributes whose checks need the client address, and SENSOR offenders once listed', () => {
  const { ctl } = setup();
  assert.deepEqual(addressChecks(svc()), []);
  assert.deepEqual(addressChecks(svc({ access_times: noon, instances: 1, cps: [1, 1] })), []);
  assert.deepEqual(addressChecks(svc({ only_from: [], no_access: ['127.0.0.2'], per_source: 0, per_source_per_minute: 1, per_source_cps: [1, 1] })), [
    'only_from',
    'no_access',
    'per_source',
    'per_source_per_minute',
    'per_source_cps',
  ]);
  const plain = svc({ id: 'plain' });
  assert.equal(ctl.needsAddress(plain), false);
  assert.equal(ctl.needsAddress(svc({ only_from: ['127.0.0.1'] })), true);
  // Once a SENSOR has listed an offender, every service's decision depends on the address.
  assert.equal(why(sync(ctl.admit(svc({ id: 'trap', flags: ['SENSOR'], deny_time: 5 }), p4('127.0.0.2')))), 'address');
  assert.equal(ctl.needsAddress(plain), true);
});

test('per_source counts a wait = yes datagram server against the sender it was started for', () => {
  const { ctl } = setup();
  const udp = svc({ id: 'tftp', socket_type: 'dgram', protocol: 'udp', wait: true, server: '/usr/sbin/in.tftpd', per_source: 1 });
  const a = p4('127.0.0.1');
  assert.equal(why(sync(ctl.admit(udp, a))), 'allow');
  ctl.started(udp, a);
  assert.equal(why(sync(ctl.admit(udp, a))), 'per_source_limit');
  assert.equal(why(sync(ctl.admit(udp, p4('127.0.0.2')))), 'allow');
  ctl.finished(udp, a);
  assert.equal(why(sync(ctl.admit(udp, a))), 'allow');
  assert.equal(
    why(sync(ctl.admit(svc({ id: 'zero', socket_type: 'dgram', protocol: 'udp', wait: true, server: '/bin/true', per_source: 0 }), a))),
    'per_source_limit',
  );
});

test('handedOver (a TCPMUX service reached through tcpmux): only the address checks of its own, nothing counted or limited', async () => {
  const { ctl, clock, dns } = setup({ load: 9, processLimit: 1, dns: { reverse: { '127.0.0.3': ['far.example'] }, hosts: { 'far.example': ['127.0.0.3'] } } });
  const target = svc({
    id: 'date',
    only_from: ['127.0.0.1', '.example'],
    no_access: ['127.0.0.1/32'],
    instances: 1,
    cps: [1, 5],
    max_load: 1,
    access_times: noon,
  });
  // Load, times, instances, cps and -limit are tcpmux's business: they do not refuse here.
  ctl.started(svc({ id: 'other' }), p4('127.0.0.9'));
  ctl.started(target, p4('127.0.0.2'));
  await ctl.prepare([target]);
  for (let i = 0; i < 3; i++) assert.equal(why(await ctl.handedOver(target, p4('127.0.0.2'))), 'address');
  // 127.0.0.1 is on both lists (refused), .3 is let in through its name, nothing else.
  assert.equal(why(sync(ctl.handedOver(target, p4('127.0.0.1')))), 'address');
  assert.equal(why(await ctl.handedOver(target, p4('127.0.0.3'))), 'allow');
  assert.ok(dns.calls.includes('reverse 127.0.0.3'), dns.calls.join());
  // A service without lists lets everyone in, and handing over counts nothing.
  const open = svc({ id: 'open', instances: 1 });
  await ctl.prepare([target, open]);
  assert.equal(why(sync(ctl.handedOver(open, p4('127.0.0.5')))), 'allow');
  assert.deepEqual(ctl.snapshot().running, { other: 1, date: 1 });
  ctl.finished(svc({ id: 'other' }), p4('127.0.0.9'));
  ctl.finished(target, p4('127.0.0.2'));
  clock.load = 0;
  // The global no_access list a SENSOR fills applies, as in xinetd's address check.
  const trap = svc({ id: 'trap', flags: ['SENSOR'], type: ['INTERNAL'], deny_time: 5 });
  assert.equal(why(sync(ctl.admit(trap, p4('127.0.0.5')))), 'address');
  assert.equal(why(sync(ctl.handedOver(open, p4('127.0.0.5')))), 'address');
  clock.ms += 5 * 60_000 + 1;
  assert.equal(why(sync(ctl.handedOver(open, p4('127.0.0.5')))), 'allow');
});

test('address lists: services with the same lists share one compilation; each still decides and reports by its own lists', async () => {
  const { ctl } = setup();
  const a = svc({ id: 'a', only_from: ['127.0.0.1', '10.0.0.0/8'], no_access: null });
  const b = svc({ id: 'b', only_from: ['127.0.0.1', '10.0.0.0/8'], no_access: null });
  const swapped = svc({ id: 'swapped', only_from: null, no_access: ['127.0.0.1', '10.0.0.0/8'] });
  const bad = svc({ id: 'bad', only_from: ['127.0.0.1', '10.0.0.0/33'] });
  const bad2 = svc({ id: 'bad2', only_from: ['127.0.0.1', '10.0.0.0/33'] });
  const problems = await ctl.prepare([a, b, swapped, bad, bad2]);
  const lists = new AddressLists(
    { lookupHost: () => Promise.reject(new Error('no lookups')), lookupNetwork: () => Promise.resolve(null), reverse: () => Promise.resolve([]) },
    () => 0,
    1000,
  );
  assert.equal(lists.compiled(a), lists.compiled(b), 'equal lists were compiled twice');
  assert.notEqual(lists.compiled(a), lists.compiled(swapped));
  for (const s of [a, b]) {
    assert.equal(why(sync(ctl.admit(s, p4('127.0.0.1')))), 'allow');
    assert.equal(why(sync(ctl.admit(s, p4('10.1.2.3')))), 'allow');
    assert.equal(why(sync(ctl.admit(s, p4('127.0.0.2')))), 'address');
  }
  assert.equal(why(sync(ctl.admit(swapped, p4('127.0.0.1')))), 'address');
  assert.equal(why(sync(ctl.admit(swapped, p4('127.0.0.2')))), 'allow');
  assert.deepEqual(problems.get('a'), []);
  assert.deepEqual(
    ['bad', 'bad2'].map((id) => problems.get(id)?.map((p) => p.entry)),
    [['10.0.0.0/33'], ['10.0.0.0/33']],
  );
});
