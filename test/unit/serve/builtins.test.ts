// Internal services: the bytes they produce (xinetd's, measured on xinetd 2.3.15.3) and which
// service selects which handler.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  builtinForks,
  builtinOf,
  chargenDatagram,
  ChargenRing,
  datagramReply,
  daytimeText,
  refusesSourcePort,
  RFC868_OFFSET,
  timeBytes,
  tzifAbbreviation,
} from '../../../src/serve/builtins.js';
import { newService } from '../../../src/service-defaults.js';

function service(name: string, attrs: Partial<ReturnType<typeof newService>> = {}) {
  return Object.assign(newService(name, 'xinetd', { file: 't.conf', line: 1 }), attrs);
}

describe('daytime', () => {
  test("xinetd's format: day, upper-case month, year, time, zone, CRLF", () => {
    const d = new Date(2026, 10, 4, 5, 6, 7);
    assert.equal(daytimeText(d, 'UTC'), '04 NOV 2026 05:06:07 UTC\r\n');
    assert.equal(daytimeText(new Date(1999, 0, 31, 23, 59, 0), 'CET'), '31 JAN 1999 23:59:00 CET\r\n');
  });
});

describe('time', () => {
  test('seconds since 1900 in network order', () => {
    assert.deepEqual(timeBytes(new Date(0)), Buffer.from([0x83, 0xaa, 0x7e, 0x80]));
    const b = timeBytes(new Date(1_000_000_000_000));
    assert.equal(b.readUInt32BE(0), 1_000_000_000 + RFC868_OFFSET);
  });
  test('wraps around after 2036 like a 32-bit counter', () => {
    const b = timeBytes(new Date((2 ** 32 - RFC868_OFFSET + 5) * 1000));
    assert.equal(b.readUInt32BE(0), 5);
  });
});

describe('chargen', () => {
  test('a line is 72 characters from the ring, then CRLF; each line starts one character later', () => {
    const ring = new ChargenRing();
    const first = ring.line().toString('latin1');
    const second = ring.line().toString('latin1');
    assert.equal(first.length, 74);
    assert.ok(first.endsWith('\r\n'));
    assert.equal(first.slice(0, 10), '!"#$%&\'()*');
    assert.equal(second.slice(0, 71), first.slice(1, 72));
  });

  test("the characters run from '!' to '}' and the ring restarts after 95 lines (lines 93 and 94 repeat 0 and 1)", () => {
    const ring = new ChargenRing();
    const lines = Array.from({ length: 191 }, () => ring.line().toString('latin1'));
    const all = new Set(lines.join('').replace(/\r\n/g, ''));
    assert.ok(!all.has(' ') && !all.has('~'));
    assert.ok(all.has('!') && all.has('}'));
    assert.equal(lines[92]!.slice(0, 2), '}!');
    assert.equal(lines[93], lines[0]);
    assert.equal(lines[94], lines[1]);
    assert.equal(lines[95], lines[0]);
    assert.equal(lines[190], lines[0]);
    assert.equal(lines[187]!.slice(0, 2), '}!');
  });

  test('a datagram is 1024 bytes: 13 full lines and one of 60 characters', () => {
    const ring = new ChargenRing();
    const d = chargenDatagram(ring);
    assert.equal(d.length, 1024);
    const lines = d.toString('latin1').split('\r\n');
    assert.equal(lines.length, 15);
    assert.deepEqual(
      lines.slice(0, 13).map((l) => l.length),
      Array(13).fill(72),
    );
    assert.equal(lines[13]!.length, 60);
    assert.equal(lines[14], '');
    // The ring goes on: the next datagram starts 14 lines later.
    const next = chargenDatagram(ring);
    assert.equal(next.toString('latin1', 0, 1), String.fromCharCode(33 + 14));
  });

  test('lines(n) is n consecutive lines', () => {
    const a = new ChargenRing();
    const b = new ChargenRing();
    assert.deepEqual(a.lines(3), Buffer.concat([b.line(), b.line(), b.line()]));
  });

  test('too short a buffer gives no line', () => {
    assert.equal(new ChargenRing().line(1), null);
    assert.equal(new ChargenRing().line(2)!.toString(), '\r\n');
  });
});

