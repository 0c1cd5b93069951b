// grammar/xinetd.peggy through src/config/xinetd/parse.ts: each start rule on its own, the located tree, and the
// exact line and column of every syntax diagnostic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse as peggyParse } from '../../../../grammar/xinetd.js';
import { parseConfigText, parseValue, parseWords } from '../../../../src/config/xinetd/parse.js';
import type { AttributeNode, ServiceNode, ValueRule, Word } from '../../../../src/config/xinetd/syntax.js';
import { brief } from './xinetd-fixture-env.js';

const P = (line: number, column: number) => ({ file: 'v', line, column });

function services(text: string): ServiceNode[] {
  return parseConfigText(text, 'f.conf').config.items.filter((i): i is ServiceNode => i.kind === 'service');
}

function diagnostics(text: string): string[] {
  return brief(parseConfigText(text, 'f.conf').diagnostics);
}

// ---- Config ------------------------------------------------------------------------------------

test('Config: a service with located name, operators and values', () => {
  const [s] = services('# a comment\n\nservice echo\n{\n\tsocket_type = stream\n\tonly_from  += 10.0.0.1 ::1\n}\n');
  assert.ok(s);
  assert.equal(s.name.text, 'echo');
  assert.deepEqual([s.keyword.loc.line, s.keyword.loc.column, s.name.loc.line, s.name.loc.column], [3, 1, 3, 9]);
  assert.equal(s.end.kind, 'close');
  const [a, b] = s.attributes as [AttributeNode, AttributeNode];
  assert.deepEqual([a.name.text, a.op.text, a.values.map((v) => v.text)], ['socket_type', '=', ['stream']]);
  assert.deepEqual([a.name.loc.line, a.name.loc.column, a.op.loc.column, a.values[0]!.loc.column], [5, 2, 14, 16]);
  assert.deepEqual(
    [b.op.text, b.values.map((v) => [v.text, v.loc.column])],
    [
      '+=',
      [
        ['10.0.0.1', 16],
        ['::1', 25],
      ],
    ],
  );
});

test("Config: '#' is a comment only at the start of a line", () => {
  const [s] = services('service x\n{\n  # comment\n\tper_source = 10 # the limit\n}\n');
  assert.deepEqual(
    s!.attributes.map((a) => a.values.map((v) => v.text)),
    [['10', '#', 'the', 'limit']],
  );
});

test('Config: keywords are compared without regard to case; extra words are ignored with a warning', () => {
  const r = parseConfigText('SERVICE echo extra\n{\n}\nDefaults\n{\n}\nINCLUDEDIR /x\n', 'f.conf');
  assert.deepEqual(
    r.config.items.map((i) => i.kind),
    ['service', 'defaults', 'includedir'],
  );
  assert.deepEqual(brief(r.diagnostics), ["1:14 warning extra text after 'service NAME' is ignored (as xinetd does)"]);
});

test("Config: 'attr =value' and 'attr -= value' are attributes; values may follow '=' at once", () => {
  const [s] = services('service x\n{\n\ta =b c\n\td -= e\n\tf =\n}\n');
  assert.deepEqual(
    s!.attributes.map((a) => [a.name.text, a.op.text, a.values.map((v) => v.text)]),
    [
      ['a', '=', ['b', 'c']],
      ['d', '-=', ['e']],
      ['f', '=', []],
    ],
  );
});

test("Config: '{' on the service line — error at the brace, the block is skipped as xinetd does", () => {
  assert.deepEqual(diagnostics('service x {\n\ta = b\n}\nservice y\n{\n}\n'), [
    "1:11 error '{' must be on a line of its own, after the 'service' line; xinetd ignores service 'x' and everything up to line 3",
  ]);
  assert.deepEqual(
    services('service x {\n\ta = b\n}\nservice y\n{\n}\n').map((s) => [s.name.text, s.end.kind]),
    [
      ['x', 'missing-open'],
      ['y', 'close'],
    ],
  );
});

