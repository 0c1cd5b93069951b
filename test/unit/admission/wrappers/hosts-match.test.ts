// hosts-match.ts: the evaluation of hosts.allow / hosts.deny, checked against the measured
// verdicts of tcp-wrappers.md §7 and the pattern facts of §1, §3 and §4, plus the needs
// (what must be looked up, and only when a pattern reaches it), aclexec and resume.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { emptyTable, parseHostsFile, unreadableTable, type HostsTable } from '../../../../src/admission/wrappers/hosts-syntax.js';
import { evaluateAccess, scanTable, type EvaluateOptions, type WrapAnswer, type WrapRequest } from '../../../../src/admission/wrappers/hosts-match.js';

interface Client {
  address: string;
  hostname?: string;
  user?: string;
}

/** A request as tcpdmatch makes one from a bare address: no name, unknown user, unknown server. */
function req(daemon: string, client: string | Client, server: Partial<WrapRequest['server']> = {}): WrapRequest {
  const c = typeof client === 'string' ? { address: client, hostname: 'unknown', user: 'unknown' } : client;
  return { daemon, server: { address: 'unknown', port: null, hostname: 'unknown', ...server }, client: { port: 40000, ...c } };
}

function tables(allow: string, deny: string): [HostsTable, HostsTable] {
  return [parseHostsFile('/etc/hosts.allow', allow), parseHostsFile('/etc/hosts.deny', deny)];
}

function outcome(a: WrapAnswer): string {
  if ('kind' in a) return `need ${a.what}`;
  return a.delegated ? 'delegated' : a.access;
}

function decide(allow: string, deny: string, r: WrapRequest, opts?: EvaluateOptions): string {
  const [a, d] = tables(allow, deny);
  return outcome(evaluateAccess(a, d, r, opts));
}

/** The verdict of a hosts.deny holding `ALL: <pattern>` for a client. */
function denyAll(pattern: string, client: string | Client, daemon = 'in.tftpd'): string {
  return decide('', `ALL: ${pattern}\n`, req(daemon, client));
}

