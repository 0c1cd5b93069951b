// hosts-lint.ts: the findings `tsinetd --check` reports for hosts.allow / hosts.deny, each at
// the exact line and column of its token, and only where libwrap really misbehaves.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHostsFile } from '../../../../src/admission/wrappers/hosts-syntax.js';
import { lintHostsTable } from '../../../../src/admission/wrappers/hosts-lint.js';
import { evaluateAccess } from '../../../../src/admission/wrappers/hosts-match.js';

const DENY = '/etc/hosts.deny';

function lint(text: string, role: 'allow' | 'deny' = 'deny'): [number, number, string, string][] {
  return lintHostsTable(parseHostsFile(DENY, text), { role }).map((d) => [d.line, d.column, d.severity, d.message]);
}

/** The findings' positions and first words, for compact assertions. */
function where(text: string): string[] {
  return lint(text).map(([l, c, s, m]) => `${l}:${c} ${s} ${m.split(':')[0]}`);
}

describe('patterns that never match', () => {
  test('host bits set: the message gives the network to write', () => {
    assert.deepEqual(lint('ALL: 192.168.0.1/16 10.0.0.1/8\n'), [
      [1, 6, 'warning', 'host bits set: libwrap compares (address & 255.255.0.0) with 192.168.0.1, so 192.168.0.1/16 never matches; write 192.168.0.0/16'],
      [1, 21, 'warning', 'host bits set: libwrap compares (address & 255.0.0.0) with 10.0.0.1, so 10.0.0.1/8 never matches; write 10.0.0.0/8'],
    ]);
  });

  test('/0, /33, 127/8, mask 255.255.255.255', () => {
    assert.deepEqual(where('ALL: 127.0.0.0/0\nALL: 127.0.0.0/33\nsshd: 10.0.0.9, 127/8\nALL: 127.0.0.2/255.255.255.255\n'), [
      '1:6 warning libwrap accepts prefix lengths 1 to 32 only',
      '2:6 warning libwrap accepts prefix lengths 1 to 32 only',
      '3:17 warning libwrap needs a full dotted quad before the "/" ("127" is not one)',
      "4:6 warning libwrap cannot read the mask 255.255.255.255 (it equals inet_addr's error value)",
    ]);
    assert.match(lint('ALL: 127.0.0.0/0\n')[0]![3], /write ALL to match every client$/);
  });

  test('valid masks and CIDR forms say nothing', () => {
    assert.deepEqual(lint('ALL: 127.0.0.0/24 127.0.0.0/255.255.255.0 0.0.0.0/0.0.0.0 [2001:db8::]/32 [::1]\n'), []);
  });

  test('IPv6 patterns: unreadable addresses, prefixes out of range, atoi prefixes', () => {
    assert.deepEqual(where('ALL: [::1]/129 [2001:db8::g] [::1]/abc\n'), [
      '1:6 warning prefix length 129 is out of range 0-128',
      '1:16 warning "[2001',
      '1:30 note libwrap reads the prefix length "abc" as 0 (atoi)',
    ]);
  });

  test('the host part of user@host and daemon@host is checked, at its own column', () => {
    assert.deepEqual(where('sshd@127.0.0.1/24: root@10.0.0.1/8\n'), ['1:6 warning host bits set', '1:25 warning host bits set']);
  });

  test('a list starting with EXCEPT', () => {
    assert.deepEqual(where('ALL: EXCEPT 10.0.0.1\n'), ['1:6 warning the client list starts with EXCEPT']);
  });

  test('each finding is about a pattern that really does not match', () => {
    const text = 'ALL: 127.0.0.1/24 127.0.0.0/0 127/8 127.0.0.2/255.255.255.255 [::1]/129\n';
    const allow = parseHostsFile('/etc/hosts.allow', '');
    for (const client of ['127.0.0.1', '127.0.0.2', '::1']) {
      const v = evaluateAccess(allow, parseHostsFile(DENY, text), {
        daemon: 'x',
        server: { address: '127.0.0.1', port: 1 },
        client: { address: client, port: 2, hostname: 'unknown' },
      });
      assert.equal('kind' in v ? v.kind : v.access, 'granted', client);
    }
    assert.equal(lint(text).length, 5);
  });
});

