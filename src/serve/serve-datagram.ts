// A datagram for an in-process datagram service (echo, daytime, time, chargen, discard over
// UDP), and xinetd's rule of reporting an address refusal of the same datagram client once per
// 60 s (shared with wait = yes datagram services).

import type * as dgram from 'node:dgram';
import { builtinOf, datagramReply, refusesSourcePort } from './builtins.js';
import type { Listener } from './listener.js';
import type { Peer } from '../peer.js';
import { admit, peerOfDatagram, type ServeContext } from './serve-context.js';

/** xinetd reports an address refusal of the same datagram client (address and port) once per this many ms. */
export const DGRAM_IGNORE_MS = 60_000;

/** Remembers the last refused datagram client of each listener. */
const lastDgramRefusal = new WeakMap<Listener, { key: string; at: number }>();

export function reportDgramRefusal(listener: Listener, peer: Peer, reason: string, nowMs: number): boolean {
  if (reason !== 'address') return true;
  const key = `${peer.address} ${peer.port}`;
  const last = lastDgramRefusal.get(listener);
  if (last !== undefined && last.key === key && nowMs - last.at <= DGRAM_IGNORE_MS) return false;
  lastDgramRefusal.set(listener, { key, at: nowMs });
  return true;
}

/** A datagram for an in-process datagram service: admission, START, the reply. */
export async function serveDatagram(ctx: ServeContext, listener: Listener, message: Buffer, remote: dgram.RemoteInfo): Promise<void> {
  const service = listener.service;
  const builtin = builtinOf(service);
  if (builtin === null || ctx.stopping) return;
  const peer = peerOfDatagram(remote);
  const admitted = admit(ctx, service, peer, { address: listener.plan.host, port: listener.port });
  const decision = admitted instanceof Promise ? await admitted : admitted;
  if (!decision.allow) {
    ctx.refused(listener, service, peer, decision, reportDgramRefusal(listener, peer, decision.reason, ctx.now().getTime()));
    return;
  }
  ctx.metrics?.accepted(service);
  ctx.log({ kind: 'START', service, pid: 0, peer });
  if (refusesSourcePort(builtin, remote.port)) {
    ctx.daemon('dos-attack', 'warning', `Possible Denial of Service attack from ${remote.address} ${remote.port}`, `dgram_${builtin}`);
    return;
  }
  const reply = datagramReply(builtin, message, { now: () => ctx.now(), ring: listener.ring });
  if (reply !== null) listener.send(reply, remote.port, remote.address);
}