describe('the ten measured verdicts (tcp-wrappers.md §7)', () => {
  test('1: allow one address for one daemon, deny the rest', () => {
    const allow = 'in.tftpd: 127.0.0.1\n';
    const deny = 'ALL: ALL\n';
    assert.equal(decide(allow, deny, req('in.tftpd', '127.0.0.1')), 'granted');
    assert.equal(decide(allow, deny, req('in.tftpd', '127.0.0.2')), 'denied');
    assert.equal(decide(allow, deny, req('in.ftpd', '127.0.0.1')), 'denied');
  });

  test('2: EXCEPT in the client list and in the daemon list', () => {
    assert.equal(denyAll('ALL EXCEPT 127.0.0.1', '127.0.0.1'), 'granted');
    assert.equal(denyAll('ALL EXCEPT 127.0.0.1', '127.0.0.2'), 'denied');
    assert.equal(decide('', 'ALL EXCEPT in.fingerd: ALL\n', req('in.fingerd', '127.0.0.1')), 'granted');
    assert.equal(decide('', 'ALL EXCEPT in.fingerd: ALL\n', req('in.tftpd', '127.0.0.1')), 'denied');
  });

  test('3: EXCEPT is right-associative', () => {
    const p = 'ALL EXCEPT 127.0.0. EXCEPT 127.0.0.2';
    assert.equal(denyAll(p, '127.0.0.1'), 'granted');
    assert.equal(denyAll(p, '127.0.0.2'), 'denied');
    assert.equal(denyAll(p, '10.1.2.3'), 'denied');
  });

  test('4: net/mask and CIDR forms against 127.0.0.2', () => {
    for (const p of ['127.0.0.0/255.255.255.0', '127.0.0.0/24', '127.0.0.2/32', '0.0.0.0/0.0.0.0']) {
      assert.equal(denyAll(p, '127.0.0.2'), 'denied', p);
    }
    for (const p of ['127.0.0.1/24', '127.0.0.2/255.255.255.255', '127.0.0.0/0', '127.0.0.0/33', '127/8']) {
      assert.equal(denyAll(p, '127.0.0.2'), 'granted', p);
    }
  });

  test('5: .domain suffixes need a longer name, case-insensitively', () => {
    assert.equal(denyAll('.example.test', { address: '192.0.2.7', hostname: 'host2.example.test' }), 'denied');
    assert.equal(denyAll('.example.test', '127.0.0.2'), 'granted');
    assert.equal(denyAll('.example.test', { address: '192.0.2.8', hostname: 'example.test' }), 'granted');
    assert.equal(denyAll('.EXAMPLE.TEST', { address: '192.0.2.7', hostname: 'host2.example.test' }), 'denied');
  });

  test('6: LOCAL is a known name without a dot', () => {
    assert.equal(denyAll('LOCAL', { address: '127.0.0.1', hostname: 'localhost' }), 'denied');
    assert.equal(denyAll('LOCAL', { address: '192.0.2.9', hostname: 'plainhost' }), 'denied');
    assert.equal(denyAll('LOCAL', { address: '192.0.2.7', hostname: 'host2.example.test' }), 'granted');
    assert.equal(denyAll('LOCAL', '127.0.0.1'), 'granted');
  });

  test('7: KNOWN, UNKNOWN, PARANOID', () => {
    const named = { address: '127.0.0.1', hostname: 'localhost' };
    const paranoid = { address: '127.0.0.2', hostname: 'paranoid' };
    assert.equal(denyAll('KNOWN', named), 'denied');
    assert.equal(denyAll('KNOWN', '127.0.0.1'), 'granted');
    assert.equal(denyAll('KNOWN', paranoid), 'granted');
    assert.equal(denyAll('UNKNOWN', '127.0.0.1'), 'denied');
    assert.equal(denyAll('UNKNOWN', named), 'granted');
    assert.equal(denyAll('PARANOID', paranoid), 'denied');
    assert.equal(denyAll('PARANOID', named), 'granted');
  });

  test('8: IPv6 needs brackets; prefixes', () => {
    assert.equal(denyAll('[::1]', '::1'), 'denied');
    assert.equal(denyAll('[::1]/128', '::1'), 'denied');
    assert.equal(denyAll('[2001:db8::]/32', '2001:db8::5'), 'denied');
    assert.equal(denyAll('[2001:db8::]/32', '2001:db9::5'), 'granted');
    assert.equal(denyAll('[::]/0', '2001:db8::5'), 'denied');
    assert.equal(denyAll('[::]/0', '127.0.0.1'), 'granted');
    assert.equal(denyAll('::1', '::1'), 'granted');
  });

  test('9: an IPv4-mapped client matches IPv4 patterns, never IPv6 ones', () => {
    for (const p of ['127.0.0.1', '127.0.0.0/8', '127.0.0.']) assert.equal(denyAll(p, '::ffff:127.0.0.1'), 'denied', p);
    for (const p of ['[::ffff:127.0.0.1]', '[::ffff:127.0.0.0]/104', '[::]/0']) assert.equal(denyAll(p, '::ffff:127.0.0.1'), 'granted', p);
  });

  test('10: options allow, deny, twist and a bad one; globs', () => {
    const allow = 'ALL: 127.0.0.2: DENY\nALL: ALL: ALLOW\n';
    assert.equal(decide(allow, '', req('x', '127.0.0.2')), 'denied');
    assert.equal(decide(allow, '', req('x', '127.0.0.3')), 'granted');
    assert.equal(decide('ALL: ALL: twist /bin/echo 421\n', '', req('x', '127.0.0.3')), 'delegated');
    assert.equal(decide('ALL: ALL: bogus\n', '', req('x', '127.0.0.3')), 'denied');
    assert.equal(denyAll('127.0.0.*', '127.0.0.2'), 'denied');
    assert.equal(denyAll('127.0.0.?', '127.0.0.22'), 'granted');
  });
});