test("Config: 'name=value' — error at the '=' (or at '+' of '+=')", () => {
  assert.deepEqual(diagnostics('service x\n{\n\tid=y\n}\n'), [
    `3:4 error put a space between 'id' and '='; xinetd rejects 'id=' ("needs a space before operator"): xinetd ignores service 'x' (lines 1-4)`,
  ]);
  assert.deepEqual(diagnostics('service x\n{\n  env+= A=1\n}\n'), [
    `3:6 error put a space between 'env' and '+='; xinetd rejects 'env+=' ("needs a space before operator"): xinetd ignores service 'x' (lines 1-4)`,
  ]);
});

test('Config: a name without operator, a bad operator, a stray brace inside an entry', () => {
  assert.deepEqual(diagnostics('service x\n{\n\twait\n}\n'), [
    "3:2 error 'wait' has no operator and value: expected 'wait = VALUE'; xinetd ignores service 'x' (lines 1-4)",
  ]);
  assert.deepEqual(diagnostics('service x\n{\n\twait : no\n}\n'), [
    "3:7 error expected '=', '+=' or '-=' after 'wait', found ':'; xinetd ignores service 'x' (lines 1-4)",
  ]);
  assert.deepEqual(diagnostics('service x\n{\n{\n}\n'), [
    "3:1 error unexpected '{': an entry cannot contain another block; xinetd ignores service 'x' (lines 1-4)",
  ]);
});

test("Config: '} # note' swallows the next service, as xinetd's skip does", () => {
  const text = 'service a\n{\n\twait = no\n} # end of a\nservice b\n{\n\twait = no\n}\nservice c\n{\n}\n';
  assert.deepEqual(diagnostics(text), [
    "4:1 error '}' must be alone on its line (xinetd reads '} #' as an attribute named '}'); xinetd ignores service 'a' (lines 1-8)",
    "5:1 warning 'service b' is ignored: it is inside the lines xinetd skips after the error on line 4 (up to line 8); fix that error",
  ]);
  assert.deepEqual(
    services(text).map((s) => s.name.text),
    ['a', 'c'],
  );
});

test("Config: a missing '}' before the next service", () => {
  assert.deepEqual(diagnostics('service a\n{\n\twait = no\nservice b\n{\n}\n'), [
    "4:1 error missing '}' before 'service': service 'a' (line 1) is still open; xinetd ignores service 'a' (lines 1-6), and 'service b' on this line with it",
  ]);
});

test('Config: stray lines at the top level skip to the next lone brace (the rest of the file here)', () => {
  const text = 'service a\n{\n}\n}\n\nincludedir /etc/xinetd.d\n';
  assert.deepEqual(diagnostics(text), [
    "4:1 error unmatched '}': no entry is open here; xinetd ignores everything from here to the next line holding only '}' (the end of the file)",
    "6:1 warning 'includedir /etc/xinetd.d' is ignored: it is inside the lines xinetd skips after the error on line 4 (up to the end of the file); fix that error",
  ]);
  assert.deepEqual(diagnostics('only_from = 1.2.3.4\n'), [
    "1:1 error 'only_from' outside of any entry: expected 'service NAME', 'defaults', 'include FILE' or 'includedir DIR'; xinetd ignores everything from here to the next line holding only '}' (the end of the file)",
  ]);
});

test('Config: missing names, missing braces at the end of the file', () => {
  assert.deepEqual(diagnostics('service\n{\n}\n'), ["1:1 error 'service' needs a service name; xinetd ignores everything from here to line 3"]);
  assert.deepEqual(diagnostics('  include\n'), ["1:3 error 'include' needs a file name; xinetd ignores everything from here to the end of the file"]);
  assert.deepEqual(diagnostics('service x\n{\n\twait = no\n'), [
    `1:1 error missing '}': service 'x' is not closed before the end of the file; xinetd ignores it ("incomplete entry")`,
  ]);
  assert.deepEqual(diagnostics('service x\n# only a comment\n'), [
    "1:1 error expected a line holding only '{' after the 'service' line, found the end of the file; xinetd ignores service 'x'",
  ]);
});

test('Config: a broken end after `disable = yes` is only a warning (xinetd stops reading there)', () => {
  assert.deepEqual(diagnostics('service x\n{\n\tdisable = yes\n\twait\n}\n'), [
    "4:2 warning 'wait' has no operator and value: expected 'wait = VALUE'; xinetd ignores service 'x' (lines 1-5) (the service is disabled on line 3 anyway)",
  ]);
});

