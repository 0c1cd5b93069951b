// hosts-options.ts: the options of a matched rule as libwrap's process_options() reads them
// (tcp-wrappers.md §5), and the % expansions with libwrap's safe-character rule.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHostsFile } from '../../../../src/admission/wrappers/hosts-syntax.js';
import {
  expandOptionText,
  optionNeeds,
  expandPercent,
  expandPercentDetailed,
  percentNeeds,
  processRuleOptions,
  setenvFrom,
  type OptionChecks,
  type PercentContext,
} from '../../../../src/admission/wrappers/hosts-options.js';

function options(line: string, checks?: OptionChecks) {
  const rule = parseHostsFile('/etc/hosts.allow', `ALL: ALL: ${line}\n`).rules[0]!;
  return processRuleOptions(rule, checks);
}

/** The error message, or the kinds of the options when there is none. */
function outcome(line: string, checks?: OptionChecks): string {
  const r = options(line, checks);
  return r.error !== null ? r.error.message : `${r.end}: ${r.options.map((o) => o.kind).join(',')}`;
}

describe('option list', () => {
  test('keyword value, keyword = value, case-insensitive keywords', () => {
    const text = 'SPAWN = /bin/echo %a : Umask 027 : NICE : severity Local0.Info : ALLOW';
    const col = (word: string) => 'ALL: ALL: '.length + text.indexOf(word) + 1;
    const r = options(text);
    assert.equal(r.error, null);
    assert.deepEqual(r.options, [
      { kind: 'spawn', command: '/bin/echo %a', line: 1, column: 11 },
      { kind: 'umask', mask: 0o27, line: 1, column: col('Umask') },
      { kind: 'nice', value: 10, line: 1, column: col('NICE') },
      { kind: 'severity', facility: 'local0', level: 'info', line: 1, column: col('severity') },
      { kind: 'allow', line: 1, column: col('ALLOW') },
    ]);
    assert.equal(r.end, 'allow');
  });

  test("each error of §5 denies, with libwrap's message, at the keyword", () => {
    for (const [line, message] of [
      ['bogus', 'bad option name: "bogus"'],
      ['/bin/echo hi', 'bad option name: "/bin/echo"'],
      ['spawn', 'option "spawn" requires value'],
      ['allow yes', 'option "allow" requires no value'],
      ['keepalive 3', 'option "keepalive" requires no value'],
      ['allow : spawn x', 'option "allow" must be at end'],
      ['twist x : allow', 'option "twist" must be at end'],
      ['spawn x : : allow', 'missing option name'],
      ['umask 999', 'bad umask value: "999"'],
      ['umask 1777', 'bad umask value: "1777"'],
      ['nice x', 'bad nice value: "x"'],
      ['linger -1', 'bad linger value: "-1"'],
      ['rfc931 0', 'bad rfc931 timeout: "0"'],
      ['severity loud', 'bad syslog facility or severity: "loud"'],
      ['severity bogus.info', 'bad syslog facility or severity: "bogus"'],
    ]) {
      assert.equal(outcome(line!), message, line);
    }
    const r = options('spawn /bin/true : nice x');
    assert.deepEqual([r.error?.line, r.error?.column, r.error?.severity], [1, 29, 'error']);
  });

  test('a trailing ":" leaves a field holding the newline: allow is then not last', () => {
    assert.equal(outcome('allow :'), 'option "allow" must be at end');
  });

  test('options run in order: the ones before an error are returned', () => {
    const r = options('spawn /bin/true : setenv A b : bogus : allow');
    assert.deepEqual([r.end, r.options.map((o) => o.kind)], ['error', ['spawn', 'setenv']]);
  });

  test('numbers read as sscanf does', () => {
    assert.deepEqual(options('nice -5').options, [{ kind: 'nice', value: -5, line: 1, column: 11 }]);
    assert.deepEqual(options('umask +022').options[0], { kind: 'umask', mask: 0o22, line: 1, column: 11 });
    assert.equal(outcome('umask 08'), 'bad umask value: "08"');
    assert.equal(outcome('linger 5s'), 'bad linger value: "5s"');
    assert.deepEqual(options('rfc931').options[0], { kind: 'rfc931', timeout: null, line: 1, column: 11 });
  });

  test('user and group are checked with the injected look-ups; the group of user.group first', () => {
    const checks: OptionChecks = { knownUser: (n) => n === 'nobody', knownGroup: (n) => n === 'nogroup' };
    assert.equal(outcome('user nobody', checks), 'end: user');
    assert.equal(outcome('user nobody.nogroup', checks), 'end: user');
    assert.equal(outcome('user ghost', checks), 'unknown user: "ghost"');
    assert.equal(outcome('user ghost.ghosts', checks), 'unknown group: "ghosts"');
    assert.equal(outcome('group ghosts', checks), 'unknown group: "ghosts"');
    assert.deepEqual(options('user nobody.nogroup', checks).options[0], { kind: 'user', user: 'nobody', group: 'nogroup', line: 1, column: 11 });
  });

  test('a colon inside an option is written \\:', () => {
    assert.deepEqual(options('twist /bin/echo "a\\:b"').options, [{ kind: 'twist', command: '/bin/echo "a:b"', line: 1, column: 11 }]);
  });
});

