// hosts-syntax.ts: libwrap's line handling of hosts.allow / hosts.deny (tcp-wrappers.md §1-2),
// with the position of every token, and bad input (block-lists, huge lines, garbage, NUL bytes).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { emptyTable, parseHostsFile, unreadableTable, type HostsTable } from '../../../../src/admission/wrappers/hosts-syntax.js';
import { evaluateAccess } from '../../../../src/admission/wrappers/hosts-match.js';

const F = '/etc/hosts.deny';

function texts(table: HostsTable): string[][] {
  return table.rules.map((r) => [...r.daemons.map((t) => t.text), ':', ...r.clients.map((t) => t.text)]);
}

describe('line handling', () => {
  test('a rule gives its daemon and client tokens with their line and column', () => {
    const t = parseHostsFile(F, '# head\n\nin.tftpd, sshd :\t127.0.0.1 ,10.0.0.0/8\n');
    assert.equal(t.fault, null);
    assert.equal(t.rules.length, 1);
    const r = t.rules[0]!;
    assert.deepEqual(r.daemons, [
      { text: 'in.tftpd', line: 3, column: 1 },
      { text: 'sshd', line: 3, column: 11 },
    ]);
    assert.deepEqual(r.clients, [
      { text: '127.0.0.1', line: 3, column: 18 },
      { text: '10.0.0.0/8', line: 3, column: 29 },
    ]);
    assert.deepEqual([r.line, r.column, r.libwrapLine, r.hasOptions], [3, 1, 3, false]);
  });

  test('backslash-newline joins the next line with nothing in between', () => {
    const t = parseHostsFile(F, 'ALL: 127.0.0.1\\\n127.0.0.2 10.0.0.1\n');
    assert.deepEqual(texts(t), [['ALL', ':', '127.0.0.1127.0.0.2', '10.0.0.1']]);
    // The token after the join is located on the second physical line; libwrap counts the rule at its last line.
    assert.deepEqual(t.rules[0]!.clients[1], { text: '10.0.0.1', line: 2, column: 11 });
    assert.equal(t.rules[0]!.libwrapLine, 2);
  });

  test('a continuation can split the line anywhere, even inside the separator', () => {
    const t = parseHostsFile(F, 'sshd\\\n: ALL\n');
    assert.deepEqual(texts(t), [['sshd', ':', 'ALL']]);
    assert.deepEqual(t.rules[0]!.clients[0], { text: 'ALL', line: 2, column: 3 });
  });

  test('# starts a comment only in column 1; an indented # line with a colon is a live rule', () => {
    const t = parseHostsFile(F, '#ALL: ALL\n   # ALL: ALL\n');
    assert.deepEqual(texts(t), [['#', 'ALL', ':', 'ALL']]);
    assert.deepEqual(t.rules[0]!.daemons[0], { text: '#', line: 2, column: 4 });
  });

  test('a comment ending in a backslash swallows the next line', () => {
    const t = parseHostsFile(F, '# old rule \\\nALL: ALL\nsshd: 10.0.0.1\n');
    assert.deepEqual(texts(t), [['sshd', ':', '10.0.0.1']]);
    assert.equal(t.rules[0]!.line, 3);
  });

  test('a line with no colon is skipped with a located warning, and scanning goes on', () => {
    const t = parseHostsFile(F, 'ALL 127.0.0.1\n  # no colon\nsshd: ALL\n');
    assert.deepEqual(texts(t), [['sshd', ':', 'ALL']]);
    assert.deepEqual(
      t.diagnostics.map((d) => [d.line, d.column, d.severity, d.message]),
      [
        [1, 1, 'warning', 'missing ":" separator'],
        [2, 3, 'warning', 'missing ":" separator'],
      ],
    );
  });

  test('blank lines (spaces, tabs, CR) are skipped; CRLF files work', () => {
    const t = parseHostsFile(F, '\r\n \t \r\nALL: 127.0.0.1\r\nsshd: 10.0.0.1 : allow\r\n');
    assert.deepEqual(texts(t), [
      ['ALL', ':', '127.0.0.1'],
      ['sshd', ':', '10.0.0.1'],
    ]);
    assert.deepEqual(t.rules[1]!.options, [{ text: ' allow\r\n', line: 4, column: 17 }]);
  });

  test('list elements are separated by runs of blanks and commas', () => {
    const t = parseHostsFile(F, 'a,,b , c:\t,x,\t y ,\n');
    assert.deepEqual(texts(t), [['a', 'b', 'c', ':', 'x', 'y']]);
  });

  test('the fields split at the first two colons outside brackets', () => {
    const t = parseHostsFile(F, 'in.tftpd@[::1]: [2001:db8::]/32 EXCEPT [2001:db8::5]: spawn echo a\\:b : allow\n');
    const r = t.rules[0]!;
    assert.deepEqual(
      r.daemons.map((x) => x.text),
      ['in.tftpd@[::1]'],
    );
    assert.deepEqual(
      r.clients.map((x) => x.text),
      ['[2001:db8::]/32', 'EXCEPT', '[2001:db8::5]'],
    );
    assert.deepEqual(r.options, [
      { text: ' spawn echo a:b ', line: 1, column: 54 },
      { text: ' allow\n', line: 1, column: 72 },
    ]);
  });

  test('an unbracketed IPv6 address splits the line at its colon', () => {
    const t = parseHostsFile(F, 'ALL: 2001:db8::5\n');
    const r = t.rules[0]!;
    assert.deepEqual(
      r.clients.map((x) => x.text),
      ['2001'],
    );
    assert.deepEqual(
      r.options.map((x) => x.text),
      ['db8', '', '5\n'],
    );
  });

  test('a stray "]" keeps every later colon inside the field, as libwrap counts brackets', () => {
    const t = parseHostsFile(F, 'a]: b\n');
    assert.deepEqual(t.rules, []);
    assert.equal(t.diagnostics[0]?.message, 'missing ":" separator');
  });

  test('"ALL: ALL:" has an options field holding just the newline', () => {
    const r = parseHostsFile(F, 'ALL: ALL:\n').rules[0]!;
    assert.equal(r.hasOptions, true);
    assert.deepEqual(r.options, [{ text: '\n', line: 1, column: 10 }]);
  });
});

