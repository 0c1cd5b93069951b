// Admission's TCP-wrappers step (check 12), pure: rule tables parsed from text, a fake resolver
// and identd, no file, socket or DNS. The verdicts themselves are hosts-match's (tested against
// tcpdmatch); these tests are about how admission uses them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionController } from '../../../src/admission/admission.js';
import type { Decision, FailReason } from '../../../src/admission/admission-types.js';
import type { NameResolver } from '../../../src/admission/acl-resolver.js';
import { parseHostsFile } from '../../../src/admission/wrappers/hosts-syntax.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import { activated } from '../../../src/service-needs.js';
import type { Service } from '../../../src/table.js';

function svc(over: Partial<Service> = {}): Service {
  return { ...newService('ext', 'xinetd', { file: 'test.conf', line: 1 }), server: '/usr/sbin/in.tftpd', ...over };
}

const peer = (address: string): Peer => ({ address, port: 40000, family: address.includes(':') ? 'IPv6' : 'IPv4' });
const LOCAL = { address: '::', port: 69 };

function setup(allow: string, deny: string, dns: { reverse?: Record<string, string[]>; hosts?: Record<string, string[]> } = {}) {
  const rules = { tables: { allow: parseHostsFile('/etc/hosts.allow', allow), deny: parseHostsFile('/etc/hosts.deny', deny) } };
  const warnings: string[] = [];
  const lookups: string[] = [];
  const resolver: NameResolver = {
    async lookupHost(name) {
      lookups.push(`host ${name}`);
      const r = dns.hosts?.[name];
      if (r === undefined) throw new Error('ENOTFOUND');
      return r;
    },
    async lookupNetwork() {
      return null;
    },
    async reverse(address) {
      lookups.push(`reverse ${address}`);
      return dns.reverse?.[address] ?? [];
    },
  };
  const ctl = new AdmissionController({
    now: () => 1000,
    load: () => 0,
    resolver,
    wrappers: { tables: () => rules.tables, lookups: { resolver, warn: (m) => warnings.push(m) } },
  });
  return { ctl, warnings, lookups, rules };
}

const why = (d: Decision): FailReason | 'allow' => (d.allow ? 'allow' : d.reason);

function sync(d: Decision | Promise<Decision>): Decision {
  assert.ok(!(d instanceof Promise), 'decided without a lookup');
  return d;
}

test("the last check: a refusal is `libwrap` with xinetd's daemon line; only_from still refuses first", () => {
  const { ctl } = setup('in.tftpd: 127.0.0.1\n', 'ALL: ALL\n');
  assert.equal(why(sync(ctl.admit(svc(), peer('::ffff:127.0.0.1'), LOCAL))), 'allow');
  const d = sync(ctl.admit(svc(), peer('::ffff:127.0.0.2'), LOCAL));
  assert.deepEqual(d, { allow: false, reason: 'libwrap', detail: 'libwrap refused connection to ext (libwrap=in.tftpd) from ::ffff:127.0.0.2' });
  assert.equal(why(sync(ctl.admit(svc({ only_from: ['127.0.0.3'] }), peer('::ffff:127.0.0.2'), LOCAL))), 'address');
  // NOLIBWRAP, and a caller that knows no local end (nothing to check against): not wrapped.
  assert.equal(why(sync(ctl.admit(svc({ flags: ['NOLIBWRAP'] }), peer('::ffff:127.0.0.2'), LOCAL))), 'allow');
  // An RPC service over TCP: xinetd's activation sets NOLIBWRAP for it (activate_rpc), so the one
  // served is not wrapped; a reload that keeps it serves its new definition as it is: wrapped.
  // Over UDP it is wrapped.
  const rpcTcp = svc({ type: ['RPC'], protocol: 'tcp' });
  assert.equal(why(sync(ctl.admit(activated(rpcTcp), peer('::ffff:127.0.0.2'), LOCAL))), 'allow');
  assert.equal(why(sync(ctl.admit(rpcTcp, peer('::ffff:127.0.0.2'), LOCAL))), 'libwrap');
  const rpcUdp = svc({ type: ['RPC'], protocol: 'udp', socket_type: 'dgram' });
  assert.equal(activated(rpcUdp), rpcUdp);
  assert.equal(why(sync(ctl.admit(activated(rpcUdp), peer('::ffff:127.0.0.2'), LOCAL))), 'libwrap');
  assert.equal(why(sync(ctl.admit(svc(), peer('::ffff:127.0.0.2')))), 'allow');
});

