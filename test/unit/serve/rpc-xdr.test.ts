// ONC RPC on the wire (rpc-xdr.ts): XDR items, the call header, record marking, replies and
// rpcbind's mapping list, laid out as RFC 4506, RFC 5531 and RFC 1833 give them. What rpcbind
// itself makes of them is checked against the real rpcbind in test/e2e/serve/rpc.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeReply,
  decodeRpcbList,
  encodeCall,
  encodeRpcb,
  frameRecord,
  MAX_RECORD,
  takeRecord,
  universalAddress,
  XdrError,
  XdrReader,
  XdrWriter,
} from '../../../src/serve/rpc-xdr.js';

const hex = (b: Buffer): string => b.toString('hex');

test('XDR: big-endian words, strings padded with zeros to four bytes', () => {
  assert.equal(hex(new XdrWriter().u32(1).u32(0xffffffff).bool(true).bool(false).bytes()), '00000001ffffffff0000000100000000');
  assert.equal(hex(new XdrWriter().string('tcp').bytes()), '00000003' + '74637000');
  assert.equal(hex(new XdrWriter().string('udp6').bytes()), '00000004' + '75647036');
  assert.equal(hex(new XdrWriter().string('').bytes()), '00000000');
  const r = new XdrReader(new XdrWriter().string('0.0.0.0.3.232').u32(7).bytes());
  assert.equal(r.string(), '0.0.0.0.3.232');
  assert.equal(r.u32(), 7);
  assert.equal(r.remaining, 0);
  assert.throws(() => r.u32(), XdrError);
  assert.throws(() => new XdrReader(Buffer.from('0000000201', 'hex')).bool(), XdrError, 'a boolean is 0 or 1');
  assert.throws(() => new XdrReader(Buffer.from('00000009616263', 'hex')).string(), XdrError, 'a string longer than the message');
  assert.throws(() => new XdrReader(Buffer.from('00010000', 'hex')).string(16), XdrError, 'a string over its limit');
});

test('a call: xid, CALL, RPC version 2, program, version, procedure, AUTH_NONE twice, then the arguments', () => {
  const args = encodeRpcb({ prog: 100001, vers: 3, netid: 'udp', addr: '0.0.0.0.3.232', owner: '0' });
  const call = encodeCall(0x01020304, 100000, 4, 1, args);
  const r = new XdrReader(call);
  assert.deepEqual(
    Array.from({ length: 10 }, () => r.u32()),
    [0x01020304, 0, 2, 100000, 4, 1, 0, 0, 0, 0],
  );
  assert.deepEqual([r.u32(), r.u32(), r.string(), r.string(), r.string()], [100001, 3, 'udp', '0.0.0.0.3.232', '0']);
  assert.equal(r.remaining, 0);
});

test('record marking: one last fragment out; fragments joined in; incomplete records wait', () => {
  const msg = Buffer.from('abcdefgh');
  const framed = frameRecord(msg);
  assert.equal(hex(framed.subarray(0, 4)), '80000008');
  assert.deepEqual(takeRecord(framed), { record: msg, rest: Buffer.alloc(0) });
  // Two fragments (the first without the last-fragment bit), then the start of the next record.
  const two = Buffer.concat([
    Buffer.from('00000003', 'hex'),
    Buffer.from('abc'),
    Buffer.from('80000002', 'hex'),
    Buffer.from('de'),
    Buffer.from('8000', 'hex'),
  ]);
  const got = takeRecord(two);
  assert.ok(got !== null);
  assert.equal(got.record.toString(), 'abcde');
  assert.equal(hex(got.rest), '8000');
  for (let n = 0; n < framed.length; n++) assert.equal(takeRecord(framed.subarray(0, n)), null, `${n} bytes are not a record`);
  assert.throws(() => takeRecord(Buffer.from(((0x80000000 | (MAX_RECORD + 1)) >>> 0).toString(16), 'hex')), XdrError);
});

function reply(xid: number, ...words: number[]): Buffer {
  const w = new XdrWriter().u32(xid).u32(1);
  for (const n of words) w.u32(n);
  return w.bytes();
}

test('replies: success with its results, the accept errors, a denied call', () => {
  const ok = decodeReply(Buffer.concat([reply(9, 0, 0, 0, 0), new XdrWriter().bool(true).bytes()]));
  assert.ok(ok.ok);
  assert.equal(ok.xid, 9);
  assert.equal(ok.results.bool(), true);
  assert.deepEqual(decodeReply(reply(9, 0, 0, 0, 1)), { ok: false, xid: 9, error: 'program unavailable' });
  assert.deepEqual(decodeReply(reply(9, 0, 0, 0, 2, 2, 4)), { ok: false, xid: 9, error: 'program version mismatch (2-4)' });
  assert.deepEqual(decodeReply(reply(9, 0, 0, 0, 3)), { ok: false, xid: 9, error: 'procedure unavailable' });
  assert.deepEqual(decodeReply(reply(9, 1, 0, 2, 2)), { ok: false, xid: 9, error: 'RPC version mismatch (2-2)' });
  assert.deepEqual(decodeReply(reply(9, 1, 1, 5)), { ok: false, xid: 9, error: 'authentication error 5' });
  assert.throws(() => decodeReply(new XdrWriter().u32(9).u32(0).bytes()), XdrError, 'a CALL is not a reply');
  assert.throws(() => decodeReply(reply(9, 0)), XdrError, 'a reply cut short');
});

test('DUMP results: the optional-data list of mappings, as many as it holds', () => {
  const maps = [
    { prog: 100000, vers: 4, netid: 'tcp6', addr: '::.0.111', owner: 'superuser' },
    { prog: 100001, vers: 3, netid: 'udp', addr: '0.0.0.0.201.12', owner: 'superuser' },
  ];
  const w = new XdrWriter();
  for (const m of maps) w.bool(true).u32(m.prog).u32(m.vers).string(m.netid).string(m.addr).string(m.owner);
  w.bool(false);
  assert.deepEqual(decodeRpcbList(new XdrReader(w.bytes())), maps);
  assert.deepEqual(decodeRpcbList(new XdrReader(new XdrWriter().bool(false).bytes())), []);
  assert.throws(() => decodeRpcbList(new XdrReader(new XdrWriter().bool(true).u32(1).bytes())), XdrError);
});

test('universal addresses: the address, then the port in two bytes', () => {
  assert.equal(universalAddress('0.0.0.0', 111), '0.0.0.0.0.111');
  assert.equal(universalAddress('127.0.0.1', 51468), '127.0.0.1.201.12');
  assert.equal(universalAddress('::', 44153), '::.172.121');
  assert.equal(universalAddress('::1', 65535), '::1.255.255');
});