describe('where libwrap stops trusting the table', () => {
  test('a last line without newline faults there; the rules before it stay', () => {
    const t = parseHostsFile(F, 'sshd: 10.0.0.1\nALL: ALL');
    assert.deepEqual(texts(t), [['sshd', ':', '10.0.0.1']]);
    assert.deepEqual(t.fault, { line: 2, column: 9, message: 'missing newline or line too long', reason: 'missing-newline', libwrapLine: 1 });
    assert.deepEqual(
      t.diagnostics.map((d) => [d.line, d.column, d.message]),
      [
        [2, 9, 'missing newline or line too long'],
        [2, 9, 'all the subsequent rules will be ignored'],
      ],
    );
  });

  test('a comment without a final newline faults too', () => {
    const t = parseHostsFile(F, '# nothing to deny');
    assert.equal(t.fault?.reason, 'missing-newline');
  });

  test('a file ending in backslash-newline after a rule faults (the joined line has no newline)', () => {
    assert.equal(parseHostsFile(F, 'ALL: 127.0.0.1\\\n').fault?.reason, 'missing-newline');
    // A lone backslash-newline adds nothing: end of file, no fault.
    assert.equal(parseHostsFile(F, 'ALL: 127.0.0.1\n\\\n').fault, null);
  });

  test('a logical line of 2047 bytes with its newline fits; one of 2048 faults at byte 2048', () => {
    const fits = `ALL: ${'1'.repeat(2047 - 5 - 1)}\n`;
    assert.equal(Buffer.byteLength(fits), 2047);
    assert.equal(parseHostsFile(F, fits).fault, null);
    const long = `ALL: ${'1'.repeat(2048 - 5 - 1)}\nsshd: ALL\n`;
    const t = parseHostsFile(F, long);
    assert.deepEqual(t.rules, []);
    assert.deepEqual([t.fault?.reason, t.fault?.line, t.fault?.column], ['line-too-long', 1, 2048]);
  });

  test('the limit counts the joined line: continuations cannot make it longer', () => {
    const half = 'x'.repeat(1100);
    const t = parseHostsFile(F, `ALL: ${half}\\\n${half}\n`);
    assert.equal(t.fault?.reason, 'line-too-long');
    assert.equal(t.fault.line, 2);
  });

  test('unreadable and missing tables', () => {
    const u = unreadableTable(F, 'Permission denied');
    assert.deepEqual([u.rules.length, u.fault?.reason, u.fault?.message], [0, 'unreadable', `cannot open ${F}: Permission denied`]);
    assert.deepEqual(emptyTable(F), { path: F, rules: [], fault: null, diagnostics: [] });
  });
});