describe('datagram replies', () => {
  const ctx = { now: () => new Date(0), ring: new ChargenRing() };
  test('echo returns the datagram, time 4 bytes, daytime a line, discard nothing', () => {
    assert.deepEqual(datagramReply('echo', Buffer.from('abc'), ctx), Buffer.from('abc'));
    assert.deepEqual(datagramReply('time', Buffer.from('x'), ctx), timeBytes(new Date(0)));
    assert.match(datagramReply('daytime', Buffer.from('x'), ctx)!.toString(), /^\d\d JAN 1970 /);
    assert.equal(datagramReply('discard', Buffer.from('x'), ctx), null);
    assert.equal(datagramReply('chargen', Buffer.from('x'), ctx)!.length, 1024);
  });

  test('no reply to privileged source ports, except that discard never replies anyway', () => {
    assert.equal(refusesSourcePort('echo', 53), true);
    assert.equal(refusesSourcePort('echo', 1023), true);
    assert.equal(refusesSourcePort('echo', 1024), false);
    assert.equal(refusesSourcePort('daytime', 7), true);
    assert.equal(refusesSourcePort('discard', 53), false);
  });
});

describe('which service is internal', () => {
  test('selected by the service NAME with type INTERNAL, whatever the id', () => {
    assert.equal(builtinOf(service('echo', { type: ['INTERNAL'], id: 'echo-stream' })), 'echo');
    assert.equal(builtinOf(service('daytime', { type: ['INTERNAL', 'UNLISTED'] })), 'daytime');
    assert.equal(builtinOf(service('echo', { type: [] })), null);
    assert.equal(builtinOf(service('myecho', { type: ['INTERNAL'], id: 'echo' })), null);
    assert.equal(builtinOf(service('tcpmux', { type: ['INTERNAL'] })), 'tcpmux');
    assert.equal(builtinOf(service('tcpmux', { type: ['INTERNAL'], socket_type: 'dgram' })), null);
  });

  test('SENSOR makes any service the sensor pseudo-service', () => {
    assert.equal(builtinOf(service('telnet', { flags: ['SENSOR'] })), 'sensor');
  });

  test('stream echo, discard and chargen fork in xinetd (they count as running servers); the rest do not', () => {
    assert.equal(builtinForks('echo', 'stream'), true);
    assert.equal(builtinForks('discard', 'stream'), true);
    assert.equal(builtinForks('chargen', 'stream'), true);
    assert.equal(builtinForks('daytime', 'stream'), false);
    assert.equal(builtinForks('time', 'stream'), false);
    assert.equal(builtinForks('echo', 'dgram'), false);
  });
});

/** A minimal version-2 TZif file: a v1 block without data, then the 64-bit block. */
function tzif(types: Array<[offset: number, isdst: number, abbrev: string]>, transitions: number[]): Buffer {
  const chars = Buffer.from(types.map((t) => t[2] + '\0').join(''), 'latin1');
  const header = (timecnt: number, typecnt: number, charcnt: number): Buffer => {
    const h = Buffer.alloc(44);
    h.write('TZif2', 0, 'latin1');
    [0, 0, 0, timecnt, typecnt, charcnt].forEach((v, i) => h.writeUInt32BE(v, 20 + 4 * i));
    return h;
  };
  const v1 = Buffer.concat([header(0, 1, 1), Buffer.from([0, 0, 0, 0, 0, 0]), Buffer.from([0])]);
  const times = Buffer.alloc(8 * transitions.length);
  transitions.forEach((_, i) => times.writeBigInt64BE(BigInt(i * 1000), 8 * i));
  const idx = Buffer.from(transitions);
  const ttinfo = Buffer.alloc(6 * types.length);
  let at = 0;
  types.forEach(([off, dst, abbrev], i) => {
    ttinfo.writeInt32BE(off, 6 * i);
    ttinfo[6 * i + 4] = dst;
    ttinfo[6 * i + 5] = at;
    at += abbrev.length + 1;
  });
  return Buffer.concat([v1, header(transitions.length, types.length, chars.length), times, idx, ttinfo, chars, Buffer.from('\nCET-1CEST,M3.5.0,M10.5.0/3\n')]);
}

describe('zone abbreviation from TZif data (%Z)', () => {
  const data = tzif(
    [
      [3208, 0, 'LMT'],
      [3600, 0, 'CET'],
      [7200, 1, 'CEST'],
    ],
    [0, 1, 2, 1, 2, 1],
  );
  test('the latest transition with the current offset names the zone', () => {
    assert.equal(tzifAbbreviation(data, 3600), 'CET');
    assert.equal(tzifAbbreviation(data, 7200), 'CEST');
    assert.equal(tzifAbbreviation(data, 3208), 'LMT');
  });
  test('an unknown offset or data that is not TZif gives null', () => {
    assert.equal(tzifAbbreviation(data, -18000), null);
    assert.equal(tzifAbbreviation(Buffer.from('not a zone file at all, just some text here ......'), 0), null);
  });
});