describe('IPv6 addresses without brackets', () => {
  test('the likely intent is found across the split, with the bracketed form to write', () => {
    assert.deepEqual(lint('ALL: ::1\nsshd: 2001:db8::5\nALL: 2001:db8::/32\n'), [
      [
        1,
        6,
        'error',
        'IPv6 address without brackets: libwrap cuts the line at the address\'s first ":", so this rule never matches that address (what follows is read as options, and any client the rule does match is refused for bad options); write [::1]',
      ],
      [
        2,
        7,
        'error',
        'IPv6 address without brackets: libwrap cuts the line at the address\'s first ":", so this rule never matches that address (what follows is read as options, and any client the rule does match is refused for bad options); write [2001:db8::5]',
      ],
      [
        3,
        6,
        'error',
        'IPv6 address without brackets: libwrap cuts the line at the address\'s first ":", so this rule never matches that address (what follows is read as options, and any client the rule does match is refused for bad options); write [2001:db8::]/32',
      ],
    ]);
  });

  test('after another client token', () => {
    assert.deepEqual(where('ALL: 10.0.0.1 ::1\n'), ['1:15 error IPv6 address without brackets']);
  });
});

describe('options and faults', () => {
  test('unknown keyword, not last, missing value, shell command in the options field', () => {
    assert.deepEqual(lint('ALL: 10.0.0.1: bogus\nALL: 10.0.0.2: allow : spawn x\nALL: 10.0.0.3: spawn\nALL: 10.0.0.4: /bin/echo hi\n'), [
      [1, 16, 'error', 'bad option name: "bogus": libwrap refuses every client this rule matches'],
      [2, 16, 'error', 'option "allow" must be at end: libwrap refuses every client this rule matches'],
      [3, 16, 'error', 'option "spawn" requires value: libwrap refuses every client this rule matches'],
      [
        4,
        16,
        'error',
        'bad option name: "/bin/echo": libwrap refuses every client this rule matches (the third field holds options, not a shell command: write "spawn CMD" or "twist CMD")',
      ],
    ]);
  });

  test('unknown % letters and the no-op user/group options', () => {
    assert.deepEqual(lint('ALL: 10.0.0.1: spawn echo %a %z 100%! : user nobody : group ghosts\n'), [
      [1, 16, 'warning', '%z, %!: not a % expansion libwrap knows; it expands to nothing (write %% for a percent sign)'],
      [1, 41, 'note', 'option "user" does nothing under Debian\'s libwrap (the server keeps the service\'s user); an unknown name still refuses the client'],
      [1, 55, 'note', 'option "group" does nothing under Debian\'s libwrap (the server keeps the service\'s user); an unknown name still refuses the client'],
    ]);
    const checks = { role: 'deny' as const, knownGroup: (g: string) => g !== 'ghosts' };
    const d = lintHostsTable(parseHostsFile(DENY, 'ALL: ALL: group ghosts\n'), checks);
    assert.deepEqual(
      d.map((x) => [x.line, x.column, x.message]),
      [[1, 11, 'unknown group: "ghosts": libwrap refuses every client this rule matches']],
    );
  });

  test('missing separator', () => {
    assert.deepEqual(lint('\n  sshd 10.0.0.1\n'), [
      [2, 3, 'warning', 'missing ":" separator: libwrap skips this line (and warns on every connection that reaches it)'],
    ]);
  });

  test('missing final newline: an error that says what each file does with it', () => {
    assert.deepEqual(lint('sshd: ALL', 'deny'), [
      [
        1,
        10,
        'error',
        'no newline at the end of the file: libwrap ignores this last line; reaching it makes hosts.deny answer ERR, which refuses every client no earlier rule matched',
      ],
    ]);
    assert.match(lint('sshd: ALL', 'allow')[0]![3], /hosts\.allow answer ERR, and libwrap goes on to hosts\.deny$/);
  });

  test('a line too long', () => {
    assert.deepEqual(where(`ALL: ${'10.0.0.1 '.repeat(300)}\n`), ['1:2048 error logical line of 2048 bytes or more']);
  });

  test('a clean file has no findings', () => {
    assert.deepEqual(lint('# default deny\nALL: ALL EXCEPT 127.0.0.1, [::1]\nsshd: 10.0.0.0/8 : spawn /bin/echo %a \\: %d : deny\n'), []);
  });
});
