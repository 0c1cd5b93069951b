// The tcpmux request line as xinetd 2.3.15.3 reads it (tcpmux.ts): bytes in, decision out.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BSD_MUX_ACK,
  bsdMuxAnswer,
  bsdMuxName,
  bsdMuxReadTimeoutMs,
  MUX_ACK,
  MUX_NOT_FOUND,
  MUX_READ_SIZE,
  muxRequest,
  muxTarget,
  sameNameIgnoringCase,
} from '../../../src/serve/tcpmux.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const name = (bytes: string): string | null => {
  const r = muxRequest(b(bytes));
  return r.kind === 'name' ? r.name.toString('latin1') : null;
};

test('a name is the bytes before a final CR LF, cut at a NUL', () => {
  assert.equal(name('date\r\n'), 'date');
  assert.equal(name('x\r\n'), 'x');
  assert.equal(name('My Service\r\n'), 'My Service');
  assert.equal(name('date\0junk\r\n'), 'date');
  assert.equal(name('\0\r\n'), '');
  assert.equal(name('a\rb\r\n'), 'a\rb', 'only the last two bytes are the line end');
});

test('anything else is closed without a reply (xinetd: one read, which must end in CR LF)', () => {
  for (const bad of ['', '\r\n', 'x\n', 'date\n', 'date\r', 'date', 'date\r\nmore', 'date\r\n\r']) {
    assert.deepEqual(muxRequest(b(bad)), { kind: 'malformed', overread: false }, JSON.stringify(bad));
  }
});

test('at most 1024 bytes are read: a longer first read is judged by its first 1024', () => {
  const long = 'n'.repeat(MUX_READ_SIZE - 2);
  assert.equal(name(`${long}\r\n`), long);
  assert.deepEqual(muxRequest(b(`${long}\r\nmore`)), { kind: 'malformed', overread: true });
  assert.deepEqual(muxRequest(b(`${long}x\r\n`)), { kind: 'malformed', overread: false });
  assert.deepEqual(muxRequest(b(`${'n'.repeat(4000)}\r\n`)), { kind: 'malformed', overread: false });
});

test("the replies are xinetd's, each with the NUL byte it writes after it", () => {
  assert.equal(MUX_ACK.toString('latin1'), '+Go\r\n\0');
  assert.equal(MUX_NOT_FOUND.toString('latin1'), '-Service name not found\r\n\0');
});

test('names compare as strcasecmp does in the C locale: ASCII letters only', () => {
  assert.equal(sameNameIgnoringCase(b('DaTe'), b('date')), true);
  assert.equal(sameNameIgnoringCase(b('date'), b('dates')), false);
  assert.equal(sameNameIgnoringCase(b('@'), b('`')), false, '0x40 and 0x60 are not a letter pair');
  assert.equal(sameNameIgnoringCase(Buffer.from('É', 'utf8'), Buffer.from('é', 'utf8')), false);
});

test('the target: the first TCPMUX or TCPMUXPLUS service of that name (not id), in table order', () => {
  const svc = (n: string, id: string, type: Service['type']): Service => ({ ...newService(n, 'xinetd', { file: 't.conf', line: 1 }), id, type });
  const table = [
    svc('date', 'date-program', []),
    svc('echo', 'echo', ['INTERNAL']),
    svc('date', 'date-mux', ['TCPMUX', 'UNLISTED']),
    svc('date', 'date-mux-2', ['TCPMUXPLUS', 'UNLISTED']),
    svc('other', 'daily', ['TCPMUXPLUS', 'UNLISTED']),
  ];
  assert.equal(muxTarget(b('DATE'), table)?.id, 'date-mux');
  assert.equal(muxTarget(b('daily'), table), null, 'ids are not names');
  assert.equal(muxTarget(b('echo'), table), null, 'not a TCPMUX service');
  assert.equal(muxTarget(b('help'), table), null, 'xinetd has no help');
});

test('FreeBSD inetd: the name ends at CR, LF or NUL, at 258 bytes, or at the end of the stream', () => {
  const bsd = (sofar: string, ended = false): string | null => bsdMuxName(b(sofar), ended)?.toString('latin1') ?? null;
  assert.equal(bsd('date\r\n'), 'date');
  assert.equal(bsd('date\n'), 'date');
  assert.equal(bsd('date\rmore'), 'date');
  assert.equal(bsd('da\0te'), 'da');
  assert.equal(bsd('\r\n'), '');
  assert.equal(bsd('dat'), null, 'more to come');
  assert.equal(bsd('dat', true), 'dat', 'the client ended');
  assert.equal(bsd('', true), '');
  assert.equal(bsd('x'.repeat(257)), null);
  assert.equal(bsd('x'.repeat(300)), 'x'.repeat(258));
  assert.equal(bsd(`${'x'.repeat(258)}\r\n`), 'x'.repeat(258));
});

test('FreeBSD inetd: help lists the TCPMUX services, last entry first; unknown names are not available', () => {
  const svc = (n: string, type: Service['type']): Service => ({ ...newService(n, 'inetd-freebsd', { file: 'i.conf', line: 1 }), type });
  const table = [svc('tcpmux', ['INTERNAL']), svc('date', ['TCPMUXPLUS', 'UNLISTED']), svc('echo', ['INTERNAL']), svc('who', ['TCPMUX', 'UNLISTED'])];
  const help = bsdMuxAnswer(b('Help'), table);
  assert.deepEqual(help.kind === 'help' ? help.reply.toString('latin1') : help.kind, 'who\r\ndate\r\n');
  const date = bsdMuxAnswer(b('DATE'), table);
  assert.equal(date.kind === 'target' ? date.service.name : date.kind, 'date');
  for (const name of ['echo', 'tcpmux', '']) {
    const r = bsdMuxAnswer(b(name), table);
    assert.deepEqual(r.kind === 'unknown' ? r.reply.toString('latin1') : r.kind, '-Service not available\r\n', name);
  }
  assert.equal(BSD_MUX_ACK.toString('latin1'), '+Go\r\n');
});

test("each read of the name may wait 10 s in FreeBSD's inetd (alarm), for ever in GNU inetutils' (measured)", () => {
  assert.equal(bsdMuxReadTimeoutMs('inetd-freebsd'), 10_000);
  assert.equal(bsdMuxReadTimeoutMs('inetd-gnu'), null);
});
