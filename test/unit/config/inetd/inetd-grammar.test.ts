// grammar/inetd.peggy through its typed wrapper (src/config/inetd/inetd-syntax.ts): each start rule on its
// own, every inetd.conf form, and the exact line and column of the diagnostics built on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseField, parseInetdText, type InetdEntryNode, type InetdNode } from '../../../../src/config/inetd/inetd-syntax.js';
import { loadInetdText } from '../../../../src/config/inetd/inetd.js';
import { fixtureEnv } from './inetd-fixture-env.js';

function entries(nodes: InetdNode[]): InetdEntryNode[] {
  return nodes.filter((n): n is InetdEntryNode => n.kind === 'entry');
}

const words = (e: InetdEntryNode): string[] => e.words.map((w) => w.text);

// ---- File ----------------------------------------------------------------------------------

test('File: one entry per line, words located by line and column (tabs count as one column)', () => {
  const { nodes, diagnostics } = parseInetdText('f', 'ftp\tstream tcp  nowait root /usr/sbin/ftpd ftpd -l\n');
  assert.deepEqual(diagnostics, []);
  const [e] = entries(nodes);
  assert.ok(e);
  assert.deepEqual(words(e), ['ftp', 'stream', 'tcp', 'nowait', 'root', '/usr/sbin/ftpd', 'ftpd', '-l']);
  assert.deepEqual(
    e.words.map((w) => w.column),
    [1, 5, 12, 17, 24, 29, 44, 49],
  );
  assert.equal(e.line, 1);
  assert.equal(e.indented, false);
});

test('File: `#` in column 1 is a comment, `#@` is a policy line, empty and blank lines vanish', () => {
  const text = '# a comment\n#@ ipsec in\n#@\n\n   \n\t\necho stream tcp nowait root internal\n';
  const { nodes } = parseInetdText('f', text);
  assert.deepEqual(
    nodes.map((n) => [n.kind, n.line]),
    [
      ['comment', 1],
      ['policy', 2],
      ['policy', 3],
      ['entry', 7],
    ],
  );
  const policies = nodes.filter((n) => n.kind === 'policy');
  assert.deepEqual(
    policies.map((p) => p.text),
    ['ipsec in', ''],
  );
});

test('File: a line starting with a blank continues the entry above, even a whitespace-only line', () => {
  const text = 'x stream tcp nowait root /bin/cat cat\n\t-u\n   \n  -v # not a comment\nnext stream tcp nowait root /bin/cat\n';
  const [first, second] = entries(parseInetdText('f', text).nodes);
  assert.ok(first && second);
  assert.deepEqual(words(first), ['x', 'stream', 'tcp', 'nowait', 'root', '/bin/cat', 'cat', '-u', '-v', '#', 'not', 'a', 'comment']);
  assert.deepEqual(
    first.continuations.map((c) => c.line),
    [2, 3, 4],
  );
  assert.deepEqual(
    first.words.slice(7).map((w) => [w.line, w.column]),
    [
      [2, 2],
      [4, 3],
      [4, 6],
      [4, 8],
      [4, 12],
      [4, 14],
    ],
  );
  assert.equal(second.line, 5);
});

test('File: an empty line or a comment ends an entry; an indented line after them starts one', () => {
  const text = 'a b\n\n  c d\n# c\n\te f\n';
  const es = entries(parseInetdText('f', text).nodes);
  assert.deepEqual(
    es.map((e) => [e.line, e.indented, words(e)]),
    [
      [1, false, ['a', 'b']],
      [3, true, ['c', 'd']],
      [5, true, ['e', 'f']],
    ],
  );
});

test('File: CRLF line ends and a missing final newline', () => {
  const es = entries(parseInetdText('f', 'a b\r\n c\r\nd e').nodes);
  assert.deepEqual(
    es.map((e) => words(e)),
    [
      ['a', 'b', 'c'],
      ['d', 'e'],
    ],
  );
});