test('`severity` sets the level of the refusal line; a granting rule hands its options on', () => {
  const { ctl } = setup('ALL: 127.0.0.2: severity auth.notice : deny\nALL: 127.0.0.3: umask 077 : twist /bin/echo no\n', '');
  const d = sync(ctl.admit(svc(), peer('127.0.0.2'), LOCAL));
  assert.ok(!d.allow && d.level === 'notice');
  const g = sync(ctl.admit(svc(), peer('127.0.0.3'), LOCAL));
  assert.ok(g.allow && g.wrap !== undefined);
  assert.deepEqual(
    g.wrap.options.map((o) => o.kind),
    ['umask', 'twist'],
  );
  assert.equal(g.wrap.daemon, 'in.tftpd');
});

test('an option error refuses, and is logged once for each version of the file', () => {
  const { ctl, warnings, rules } = setup('ALL: ALL: bogus\n', '');
  for (let i = 0; i < 3; i++) assert.equal(why(sync(ctl.admit(svc(), peer('127.0.0.2'), LOCAL))), 'libwrap');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /hosts\.allow, line 1: .*bogus/);
  rules.tables = { ...rules.tables, allow: parseHostsFile('/etc/hosts.allow', 'ALL: ALL: bogus\n') };
  sync(ctl.admit(svc(), peer('127.0.0.2'), LOCAL));
  assert.equal(warnings.length, 2);
});

test('a host-name pattern waits for the double-reverse lookup; an address pattern never asks DNS', async () => {
  const { ctl, lookups } = setup('', 'ALL: .example.test\n', {
    reverse: { '127.0.0.2': ['host2.example.test'], '127.0.0.3': ['liar.example.test'] },
    hosts: { 'host2.example.test': ['127.0.0.2'], 'liar.example.test': ['10.9.9.9'] },
  });
  const d = ctl.admit(svc(), peer('::ffff:127.0.0.2'), LOCAL);
  assert.ok(d instanceof Promise);
  assert.equal(why(await d), 'libwrap');
  assert.deepEqual(lookups, ['reverse 127.0.0.2', 'host host2.example.test']);
  // A name that does not resolve back is `paranoid`: the suffix does not match it.
  assert.equal(why(await ctl.admit(svc(), peer('::ffff:127.0.0.3'), LOCAL)), 'allow');
  const plain = setup('', 'ALL: 127.0.0.2\n');
  sync(plain.ctl.admit(svc(), peer('127.0.0.2'), LOCAL));
  assert.deepEqual(plain.lookups, []);
});

test('a client without an address (wait = yes stream): only_from refuses it; the rules see it as `unknown`', () => {
  const none = peer('<no address>');
  const a = setup('', '');
  assert.equal(why(sync(a.ctl.admit(svc({ only_from: ['127.0.0.1'] }), none, LOCAL))), 'address');
  assert.equal(why(sync(a.ctl.admit(svc(), none, LOCAL))), 'allow');
  const b = setup('', 'ALL: UNKNOWN\n');
  assert.equal(why(sync(b.ctl.admit(svc(), none, LOCAL))), 'libwrap');
  const c = setup('', 'ALL: 127.0.0.1\n');
  assert.equal(why(sync(c.ctl.admit(svc(), none, LOCAL))), 'allow');
});

test('needsAddress: a wrapped service needs the sender as soon as the rule files say anything', () => {
  assert.equal(setup('', '').ctl.needsAddress(svc()), false);
  assert.equal(setup('', 'ALL: 127.0.0.9\n').ctl.needsAddress(svc()), true);
  assert.equal(setup('', 'ALL: 127.0.0.9\n').ctl.needsAddress(svc({ flags: ['NOLIBWRAP'] })), false);
  assert.equal(setup('', '# no newline').ctl.needsAddress(svc()), true);
});