describe('tables and faults (§1)', () => {
  test('a hosts.deny without final newline refuses everyone that reaches the fault', () => {
    const [a, d] = tables('', 'sshd: 10.0.0.1\n# nothing to deny');
    const v = evaluateAccess(a, d, req('in.tftpd', '127.0.0.1'));
    assert.ok(!('kind' in v));
    assert.deepEqual([v.access, v.table, v.rule], ['denied', 'deny', null]);
    assert.deepEqual(
      v.problems.map((p) => [p.file, p.line, p.column, p.message]),
      [['/etc/hosts.deny', 2, 18, 'missing newline or line too long: all the subsequent rules will be ignored']],
    );
  });

  test('an ERR in hosts.allow moves on to hosts.deny', () => {
    assert.equal(decide('ALL: ALL', '', req('x', '127.0.0.1')), 'granted');
    assert.equal(decide('ALL: ALL', 'ALL: 127.0.0.1\n', req('x', '127.0.0.1')), 'denied');
    // A rule before the fault still applies.
    assert.equal(decide('ALL: 127.0.0.1\nALL: ALL', 'ALL: ALL\n', req('x', '127.0.0.1')), 'granted');
  });

  test('an unreadable hosts.deny denies; a missing one is empty', () => {
    const v = evaluateAccess(emptyTable('/etc/hosts.allow'), unreadableTable('/etc/hosts.deny', 'Permission denied'), req('x', '127.0.0.1'));
    assert.equal(outcome(v), 'denied');
    assert.equal(outcome(evaluateAccess(emptyTable('a'), emptyTable('d'), req('x', '127.0.0.1'))), 'granted');
  });

  test('first match wins and reports its rule', () => {
    const [a, d] = tables('', 'sshd: 10.0.0.1\nALL: 127.0.0.1 : allow\nALL: ALL\n');
    const v = evaluateAccess(a, d, req('in.tftpd', '127.0.0.1'));
    assert.ok(!('kind' in v));
    assert.deepEqual([v.access, v.table, v.rule?.line, v.options.map((o) => o.kind)], ['granted', 'deny', 2, ['allow']]);
  });

  test('an option error in hosts.allow denies, and the options before it are still to be run', () => {
    const [a, d] = tables('ALL: ALL: spawn /bin/true : nice x : allow\n', '');
    const v = evaluateAccess(a, d, req('x', '127.0.0.1'));
    assert.ok(!('kind' in v));
    assert.equal(v.access, 'denied');
    assert.deepEqual(
      v.options.map((o) => o.kind),
      ['spawn'],
    );
    assert.deepEqual(
      v.problems.map((p) => [p.line, p.column, p.message]),
      [[1, 29, 'bad nice value: "x"']],
    );
  });

  test('a rule with an empty options field ("ALL: ALL:") denies: missing option name', () => {
    assert.equal(decide('', 'ALL: 10.0.0.1:\n', req('x', '10.0.0.1')), 'denied');
    assert.equal(decide('ALL: 10.0.0.1:\n', '', req('x', '10.0.0.1')), 'denied');
  });

  test('a hosts.deny rule ending in allow grants', () => {
    assert.equal(decide('', 'ALL: 127.0.0.2: allow\n', req('x', '127.0.0.2')), 'granted');
  });
});