test('Config: a bad line in defaults ends the defaults; the next line is read at the top level', () => {
  const r = parseConfigText('defaults\n{\n\tinstances = 5\n\tcps 10\n\tper_source = 3\n}\n', 'f.conf');
  assert.deepEqual(brief(r.diagnostics), [
    "4:6 error expected '=', '+=' or '-=' after 'cps', found '10'; xinetd stops reading the defaults at this line: the attributes after it are not applied",
    "5:2 error 'per_source' outside of any entry: expected 'service NAME', 'defaults', 'include FILE' or 'includedir DIR'; xinetd ignores everything from here to the next line holding only '}' (line 6)",
  ]);
  const d = r.config.items[0];
  assert.equal(d?.kind, 'defaults');
  assert.deepEqual(
    d.attributes.map((a) => a.name.text),
    ['instances'],
  );
});

test("Config: CRLF line ends: the '\\r' stays in the last word of its line, as xinetd reads it", () => {
  const r = parseConfigText('service x\r\n{\r\n\twait = no\r\n\tflags = IPv4 \r\n\tserver_args = a b\r\n}\r\ninclude /etc/x.d/y\r\n', 'f.conf');
  assert.deepEqual(brief(r.diagnostics), [
    "1:10 warning this file has DOS (CRLF) line ends: xinetd reads each '\\r' as part of the last word of its line ('stream\\r', 'no\\r', 'root\\r') and rejects most such values, so it starts almost nothing from such a file; tsinetd reads the words the same way (convert the file with dos2unix)",
  ]);
  const [s, inc] = r.config.items;
  assert.ok(s?.kind === 'service' && inc?.kind === 'include');
  assert.equal(s.name.text, 'x\r');
  assert.deepEqual(
    s.attributes.map((a) => a.values.map((v) => [v.text, v.loc.line, v.loc.column])),
    [
      [['no\r', 3, 9]],
      [
        ['IPv4', 4, 10],
        ['\r', 4, 15],
      ],
      [
        ['a', 5, 16],
        ['b\r', 5, 18],
      ],
    ],
  );
  assert.equal(inc.path.text, '/etc/x.d/y\r');
  // '{' and '}' lines hold only blanks besides the brace (isspace counts '\r'): the entry closes.
  assert.equal(s.end.kind, 'close');
});

test("Config: 'defaults\\r' is no keyword to xinetd: the entry is dropped with an error", () => {
  const r = parseConfigText('defaults\r\n{\r\n\tinstances = 5\r\n}\r\nservice x\n{\n\twait = no\n}\n', 'f.conf');
  assert.deepEqual(brief(r.diagnostics).slice(1), [
    "1:1 error 'defaults\r' is not the keyword 'defaults' (DOS line end): xinetd ignores these defaults up to line 4 (\"missing service keyword\"), and so does tsinetd",
  ]);
  assert.deepEqual(
    r.config.items.map((i) => i.kind),
    ['service'],
  );
  // Lines with LF ends in the same file keep their words as they are.
  const s = r.config.items[0];
  assert.deepEqual(s?.kind === 'service' ? [s.name.text, s.attributes[0]!.values[0]!.text] : null, ['x', 'no']);
});

test('Config: a file without a final newline, and an empty file', () => {
  assert.equal(services('service x\n{\n\twait = no\n}').at(0)?.end.kind, 'close');
  assert.deepEqual(parseConfigText('', 'f.conf').config.items, []);
  assert.deepEqual(parseConfigText('\n\n   \n# c', 'f.conf').diagnostics, []);
});

test('Config: never throws, and every node lies inside the text (property)', () => {
  const alphabet = fc.constantFrom('service', 'defaults', 'include', ' ', '\t', '\n', '\r', '{', '}', '=', '+=', '-=', '#', 'x', 'a', '1', '.');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
      const text = parts.join('');
      const r = parseConfigText(text, 'p.conf');
      const lines = text.split('\n').length;
      for (const d of r.diagnostics) assert.ok(d.line >= 1 && d.line <= lines && d.column >= 1, `${d.line}:${d.column} in ${JSON.stringify(text)}`);
    }),
    { numRuns: 300 },
  );
});

// ---- Single entries ---------------------------------------------------------------------------

