// What an RPC service registers (rpc-plan.ts wantedOf) and what a sync with rpcbind changes
// (planSync): first registration, a restarted rpcbind, a removed service, a changed port, and a
// mapping held by someone else.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mappingKey, MAX_RPC_VERSIONS, planSync, rpcLosses, wantedOf, type RpcSocket, type Wanted } from '../../../src/serve/rpc-plan.js';
import type { Rpcb } from '../../../src/serve/rpc-xdr.js';

const sock = (o: Partial<RpcSocket>): RpcSocket => ({
  serviceId: 'rstatd',
  prog: 100001,
  versions: [2, 4],
  transport: 'udp',
  host: '0.0.0.0',
  family: 4,
  v6only: false,
  port: 51468,
  ...o,
});

const brief = (ws: readonly Wanted[]): string[] => ws.map((w) => `${w.rpcb.vers} ${w.rpcb.netid} ${w.rpcb.addr}`);

test('every version of the range, on the netids the socket serves', () => {
  assert.deepEqual(brief(wantedOf(sock({}), '0')), ['2 udp 0.0.0.0.201.12', '3 udp 0.0.0.0.201.12', '4 udp 0.0.0.0.201.12']);
  assert.deepEqual(brief(wantedOf(sock({ versions: [3, 3], transport: 'tcp', host: '127.0.0.1' }), '0')), ['3 tcp 127.0.0.1.201.12']);
  // xinetd's default socket (no bind): dual-stack [::], found by IPv4 and IPv6 clients.
  assert.deepEqual(brief(wantedOf(sock({ versions: [3, 3], transport: 'tcp', host: '::', family: 6 }), '0')), ['3 tcp 0.0.0.0.201.12', '3 tcp6 ::.201.12']);
  assert.deepEqual(brief(wantedOf(sock({ versions: [3, 3], host: '::', family: 6, v6only: true }), '0')), ['3 udp6 ::.201.12']);
  assert.deepEqual(brief(wantedOf(sock({ versions: [3, 3], host: '::1', family: 6 }), '0')), ['3 udp6 ::1.201.12']);
  assert.deepEqual(brief(wantedOf(sock({ versions: [3, 3], host: '::ffff:127.0.0.1', family: 6 }), '0')), ['3 udp 127.0.0.1.201.12']);
  assert.equal(wantedOf(sock({ versions: [1, 4294967295] }), '0').length, MAX_RPC_VERSIONS, 'a huge range is cut');
  const w = wantedOf(sock({ versions: [1, 1] }), '0')[0];
  assert.deepEqual(w, { serviceId: 'rstatd', rpcb: { prog: 100001, vers: 1, netid: 'udp', addr: '0.0.0.0.201.12', owner: '0' } });
});

const oursOf = (ws: readonly Wanted[]): Map<string, Rpcb> => new Map(ws.map((w) => [mappingKey(w.rpcb), w.rpcb]));
const held = (ws: readonly Wanted[]): Rpcb[] => ws.map((w) => ({ ...w.rpcb, owner: 'superuser' }));
const portmapper: Rpcb = { prog: 100000, vers: 2, netid: 'udp', addr: '0.0.0.0.0.111', owner: 'superuser' };

test('a first sync sets every mapping; a second one, with rpcbind holding them, changes nothing', () => {
  const want = wantedOf(sock({}), '0');
  const first = planSync(want, new Map(), [portmapper]);
  assert.deepEqual(brief(first.set), brief(want));
  assert.deepEqual([first.unset, first.conflicts, first.lost], [[], [], []]);
  assert.deepEqual(planSync(want, oursOf(want), [portmapper, ...held(want)]), { unset: [], set: [], conflicts: [], lost: [] });
});

test('rpcbind restarted (its table has none of ours): everything set again, and reported lost', () => {
  const want = wantedOf(sock({}), '0');
  const p = planSync(want, oursOf(want), [portmapper]);
  assert.deepEqual(brief(p.set), brief(want));
  assert.deepEqual(brief(p.lost), brief(want));
  assert.deepEqual(p.unset, []);
});