describe('daemon patterns (§3)', () => {
  test('names, ALL, globs, prefix and suffix, case-insensitive', () => {
    for (const [p, d, want] of [
      ['in.tftpd', 'in.tftpd', 'denied'],
      ['IN.TFTPD', 'in.tftpd', 'denied'],
      ['in.', 'in.tftpd', 'denied'],
      ['in.', 'sshd', 'granted'],
      ['.tftpd', 'in.tftpd', 'denied'],
      ['*ftpd', 'in.tftpd', 'denied'],
      ['in.?tpd', 'in.ftpd', 'denied'],
      ['in.?tpd', 'in.tftpd', 'granted'],
      ['KNOWN', 'sshd', 'denied'],
      ['ALL', 'anything', 'denied'],
    ] as const) {
      assert.equal(decide('', `${p}: ALL\n`, req(d, '127.0.0.1')), want, `${p} vs ${d}`);
    }
  });

  test('a number up to 65535 is the local port; above, a name', () => {
    assert.equal(decide('', '69: ALL\n', req('in.tftpd', '127.0.0.1', { port: 69 })), 'denied');
    assert.equal(decide('', '69: ALL\n', req('in.tftpd', '127.0.0.1', { port: 70 })), 'granted');
    assert.equal(decide('', '0069: ALL\n', req('x', '127.0.0.1', { port: 69 })), 'denied');
    // Unknown port (tcpdmatch): no number matches.
    assert.equal(decide('', '69: ALL\n', req('69', '127.0.0.1')), 'granted');
    assert.equal(decide('', '70000: ALL\n', req('70000', '127.0.0.1', { port: 4464 })), 'denied');
  });

  test('daemon@host matches the server endpoint', () => {
    const server = { address: '127.0.0.1', port: 7, hostname: 'localhost' };
    assert.equal(decide('', 'customname@127.0.0.1: ALL\n', req('customname', '127.0.0.2', server)), 'denied');
    assert.equal(decide('', 'customname@127.0.0.2: ALL\n', req('customname', '127.0.0.2', server)), 'granted');
    assert.equal(decide('', 'in.tftpd@[::1]: ALL\n', req('in.tftpd', '::1', { address: '::1', port: 69 })), 'denied');
    assert.equal(decide('', 'ALL@localhost: ALL\n', req('x', '127.0.0.2', server)), 'denied');
  });
});