describe('bad input', () => {
  test('a NUL byte ends what libwrap sees of a physical line; the next line is joined on', () => {
    const t = parseHostsFile(F, Buffer.from('ALL: 10.0.0.1\0 ignored\n 127.0.0.2\nsshd: ALL\n', 'latin1'));
    assert.deepEqual(texts(t), [
      ['ALL', ':', '10.0.0.1', '127.0.0.2'],
      ['sshd', ':', 'ALL'],
    ]);
    // libwrap does not count the line holding the NUL.
    assert.deepEqual(
      t.rules.map((r) => [r.line, r.libwrapLine]),
      [
        [1, 1],
        [3, 2],
      ],
    );
    assert.deepEqual(t.rules[0]!.clients[1], { text: '127.0.0.2', line: 2, column: 2 });
  });

  test('binary garbage never throws, and whatever it makes of it is located inside the file', () => {
    for (let seed = 0; seed < 50; seed++) {
      const bytes = randomBytes(4096);
      const t = parseHostsFile(F, bytes);
      for (const r of t.rules) for (const tok of [...r.daemons, ...r.clients, ...r.options]) assert.ok(tok.line >= 1 && tok.column >= 1);
    }
  });

  test('a 100 KB line faults without reading the rest; rules before it still apply', () => {
    const t = parseHostsFile(F, `sshd: 10.0.0.1\nALL: ${'a,'.repeat(50_000)}\nALL: ALL\n`);
    assert.equal(t.rules.length, 1);
    assert.equal(t.fault?.reason, 'line-too-long');
    assert.equal(t.fault.line, 2);
  });

  test('a 10,000-line DenyHosts-style block-list parses fast and is evaluated', (t) => {
    const lines: string[] = ['# DenyHosts: blocked addresses'];
    const addr = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
    for (let i = 0; i < 10_000; i++) lines.push(`sshd: ${addr(i)}`);
    const text = lines.join('\n') + '\n';
    const start = process.hrtime.bigint();
    const table = parseHostsFile(F, text);
    const parseMs = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(table.rules.length, 10_000);
    assert.equal(table.fault, null);
    const empty = emptyTable('/etc/hosts.allow');
    const req = (address: string) => ({ daemon: 'sshd', server: { address: '127.0.0.1', port: 22 }, client: { address, port: 5555 } });
    const first = evaluateAccess(empty, table, req('192.0.2.1'));
    assert.equal('kind' in first ? first.kind : first.access, 'granted');
    const n = 2000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) evaluateAccess(empty, table, req('192.0.2.1'));
    const perScanUs = Number(process.hrtime.bigint() - t0) / 1e3 / n;
    const last = evaluateAccess(empty, table, req(`::ffff:${addr(9999)}`));
    assert.deepEqual('kind' in last ? last : [last.access, last.rule?.line], ['denied', 10_001]);
    t.diagnostic(`10,000-line hosts.deny: parse ${parseMs.toFixed(1)} ms; a request no rule matches: ${perScanUs.toFixed(2)} µs per evaluation`);
  });
});