test('File: quotes are ordinary characters, except in FreeBSD mode', () => {
  const text = 'x stream tcp nowait root /bin/sh sh -c "echo hi"x \'a b\n';
  const [plain] = entries(parseInetdText('f', text).nodes);
  assert.deepEqual(words(plain!).slice(8), ['"echo', 'hi"x', "'a", 'b']);
  const [quoted] = entries(parseInetdText('f', text, true).nodes);
  assert.ok(quoted);
  assert.deepEqual(words(quoted).slice(8), ['echo hi', 'x', 'a b']);
  assert.deepEqual(
    quoted.words.slice(8).map((w) => [w.column, w.quoted]),
    [
      [40, true],
      [49, false],
      [51, true],
    ],
  );
});

test('File: every input parses (the grammar is total)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', '#', '@', ' ', '\t', '\n', '\r', '"', "'", ':', '.', '/') }), (s) => {
      for (const quotes of [false, true]) {
        const r = parseInetdText('f', s, quotes);
        assert.deepEqual(r.diagnostics, []);
      }
    }),
    { numRuns: 300 },
  );
});

// ---- field rules -----------------------------------------------------------------------------

test('ServiceField: plain names, host prefixes, lists, brackets, bare IPv6 and default-host lines', () => {
  assert.deepEqual(parseField('ServiceField', 'ftp'), { hosts: null, name: { text: 'ftp', offset: 0 } });
  assert.deepEqual(parseField('ServiceField', '127.0.0.1:ftp'), {
    hosts: [{ text: '127.0.0.1', offset: 0, length: 9, bracketed: false }],
    name: { text: 'ftp', offset: 10 },
  });
  assert.deepEqual(parseField('ServiceField', '10.0.0.1,[::1]:41002'), {
    hosts: [
      { text: '10.0.0.1', offset: 0, length: 8, bracketed: false },
      { text: '::1', offset: 9, length: 5, bracketed: true },
    ],
    name: { text: '41002', offset: 15 },
  });
  // busybox and OpenBSD split at the last colon, so a bare IPv6 literal works.
  assert.deepEqual(parseField('ServiceField', '::1:ftp')?.hosts?.[0]?.text, '::1');
  assert.deepEqual(parseField('ServiceField', '*:'), {
    hosts: [{ text: '*', offset: 0, length: 1, bracketed: false }],
    name: { text: '', offset: 2 },
  });
  assert.deepEqual(parseField('ServiceField', 'rstatd/1-3'), { hosts: null, name: { text: 'rstatd/1-3', offset: 0 } });
});

test('Protocol: name and OpenBSD buffer options with their offsets', () => {
  assert.deepEqual(parseField('Protocol', 'tcp6'), { name: 'tcp6', options: [] });
  assert.deepEqual(parseField('Protocol', 'tcp,rcvbuf=64k,sndbuf=1m'), {
    name: 'tcp',
    options: [
      { key: 'rcvbuf', value: { text: '64k', offset: 11 }, offset: 4, length: 10 },
      { key: 'sndbuf', value: { text: '1m', offset: 22 }, offset: 15, length: 9 },
    ],
  });
  assert.deepEqual(parseField('Protocol', 'rpc/udp'), { name: 'rpc/udp', options: [] });
});

test('WaitField: plain, OpenBSD .max and FreeBSD /limits (empty parts kept)', () => {
  assert.deepEqual(parseField('WaitField', 'nowait'), { mode: 'nowait', suffix: null });
  assert.deepEqual(parseField('WaitField', 'nowait.400'), {
    mode: 'nowait',
    suffix: { kind: 'max', value: { text: '400', offset: 7 } },
  });
  assert.deepEqual(parseField('WaitField', 'wait/3//2'), {
    mode: 'wait',
    suffix: {
      kind: 'limits',
      parts: [
        { text: '3', offset: 5 },
        { text: '', offset: 7 },
        { text: '2', offset: 8 },
      ],
    },
  });
});

