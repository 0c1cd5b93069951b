// What an RPC service registers with rpcbind, and what a sync with rpcbind must change (pure).
//
// Each RPC service's socket is bound to an ephemeral port (xinetd's activate_rpc binds port 0 and
// reads the port back); every version in its `rpc_version` range is then registered for the
// socket's transport and family. xinetd calls pmap_set(), which libtirpc turns into an rpcbind
// SET for the IPv4 netid only ("tcp"/"udp", universal address 0.0.0.0.p1.p2), whatever the
// family of the socket. tsinetd registers what the socket really serves: an IPv4 socket its IPv4
// netid, a v6only or address-bound IPv6 socket "tcp6"/"udp6", and a dual-stack IPv6 wildcard
// socket (xinetd's default, no `bind`) both, so that IPv4 clients such as rup find it as they do
// under xinetd, and IPv6 clients find it too.
//
// xinetd's pmap_unset() removes a program version for both tcp and udp, so dropping one of two
// services of a program (one tcp, one udp) unregisters the other too; tsinetd unregisters only
// the mappings it made for the service that goes.

import { isIP } from 'node:net';
import { universalAddress, type Rpcb } from './rpc-xdr.js';

/**
 * The most versions one service registers: a range like 1-4294967295 would otherwise mean
 * billions of mappings (xinetd tries them one a second). validate.ts warns past it.
 */
export const MAX_RPC_VERSIONS = 256;

/** What one RPC service asks of rpcbind: a program's versions over one transport. */
export interface RpcAsk {
  serviceId: string;
  prog: number;
  versions: readonly [number, number];
  transport: 'tcp' | 'udp';
}

/** A version an RPC service does not get, and the earlier service that has it. */
export interface RpcLoss {
  vers: number;
  winner: number;
}

/** The versions an RPC service asks for, at most MAX_RPC_VERSIONS of them. */
function versionsOf(a: Pick<RpcAsk, 'versions'>): number[] {
  const out: number[] = [];
  const last = Math.min(a.versions[1], a.versions[0] + MAX_RPC_VERSIONS - 1);
  for (let vers = a.versions[0]; vers <= last; vers++) out.push(vers);
  return out;
}

/**
 * Which service gets each (program, version, transport) that several ask for: the first one,
 * in the order they are activated, as under xinetd. Its activate_rpc calls pmap_set() for every
 * version, and rpcbind refuses a mapping that exists for the netid ("tcp" or "udp", xinetd
 * registers no other), so a later service gets only the versions no earlier one has: it logs
 * "pmap_set failed" for each of the others, and a service left with none "failed to start and
 * is deactivated" (measured with 2.3.15.3). The address does not matter, as for xinetd.
 * Several entries with one serviceId (the sockets of one service) are one service. Returns, for
 * each entry, the versions it loses (empty: it gets them all).
 */
export function rpcLosses(asks: readonly RpcAsk[]): RpcLoss[][] {
  const owner = new Map<string, { index: number; serviceId: string }>();
  return asks.map((a, index) => {
    const lost: RpcLoss[] = [];
    for (const vers of versionsOf(a)) {
      const key = `${a.prog}/${vers}/${a.transport}`;
      const held = owner.get(key);
      if (held === undefined) owner.set(key, { index, serviceId: a.serviceId });
      else if (held.serviceId !== a.serviceId) lost.push({ vers, winner: held.index });
    }
    return lost;
  });
}

/** A bound socket of an RPC service. */
export interface RpcSocket {
  serviceId: string;
  prog: number;
  versions: readonly [number, number];
  transport: 'tcp' | 'udp';
  /** The address the socket is bound to (a literal). */
  host: string;
  family: 4 | 6;
  v6only: boolean;
  port: number;
}

/** One mapping wanted with rpcbind, and the service it is for. */
export interface Wanted {
  serviceId: string;
  rpcb: Rpcb;
}

/** Which mapping this is for rpcbind: SET refuses a second one, UNSET removes it, by these three. */
export function mappingKey(r: Pick<Rpcb, 'prog' | 'vers' | 'netid'>): string {
  return `${r.prog}/${r.vers}/${r.netid}`;
}

/** The (netid, host) pairs a socket serves. */
function endpoints(s: RpcSocket): Array<{ netid: string; host: string }> {
  if (s.family === 4) return [{ netid: s.transport, host: s.host }];
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s.host);
  if (mapped?.[1] !== undefined) return [{ netid: s.transport, host: mapped[1] }];
  const six = { netid: `${s.transport}6`, host: s.host };
  if (!s.v6only && (s.host === '::' || isIP(s.host) === 0)) return [{ netid: s.transport, host: '0.0.0.0' }, six];
  return [six];
}

/**
 * Every mapping `s` wants: each version of its range but those another service has (`lost`,
 * rpcLosses), on each netid its socket serves.
 */
export function wantedOf(s: RpcSocket, owner: string, lost: readonly RpcLoss[] = []): Wanted[] {
  const out: Wanted[] = [];
  const others = new Set(lost.map((l) => l.vers));
  for (const vers of versionsOf(s)) {
    if (others.has(vers)) continue;
    for (const e of endpoints(s)) {
      out.push({ serviceId: s.serviceId, rpcb: { prog: s.prog, vers, netid: e.netid, addr: universalAddress(e.host, s.port), owner } });
    }
  }
  return out;
}

/** What one sync does. */
export interface SyncPlan {
  /** Mappings of ours to remove (no longer wanted, or wanted at another address). */
  unset: Rpcb[];
  /** Mappings to make: wanted and not in rpcbind's table. */
  set: Wanted[];
  /** Wanted, but rpcbind has the mapping at another address that is not ours: left alone. */
  conflicts: Array<{ wanted: Wanted; held: Rpcb }>;
  /** Ours and still wanted, yet gone from rpcbind's table (rpcbind restarted): in `set` too. */
  lost: Wanted[];
}

/**
 * From the mappings wanted, those this daemon made (`ours`, by mappingKey) and rpcbind's table
 * (`table`, a DUMP), what to unset and set. The first of two wanted mappings with one key wins.
 */
export function planSync(wanted: readonly Wanted[], ours: ReadonlyMap<string, Rpcb>, table: readonly Rpcb[]): SyncPlan {
  const plan: SyncPlan = { unset: [], set: [], conflicts: [], lost: [] };
  const held = new Map<string, Rpcb>();
  for (const r of table) if (!held.has(mappingKey(r))) held.set(mappingKey(r), r);
  const want = new Map<string, Wanted>();
  for (const w of wanted) if (!want.has(mappingKey(w.rpcb))) want.set(mappingKey(w.rpcb), w);

  const freed = new Set<string>();
  for (const [key, mine] of ours) {
    const w = want.get(key);
    if (w !== undefined && w.rpcb.addr === mine.addr) continue;
    const h = held.get(key);
    if (h !== undefined && h.addr === mine.addr) {
      plan.unset.push(mine);
      freed.add(key);
    }
  }
  for (const [key, w] of want) {
    const h = held.get(key);
    if (h === undefined || freed.has(key)) {
      plan.set.push(w);
      if (h === undefined && ours.get(key)?.addr === w.rpcb.addr) plan.lost.push(w);
    } else if (h.addr !== w.rpcb.addr) {
      plan.conflicts.push({ wanted: w, held: h });
    }
  }
  return plan;
}