test('ServiceEntry and AttributeLine as start rules', () => {
  const s = peggyParse('service echo\n{\n\twait = no\n}\n', { startRule: 'ServiceEntry', grammarSource: 's' }) as ServiceNode;
  assert.equal(s.kind, 'service');
  assert.equal(s.attributes.length, 1);
  const a = peggyParse('  log_on_success -= PID HOST', { startRule: 'AttributeLine', grammarSource: 'a' }) as AttributeNode;
  assert.deepEqual(
    [a.name.text, a.op.text, a.values.map((v: Word) => [v.text, v.loc.column])],
    [
      'log_on_success',
      '-=',
      [
        ['PID', 21],
        ['HOST', 25],
      ],
    ],
  );
  assert.throws(() => peggyParse('wait', { startRule: 'AttributeLine' }));
});

// ---- Value grammars -----------------------------------------------------------------------------

function value(rule: ValueRule, text: string): unknown {
  const r = parseValue(rule, text, P(3, 10));
  return r.ok ? r.value : `${r.diagnostic.line}:${r.diagnostic.column} ${r.diagnostic.message}`;
}

test('Count, Decimal (per_source_cps), YesNo', () => {
  assert.equal(value('Count', '42'), 42);
  assert.equal(value('Count', '+7'), 7);
  assert.equal(value('Count', '-1'), "3:10 expected a whole number, found '-1'");
  assert.equal(value('Count', '12x'), "3:12 expected the end of the value, found 'x'");
  assert.equal(value('Decimal', '2.5'), 2.5);
  assert.equal(value('YesNo', 'YES'), true);
  assert.equal(value('YesNo', 'no'), false);
  assert.equal(value('YesNo', 'maybe'), "3:10 expected yes or no, found 'maybe'");
});

test('a value read again is the one read before, frozen; a failure is located where it is written each time', () => {
  const first = parseValue('AclAddress', '10.1.2.0/24', P(3, 10));
  const again = parseValue('AclAddress', '10.1.2.0/24', P(40, 2));
  assert.ok(first.ok && again.ok);
  assert.deepEqual(again.value, peggyParse('10.1.2.0/24', { startRule: 'AclAddress' }));
  assert.ok(Object.isFrozen(again.value));
  // The same text through another rule is read by that rule.
  assert.equal(value('Count', '10'), 10);
  assert.equal(value('Decimal', '10'), 10);
  const bad = (line: number, column: number): string => {
    const r = parseValue('Count', '1x', P(line, column));
    return r.ok ? 'ok' : `${r.diagnostic.line}:${r.diagnostic.column}`;
  };
  assert.equal(bad(3, 10), '3:11');
  assert.equal(bad(7, 2), '7:3');
});

test('TimeInterval: h:mm-h:mm, hours 0-23, minutes 0-59, start before end', () => {
  assert.deepEqual(value('TimeInterval', '2:00-9:59'), { start: 120, end: 599 });
  assert.deepEqual(value('TimeInterval', '02:00-09:00'), { start: 120, end: 540 });
  assert.equal(value('TimeInterval', '12:00-24:00'), '3:16 hour 24 is out of range (0-23); end the day with 23:59');
  assert.equal(value('TimeInterval', '1:60-2:00'), '3:12 minute 60 is out of range (0-59)');
  assert.equal(value('TimeInterval', '9:00-2:00'), '3:10 the interval must end after it starts (an interval cannot wrap past midnight)');
  assert.equal(value('TimeInterval', '9-10'), "3:11 expected ':', found '-10'");
});

test('EnvAssignment', () => {
  assert.deepEqual(value('EnvAssignment', 'A=b=c'), { name: 'A', value: 'b=c' });
  assert.deepEqual(value('EnvAssignment', 'A='), { name: 'A', value: '' });
});

test('LogType: FILE path [soft [hard]] and SYSLOG facility [level]', () => {
  assert.deepEqual(value('LogType', 'FILE /var/log/x 10K 20K'), { kind: 'file', path: '/var/log/x', soft: '10K', hard: '20K' });
  assert.deepEqual(value('LogType', 'file /x'), { kind: 'file', path: '/x', soft: null, hard: null });
  assert.deepEqual(value('LogType', 'SYSLOG daemon'), { kind: 'syslog', facility: 'daemon', level: 'info' });
  assert.deepEqual(value('LogType', 'SYSLOG LOCAL7 Warning'), { kind: 'syslog', facility: 'local7', level: 'warning' });
  assert.match(String(value('LogType', 'SYSLOG kern')), /^3:17 expected a syslog facility \(daemon, .*\), found 'kern'$/);
});