test('UserOpenBSD: user.group, user:group (a colon wins, so dotted users work), user', () => {
  assert.deepEqual(parseField('UserOpenBSD', 'root.wheel'), {
    user: { text: 'root', offset: 0 },
    separator: '.',
    group: { text: 'wheel', offset: 5 },
    loginClass: null,
  });
  assert.deepEqual(parseField('UserOpenBSD', 'first.last:staff'), {
    user: { text: 'first.last', offset: 0 },
    separator: ':',
    group: { text: 'staff', offset: 11 },
    loginClass: null,
  });
  assert.deepEqual(parseField('UserOpenBSD', 'nobody'), {
    user: { text: 'nobody', offset: 0 },
    separator: null,
    group: null,
    loginClass: null,
  });
});

test('UserFreeBSD: user:group/login-class', () => {
  assert.deepEqual(parseField('UserFreeBSD', 'root:wheel/daemon'), {
    user: { text: 'root', offset: 0 },
    separator: ':',
    group: { text: 'wheel', offset: 5 },
    loginClass: { text: 'daemon', offset: 11 },
  });
  assert.deepEqual(parseField('UserFreeBSD', 'uucp/staff')?.loginClass, { text: 'staff', offset: 5 });
  assert.equal(parseField('UserFreeBSD', 'a.b')?.user.text, 'a.b');
});

// ---- exact positions of diagnostics ------------------------------------------------------------

function where(text: string, dialect: 'openbsd' | 'freebsd' = 'openbsd'): string[] {
  return loadInetdText('t.conf', text, dialect, fixtureEnv()).diagnostics.map((d) => `${d.line}:${d.column}:${d.length ?? 1}:${d.severity}`);
}

test('diagnostics point at the offending field, or inside it', () => {
  // the wait keyword
  assert.deepEqual(where('ftp stream tcp nowiat root /bin/cat\n'), ['1:16:6:error']);
  // the socket type
  assert.deepEqual(where('\n\nftp\tsock\ttcp\tnowait\troot\t/bin/cat\n'), ['3:5:4:error']);
  // the option inside the protocol
  assert.deepEqual(where('ftp stream tcp4,sndbuf=1x nowait root /bin/cat\n'), ['1:17:9:error']);
  // the max after the dot
  assert.deepEqual(where('ftp stream tcp nowait.0 root /bin/cat\n'), ['1:23:1:warning']);
  // the host inside a list
  assert.deepEqual(where('127.0.0.1,::1:ftp stream tcp4 nowait root /bin/cat\n'), ['1:11:3:error']);
  // after the last word when a field is missing
  assert.deepEqual(where('ftp stream tcp nowait\n'), ['1:22:1:error']);
  // the group part of the user field
  assert.deepEqual(where('ftp stream tcp nowait root:nosuch /bin/cat\n'), ['1:28:6:warning']);
  // a continuation line: the position is on that line
  assert.deepEqual(where('ftp stream tcp nowait\n\troot /bin/cat\n x\n'), []);
  assert.deepEqual(where('ftp stream tcp nowait\n\tnosuchuser /bin/cat\n'), ['2:2:10:warning']);
});

test('diagnostics in FreeBSD files: limits, login class, quoted words', () => {
  assert.deepEqual(where('ftp stream tcp nowait/x root /bin/cat\n', 'freebsd'), ['1:23:1:error']);
  assert.deepEqual(where('ftp stream tcp nowait/1/2/3/4 root /bin/cat\n', 'freebsd'), ['1:28:2:warning']);
  assert.deepEqual(where('ftp stream tcp nowait root:staff/daemon /bin/cat\n', 'freebsd'), ['1:33:7:warning']);
  // the column of a quoted word is inside the quotes
  assert.deepEqual(where('ftp stream tcp nowait "nosuchuser" /bin/cat\n', 'freebsd'), ['1:24:10:warning']);
});