const ctx: PercentContext = {
  daemon: 'in.tftpd',
  pid: 4242,
  client: { address: '127.0.0.2', port: 40000 },
  server: { address: '127.0.0.1', port: 69 },
};

describe('% expansion', () => {
  test('each letter', () => {
    assert.equal(
      expandPercent('%a %A %d %p %r %R %h %H %c %s %%', ctx),
      '127.0.0.2 127.0.0.1 in.tftpd 4242 40000 69 127.0.0.2 127.0.0.1 127.0.0.2 in.tftpd@127.0.0.1 %',
    );
    const named: PercentContext = {
      ...ctx,
      client: { ...ctx.client, hostname: 'host2.example.test', user: 'root' },
      server: { ...ctx.server, hostname: 'localhost' },
    };
    assert.equal(
      expandPercent('%h %n %N %H %c %s %u', named),
      'host2.example.test host2.example.test localhost localhost root@host2.example.test in.tftpd@localhost root',
    );
  });

  test("names not looked up expand as libwrap's failed look-ups; paranoid names give the address in %h", () => {
    assert.equal(expandPercent('%n %N %u', ctx), 'unknown unknown unknown');
    assert.equal(expandPercent('%h', { ...ctx, client: { ...ctx.client, hostname: 'paranoid' } }), '127.0.0.2');
  });

  test("characters outside libwrap's safe set become _ in expansions only", () => {
    const hostile: PercentContext = { ...ctx, daemon: 'a;b`c$(d) e|f&g\'h"i<j>k\\l', client: { ...ctx.client, user: 'r\u00e9' } };
    assert.equal(expandPercent('echo "%d" %u;', hostile), 'echo "a_b_c__d__e_f_g_h_i_j_k_l" r__;');
    assert.equal(expandPercent('%d', { ...ctx, daemon: '!@%-_=+:,./Az09' }), '!@%-_=+:,./Az09');
  });

  test('an unknown letter expands to nothing and is reported; a lone % at the end stays', () => {
    assert.deepEqual(expandPercentDetailed('x%zy%', ctx), { text: 'xy%', unrecognized: ['z'] });
  });

  test('percentNeeds names the look-ups a template forces', () => {
    assert.deepEqual(percentNeeds('%a %h %c'), []);
    assert.deepEqual(percentNeeds('%n %u %N %n %%n'), ['client-hostname', 'client-user', 'server-hostname']);
  });

  test('optionNeeds: the look-ups the options of a verdict will make', () => {
    assert.deepEqual(optionNeeds(options('spawn echo %a %h : setenv X %N : allow').options), ['server-hostname']);
    assert.deepEqual(optionNeeds(options('rfc931 : twist echo %n').options), ['client-user', 'client-hostname']);
    assert.deepEqual(optionNeeds(options('keepalive : banners /etc/banners').options), []);
  });

  test('expanded option text is chopped; setenv splits at the first blank', () => {
    assert.equal(expandOptionText('  echo %a  ', ctx), 'echo 127.0.0.2');
    assert.deepEqual(setenvFrom('CLIENT  127.0.0.2 x'), { name: 'CLIENT', value: '127.0.0.2 x' });
    assert.deepEqual(setenvFrom('ONLY'), { name: 'ONLY', value: '' });
  });
});