describe('client patterns (§4)', () => {
  test('prefix of the address text, not of the number', () => {
    assert.equal(denyAll('127.0.0.', '127.0.0.2'), 'denied');
    assert.equal(denyAll('127.0.0.', '127.0.1.2'), 'granted');
    assert.equal(denyAll('10.', '::ffff:10.9.9.9'), 'denied');
  });

  test('globs run before suffix and prefix, over the whole text', () => {
    const h = { address: '192.0.2.7', hostname: 'host2.example.test' };
    assert.equal(denyAll('.example.*', h), 'granted');
    assert.equal(denyAll('*.example.test', h), 'denied');
    assert.equal(denyAll('HOST?.*', h), 'denied');
    assert.equal(denyAll('*', '2001:db8::5'), 'denied');
  });

  test('net/mask takes inet_addr forms with four parts; CIDR reads its length with atoi', () => {
    assert.equal(denyAll('0177.0.0.0/255.0.0.0', '127.0.0.9'), 'denied');
    assert.equal(denyAll('127.0.0.0/24abc', '127.0.0.9'), 'denied');
    assert.equal(denyAll('127.0.0.0/0x8', '127.0.0.9'), 'granted');
  });

  test('IPv6 prefixes read with atoi: junk is 0 and matches every IPv6 client; 129 none; host bits ignored', () => {
    assert.equal(denyAll('[::1]/', '2001:db8::5'), 'denied');
    assert.equal(denyAll('[::1]/abc', '2001:db8::5'), 'denied');
    assert.equal(denyAll('[::1]/abc', '10.1.2.3'), 'granted');
    assert.equal(denyAll('[::1]/129', '::1'), 'granted');
    assert.equal(denyAll('[2001:db8::5]/32', '2001:db8:0:1::9'), 'denied');
    assert.equal(denyAll('[2001:DB8:0:0:0:0:0:5]', '2001:db8::5'), 'denied');
  });

  test('@netgroup never matches without NIS; a /path file lists patterns', () => {
    assert.equal(denyAll('@wheel', '127.0.0.1'), 'granted');
    const files: Record<string, string> = { '/etc/blocked': '10.0.0.1\n  127.0.0.\t[::1]\n', '/etc/nested': '/etc/blocked' };
    const readPatternFile: EvaluateOptions['readPatternFile'] = (p) =>
      p in files ? { kind: 'text', text: files[p]! } : p === '/etc/secret' ? { kind: 'error', message: 'Permission denied' } : { kind: 'missing' };
    const [a, d] = tables('', 'ALL: /etc/blocked\n');
    assert.equal(outcome(evaluateAccess(a, d, req('x', '127.0.0.5'), { readPatternFile })), 'denied');
    assert.equal(outcome(evaluateAccess(a, d, req('x', '::1'), { readPatternFile })), 'denied');
    assert.equal(outcome(evaluateAccess(a, d, req('x', '10.0.0.2'), { readPatternFile })), 'granted');
    const [, n] = tables('', 'ALL: /etc/nested\n');
    assert.equal(outcome(evaluateAccess(a, n, req('x', '10.0.0.1'), { readPatternFile })), 'denied');
    const [, m] = tables('', 'ALL: /etc/missing /etc/secret\n');
    const v = evaluateAccess(a, m, req('x', '10.0.0.1'), { readPatternFile });
    assert.ok(!('kind' in v));
    assert.deepEqual([v.access, v.problems.map((p) => p.message)], ['granted', ['open /etc/secret: Permission denied']]);
    // A file naming itself stops at a fixed depth instead of recursing for ever.
    const loop: EvaluateOptions['readPatternFile'] = () => ({ kind: 'text', text: '/etc/loop' });
    assert.equal(outcome(evaluateAccess(a, parseHostsFile('d', 'ALL: /etc/loop\n'), req('x', '10.0.0.1'), { readPatternFile: loop })), 'granted');
  });

  test('user@host: the host part first, then the IDENT user', () => {
    const c = { address: '127.0.0.2', hostname: 'unknown', user: 'root' };
    assert.equal(denyAll('root@127.0.0.2', c), 'denied');
    assert.equal(denyAll('ROOT@127.0.0.2', c), 'denied');
    assert.equal(denyAll('KNOWN@ALL', c), 'denied');
    assert.equal(denyAll('UNKNOWN@ALL', c), 'granted');
    assert.equal(denyAll('root@127.0.0.3', c), 'granted');
  });

  test('an exact token that is not only digits and dots is also compared with the host name', () => {
    assert.equal(denyAll('localhost', { address: '127.0.0.1', hostname: 'LocalHost' }), 'denied');
    assert.equal(denyAll('unknown', '127.0.0.1'), 'denied');
  });

  test('a list starting with EXCEPT matches nothing; ALL EXCEPT with nothing after matches', () => {
    assert.equal(denyAll('EXCEPT 127.0.0.1', '127.0.0.1'), 'granted');
    assert.equal(denyAll('ALL EXCEPT', '127.0.0.1'), 'denied');
  });

  test('a deep EXCEPT chain is evaluated without recursion', () => {
    // ALL EXCEPT 127.0.0.1 EXCEPT ALL EXCEPT ... in 20,000 segments: far more than a 2048-byte line
    // holds, so the table is built directly rather than parsed.
    const chain = Array.from({ length: 20_000 }, (_, i) => (i % 2 === 0 ? 'ALL' : '127.0.0.1')).join(' EXCEPT ');
    const table: HostsTable = {
      path: 'd',
      fault: null,
      diagnostics: [],
      rules: [
        {
          file: 'd',
          line: 1,
          column: 1,
          libwrapLine: 1,
          hasOptions: false,
          options: [],
          daemons: [{ text: 'ALL', line: 1, column: 1 }],
          clients: chain.split(' ').map((text) => ({ text, line: 1, column: 1 })),
        },
      ],
    };
    // 127.0.0.1 matches every segment down to the last, an odd number of levels deep: no match.
    assert.equal(outcome(evaluateAccess(emptyTable('a'), table, req('x', '127.0.0.1'))), 'granted');
    assert.equal(outcome(evaluateAccess(emptyTable('a'), table, req('x', '127.0.0.2'))), 'denied');
  });
});