test('parseWords maps an error back onto the word it falls in', () => {
  const w = (text: string, column: number): Word => ({
    text,
    loc: { file: 'f', line: 7, column, offset: 0, endLine: 7, endColumn: column + text.length, endOffset: 0 },
  });
  const r = parseWords('LogType', [w('SYSLOG', 13), w('daemon', 22), w('loud', 31)]);
  assert.equal(r.ok, false);
  assert.deepEqual([r.diagnostic.line, r.diagnostic.column], [7, 31]);
});

test('AclAddress: every form xinetd accepts', () => {
  assert.deepEqual(value('AclAddress', '10.0.0.1'), { kind: 'ipv4', text: '10.0.0.1', octets: [10, 0, 0, 1] });
  assert.deepEqual(value('AclAddress', '0'), { kind: 'ipv4', text: '0', octets: [0] });
  assert.deepEqual(value('AclAddress', '192.168.1.0/24'), { kind: 'cidr4', address: '192.168.1.0', bits: 24 });
  assert.deepEqual(value('AclAddress', '128.138.{200,201}'), { kind: 'factorized', prefix: [128, 138], values: [200, 201] });
  assert.deepEqual(value('AclAddress', '::1'), { kind: 'ipv6', text: '::1' });
  assert.deepEqual(value('AclAddress', 'fe80::/10'), { kind: 'cidr6', address: 'fe80::', bits: 10 });
  assert.deepEqual(value('AclAddress', 'localhost'), { kind: 'host', text: 'localhost' });
  assert.deepEqual(value('AclAddress', '.example.com'), { kind: 'domain', text: '.example.com' });
  assert.deepEqual(value('AclAddress', '300.example.com'), { kind: 'host', text: '300.example.com' });
});

test('AclAddress: a prefix longer than the address is read (xinetd takes /33 as /32; addresses.ts warns)', () => {
  assert.deepEqual(value('AclAddress', '1.2.3.4/33'), { kind: 'cidr4', address: '1.2.3.4', bits: 33 });
});

test('AclAddress: what xinetd rejects, with the column of the fault', () => {
  assert.equal(value('AclAddress', '300.1.1.1'), '3:10 300 is not a number from 0 to 255');
  assert.equal(value('AclAddress', '10.0.{1,,2}'), '3:16 expected a number after the comma (no empty entries)');
  assert.equal(value('AclAddress', '10.0.{1,2}x'), '3:16 nothing may follow the closing brace of a factorized address');
  assert.equal(value('AclAddress', '10.0.{1;2}'), "3:16 expected ',' or the closing brace");
  assert.match(String(value('AclAddress', '1.2.3.4.5')), /^3:10 expected an address \(.*\), found '1.2.3.4.5'$/);
  assert.match(String(value('AclAddress', '#')), /^3:10 expected an address \(a\.b\.c\.d, .*\), found '#'$/);
});

test('HostAddress: IP addresses and host names for bind and redirect', () => {
  assert.deepEqual(value('HostAddress', '127.0.0.1'), { kind: 'ipv4', text: '127.0.0.1', octets: [127, 0, 0, 1] });
  assert.deepEqual(value('HostAddress', '::'), { kind: 'ipv6', text: '::' });
  assert.deepEqual(value('HostAddress', 'db.example.com'), { kind: 'host', text: 'db.example.com' });
  assert.match(String(value('HostAddress', 'a b')), /^3:11 /);
});

test('value rules never throw anything but diagnostics (property)', () => {
  const rules: ValueRule[] = ['Count', 'Decimal', 'YesNo', 'TimeInterval', 'LogType', 'AclAddress', 'HostAddress'];
  fc.assert(
    fc.property(fc.constantFrom(...rules), fc.string({ maxLength: 20 }), (rule, text) => {
      const r = parseValue(rule, text, P(1, 1));
      if (!r.ok) assert.ok(r.diagnostic.column >= 1 && r.diagnostic.column <= text.length + 1);
    }),
    { numRuns: 500 },
  );
});