test('a service gone: its mappings unset, those of others left alone', () => {
  const gone = wantedOf(sock({}), '0');
  const stays = wantedOf(sock({ serviceId: 'rusersd', prog: 100002, versions: [2, 2], port: 700 }), '0');
  const p = planSync(stays, oursOf([...gone, ...stays]), [portmapper, ...held(gone), ...held(stays)]);
  assert.deepEqual(
    p.unset.map((r) => mappingKey(r)),
    gone.map((w) => mappingKey(w.rpcb)),
  );
  assert.deepEqual([p.set, p.conflicts, p.lost], [[], [], []]);
  // Already gone from rpcbind: nothing to unset.
  assert.deepEqual(planSync([], oursOf(gone), [portmapper]).unset, []);
});

test('a new port (the socket was opened again): the old mapping unset, the new one set', () => {
  const before = wantedOf(sock({ versions: [3, 3] }), '0');
  const after = wantedOf(sock({ versions: [3, 3], port: 40000 }), '0');
  const p = planSync(after, oursOf(before), held(before));
  assert.deepEqual(brief(p.set), ['3 udp 0.0.0.0.156.64']);
  assert.deepEqual(
    p.unset.map((r) => r.addr),
    ['0.0.0.0.201.12'],
  );
  assert.deepEqual(p.conflicts, []);
});

test('a mapping someone else holds is left alone and reported, until it is freed', () => {
  const want = wantedOf(sock({ versions: [3, 3] }), '0');
  const other: Rpcb = { prog: 100001, vers: 3, netid: 'udp', addr: '0.0.0.0.3.0', owner: '1000' };
  const p = planSync(want, new Map(), [other]);
  assert.deepEqual(p.set, []);
  assert.deepEqual(p.conflicts, [{ wanted: want[0], held: other }]);
  assert.deepEqual(brief(planSync(want, new Map(), []).set), brief(want));
  // The same mapping made by an earlier run (same address): taken as it is.
  assert.deepEqual(planSync(want, new Map(), held(want)), { unset: [], set: [], conflicts: [], lost: [] });
});

test('two services wanting one mapping: the first wins', () => {
  const a = wantedOf(sock({ versions: [3, 3] }), '0');
  const b = wantedOf(sock({ serviceId: 'other', versions: [3, 3], port: 999 }), '0');
  const p = planSync([...a, ...b], new Map(), []);
  assert.deepEqual(
    p.set.map((w) => w.serviceId),
    ['rstatd'],
  );
});

test('two services asking for one program version over one transport: the first gets it (rpcLosses), whatever the address', () => {
  const ask = (serviceId: string, versions: [number, number], transport: 'tcp' | 'udp' = 'udp', prog = 100001) => ({ serviceId, prog, versions, transport });
  const losses = rpcLosses([
    ask('a', [1, 2]),
    ask('a', [1, 2]), // the second socket of a (one per family): the same service
    ask('b', [2, 3]),
    ask('c', [1, 2]),
    ask('t', [2, 3], 'tcp'),
    ask('r', [2, 2], 'udp', 100002),
    ask('d', [3, 5]),
  ]);
  assert.deepEqual(losses, [
    [],
    [],
    [{ vers: 2, winner: 0 }],
    [
      { vers: 1, winner: 0 },
      { vers: 2, winner: 0 },
    ],
    [],
    [],
    [{ vers: 3, winner: 2 }],
  ]);
  // A service with every version lost owns none of them: the next one is not told it lost to it.
  assert.deepEqual(rpcLosses([ask('a', [1, 1]), ask('c', [1, 1]), ask('e', [1, 1])]), [[], [{ vers: 1, winner: 0 }], [{ vers: 1, winner: 0 }]]);
  // What a service asks rpcbind for leaves out the versions it lost.
  assert.deepEqual(brief(wantedOf(sock({ versions: [2, 4] }), '0', [{ vers: 3, winner: 0 }])), ['2 udp 0.0.0.0.201.12', '4 udp 0.0.0.0.201.12']);
});