describe('needs: a look-up only where libwrap would make one', () => {
  const bare = (address: string): WrapRequest => ({ daemon: 'sshd', server: { address: '127.0.0.1', port: 22 }, client: { address, port: 40000 } });

  test('ALL and address patterns never need a name', () => {
    assert.equal(decide('', 'ALL: ALL\n', bare('10.0.0.1')), 'denied');
    assert.equal(decide('', 'sshd: 10.0.0.1 127.0.0. 10.0.0.0/8 [::1]\n', bare('10.9.0.1')), 'denied');
    // An [IPv6] token that does not match the address is not tried against a name.
    assert.equal(decide('', 'sshd: [::1] [2001:db8::]/32\n', bare('10.9.0.1')), 'granted');
  });

  test('a name pattern needs the host name once the address did not match', () => {
    assert.equal(decide('', 'sshd: 10.0.0.1 .example.test\n', bare('10.0.0.1')), 'denied');
    assert.equal(decide('', 'sshd: 10.0.0.1 .example.test\n', bare('10.0.0.2')), 'need client-hostname');
    assert.equal(decide('', 'sshd: LOCAL\n', bare('10.0.0.2')), 'need client-hostname');
    // The daemon list is checked first: a rule for another daemon never needs the name.
    assert.equal(decide('', 'in.tftpd: LOCAL\n', bare('10.0.0.2')), 'granted');
  });

  test('user@host needs the user only after the host part matched', () => {
    assert.equal(decide('', 'sshd: root@10.0.0.1\n', bare('10.0.0.2')), 'granted');
    assert.equal(decide('', 'sshd: root@10.0.0.1\n', bare('10.0.0.1')), 'need client-user');
  });

  test('daemon@name needs the server name', () => {
    assert.equal(decide('', 'sshd@localhost: ALL\n', bare('10.0.0.1')), 'need server-hostname');
  });

  test('asking again with the answer carries on', () => {
    const r = bare('10.0.0.2');
    r.client.hostname = 'www.example.test';
    assert.equal(decide('', 'sshd: 10.0.0.1 .example.test\n', r), 'denied');
  });

  test('scanTable reports the first matching rule from an index', () => {
    const t = parseHostsFile('d', 'sshd: 10.0.0.1\nALL: ALL\nsshd: ALL\n');
    assert.deepEqual(scanTable(t, bare('10.0.0.1')), { kind: 'match', index: 0, rule: t.rules[0] });
    const s = scanTable(t, bare('10.0.0.1'), 2);
    assert.equal(s.kind === 'match' ? s.index : s.kind, 2);
    assert.deepEqual(scanTable(t, bare('10.0.0.1'), 3), { kind: 'nomatch' });
  });
});

describe('aclexec and resume', () => {
  test('a matching rule with aclexec says where to go on if the command fails', () => {
    const [a, d] = tables('ALL: 127.0.0.1: aclexec /usr/local/bin/check %a\n', 'ALL: ALL\n');
    const v = evaluateAccess(a, d, req('x', '127.0.0.1'));
    assert.ok(!('kind' in v));
    assert.deepEqual([v.access, v.options.map((o) => o.kind), v.aclexec], ['granted', ['aclexec'], { resume: { table: 'deny', index: 0 } }]);
    // The command exited 1: hosts.allow answered "no"; hosts.deny decides.
    const again = evaluateAccess(a, d, req('x', '127.0.0.1'), { resume: v.aclexec!.resume, aclexecFailed: true });
    assert.equal(outcome(again), 'denied');
  });

  test('a failed aclexec in hosts.deny grants', () => {
    const [a, d] = tables('', 'ALL: ALL: aclexec /bin/false\n');
    const v = evaluateAccess(a, d, req('x', '127.0.0.1'));
    assert.ok(!('kind' in v));
    assert.equal(v.access, 'denied');
    assert.deepEqual(v.aclexec, { resume: { table: 'end', index: 0 } });
    assert.equal(outcome(evaluateAccess(a, d, req('x', '127.0.0.1'), { resume: v.aclexec.resume, aclexecFailed: true })), 'granted');
  });

  test('after a failed aclexec, a later rule with options counts as not matched; one without options still counts', () => {
    const opts: EvaluateOptions = { resume: { table: 'deny', index: 0 }, aclexecFailed: true };
    const withOptions = evaluateAccess(emptyTable('a'), parseHostsFile('d', 'ALL: ALL: spawn /bin/true\n'), req('x', '127.0.0.1'), opts);
    assert.ok(!('kind' in withOptions));
    assert.deepEqual([withOptions.access, withOptions.options.map((o) => o.kind)], ['granted', ['spawn']]);
    assert.equal(outcome(evaluateAccess(emptyTable('a'), parseHostsFile('d', 'ALL: ALL\n'), req('x', '127.0.0.1'), opts)), 'denied');
  });

  test('aclexec followed by deny: deny decides at once', () => {
    const [a, d] = tables('ALL: ALL: aclexec /bin/false : deny\n', '');
    const v = evaluateAccess(a, d, req('x', '127.0.0.1'));
    assert.ok(!('kind' in v));
    assert.deepEqual([v.access, v.aclexec], ['denied', undefined]);
  });
});

describe('request fields', () => {
  test('the daemon name is cut to 127 bytes before matching, as libwrap copies it', () => {
    const long = 'd'.repeat(200);
    assert.equal(decide('', `${'d'.repeat(127)}: ALL\n`, req(long, '127.0.0.1')), 'denied');
    assert.equal(decide('', `${long}: ALL\n`, req(long, '127.0.0.1')), 'granted');
  });

  test('a long block-list of plain addresses is indexed and agrees with rule-by-rule scanning', () => {
    const lines = ['sshd: 10.0.0.1'];
    for (let i = 0; i < 50; i++) lines.push(`${i % 3 === 0 ? 'in.tftpd' : 'ALL'}: 10.1.0.${i}, 10.2.0.${i}`);
    lines.push('ALL EXCEPT sshd: 10.1.0.7');
    const t = parseHostsFile('d', lines.join('\n') + '\n');
    for (const [daemon, addr, index] of [
      ['sshd', '10.1.0.3', -1], // listed only for in.tftpd
      ['sshd', '10.1.0.4', 5],
      ['in.tftpd', '10.2.0.3', 4],
      ['sshd', '::ffff:10.2.0.4', 5],
      ['x', '10.1.0.99', -1],
    ] as const) {
      const s = scanTable(t, req(daemon, addr));
      assert.equal(s.kind === 'match' ? s.index : -1, index, `${daemon} ${addr}`);
    }
    // Starting inside the indexed run skips the rules before the start.
    const s = scanTable(t, req('in.tftpd', '10.1.0.4'), 6);
    assert.equal(s.kind, 'nomatch');
  });
});

describe('the address index agrees with rule-by-rule matching', () => {
  const token = fc.constantFrom(
    '10.1.2.3',
    '10.1.2.4',
    '127.0.0.1',
    '10.1.',
    '10.1.2.',
    '127.',
    '1.',
    '10.0.0.0/8',
    '10.1.2.0/24',
    '10.1.2.3/32',
    '10.1.2.3/24',
    '0.0.0.0/0.0.0.0',
    '10.1.0.0/255.255.0.0',
    '127/8',
    '[2001:db8::]/32',
    '[2001:db8::5]/128',
    '[::]/0',
    '[::1]/abc',
    '[2001:db8:1::]/48',
    '[bad]/8',
    '010.1.2.3',
    '0x7f.0.0.1/8',
    '[2001:db8::5]',
    '[2001:DB8:0::5]',
    '[::1]',
    '[::ffff:10.1.2.3]',
    '[bad]',
  );
  const daemons = fc.constantFrom('ALL', 'sshd', 'in.tftpd', 'ALL EXCEPT sshd', 'ssh*');
  const ruleArb = fc.tuple(daemons, fc.array(token, { minLength: 1, maxLength: 3 })).map(([d, c]) => `${d}: ${c.join(', ')}`);
  const clients = ['10.1.2.3', '10.1.2.9', '10.9.9.9', '127.0.0.1', '::ffff:10.1.2.3', '2001:db8::5', '2001:db8:1::7', '::1', '8.1.2.3'];

  test('first matching rule, over generated block-lists', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 8, maxLength: 40 }),
        fc.constantFrom(...clients),
        fc.constantFrom('sshd', 'in.tftpd'),
        fc.nat(10),
        (rules, client, daemon, from) => {
          const whole = parseHostsFile('d', rules.join('\n') + '\n');
          const r = req(daemon, client);
          // One rule per table: never indexed.
          let expected = -1;
          for (let i = from; i < rules.length && expected < 0; i++) {
            if (scanTable(parseHostsFile('d', `${rules[i]!}\n`), r).kind === 'match') expected = i;
          }
          const got = scanTable(whole, r, from);
          assert.equal(got.kind === 'match' ? got.index : -1, expected);
        },
      ),
      { seed: 20261207, numRuns: 300 },
    );
  });
});
