// A wait = yes service: one server gets the listening socket itself; the sender of a queued
// datagram is learnt first (MSG_PEEK through the spawn helper) and admitted like any client;
// the listener watches again when that server has exited, or after a pause when it failed.

import { addressChecks } from '../service-needs.js';
import type { Listener } from './listener.js';
import type { Peer } from '../peer.js';
import { cachedSpawnSpec } from '../spawn/spawn-spec-cache.js';
import type { Service } from '../table.js';
import { admit, describe, durationSince, NO_PEER, started, type ServeContext } from './serve-context.js';
import { reportDgramRefusal } from './serve-datagram.js';
import { spawnServer } from './serve-program.js';

/** How long a wait = yes service rests after its server could not start or failed. */
export const WAIT_RETRY_MS = 1000;

/**
 * Notices servers of one wait = yes datagram service started faster than any such service
 * needs (`max` within `windowMs`): the sign of a server that exits without reading its
 * datagram and so is started again and again for it. The cps limit normally stops that first
 * (xinetd's default 50 per second); this guard is the last resort.
 */
export class SpawnRateGuard {
  private times: number[] = [];

  constructor(
    private readonly max = 200,
    private readonly windowMs = 1000,
  ) {}

  /** Records one server start at `nowMs`; true when the rate is exceeded (the count restarts). */
  record(nowMs: number): boolean {
    this.times.push(nowMs);
    let first = this.times[0];
    while (first !== undefined && nowMs - first > this.windowMs) {
      this.times.shift();
      first = this.times[0];
    }
    if (this.times.length < this.max) return false;
    this.times = [];
    return true;
  }
}

const spawnGuards = new WeakMap<Listener, SpawnRateGuard>();

function guardOf(listener: Listener): SpawnRateGuard {
  let g = spawnGuards.get(listener);
  if (g === undefined) {
    g = new SpawnRateGuard();
    spawnGuards.set(listener, g);
  }
  return g;
}

function rearmLater(listener: Listener, ms: number): void {
  const t = setTimeout(() => listener.rearm(), ms);
  t.unref();
}

/** How long a wait = yes datagram service waits before watching again after waking to an empty queue. */
const EMPTY_WAKE_RETRY_MS = 50;

/** Who sent the queued datagram: a peer, null when it cannot be known, 'empty' when nothing is queued. */
async function senderOf(ctx: ServeContext, service: Service, fd: number): Promise<Peer | null | 'empty'> {
  if (ctx.peekSender === undefined) return null;
  try {
    return (await ctx.peekSender(fd)) ?? 'empty';
  } catch (err) {
    ctx.daemon('wait-accept', 'warning', `service ${service.id}: ${describe(err)}`, 'get_connection');
    return null;
  }
}

/** Whether admission needs the client's address for `service` (see Admission.needsAddress). */
function needsAddress(ctx: ServeContext, service: Service): boolean {
  try {
    return ctx.admission.needsAddress(service);
  } catch {
    return true;
  }
}

/**
 * A datagram whose sender is unknown, for a service whose admission needs it: refused (FAIL
 * address, without from=), with a daemon line that says why; the caller drops it. Both lines
 * are written once per 60 s at most (reportDgramRefusal).
 */
function refuseUnknownSender(ctx: ServeContext, listener: Listener, service: Service): void {
  const report = reportDgramRefusal(listener, NO_PEER, 'address', ctx.now().getTime());
  ctx.refused(listener, service, null, { allow: false, reason: 'address' }, report);
  if (!report) return;
  const checks = addressChecks(service);
  const what = checks.length > 0 ? checks.join(', ') : 'the global no_access list (SENSOR)';
  const why = ctx.peekSender === undefined ? 'cannot be known without the spawn helper' : 'could not be learnt';
  ctx.daemon(
    'datagram-refused',
    'warning',
    `service ${service.id}: datagram refused and dropped: its sender ${why}, and ${what} need(s) the address`,
    'access_control',
  );
}

/**
 * The socket of a wait = yes service has a datagram or connection waiting: start one server
 * with the socket itself as fds 0-2; the listener watches again when that server has exited.
 * For a datagram, the sender of the first one queued is learnt first without reading it (as
 * xinetd does with recvfrom(MSG_PEEK)) and admitted like any client: a refused one is dropped
 * with everything queued behind it (xinetd's drain()), and no server starts.
 */
export async function serveWait(ctx: ServeContext, listener: Listener): Promise<void> {
  const service = listener.service;
  const ws = listener.wait;
  if (ws === null || ctx.stopping) return;
  const acceptedAt = performance.now();
  // A unix-domain datagram's sender has no address (a unix peer, as for unix stream sockets).
  const datagram = ws.transport === 'udp' || ws.transport === 'unix-dgram';

  let peer: Peer | null = null;
  if (ws.transport === 'udp') {
    const sender = await senderOf(ctx, service, ws.fd);
    // Closed (reload, cps suspension, stop) while the helper looked.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the socket may have closed or a stop begun while the helper looked; TypeScript keeps the narrowing from before the await
    if (ws.isClosed || listener.wait !== ws || ctx.stopping) return;
    if (sender === 'empty') {
      rearmLater(listener, EMPTY_WAKE_RETRY_MS);
      return;
    }
    if (sender === null && needsAddress(ctx, service)) {
      refuseUnknownSender(ctx, listener, service);
      await ws.drain();
      rearmLater(listener, WAIT_RETRY_MS);
      return;
    }
    peer = sender;
  }

  const decision = await admit(ctx, service, peer, { address: listener.plan.host, port: listener.port });
  if (!decision.allow) {
    const report = peer === null || reportDgramRefusal(listener, peer, decision.reason, ctx.now().getTime());
    ctx.refused(listener, service, peer, decision, report);
    if (datagram) await ws.drain();
    rearmLater(listener, WAIT_RETRY_MS);
    return;
  }
  ctx.metrics?.accepted(service);
  started(ctx, service, peer);
  const failed = async (): Promise<void> => {
    ws.restoreNonBlocking();
    if (datagram) await ws.drain();
    rearmLater(listener, WAIT_RETRY_MS);
  };
  const pid = await spawnServer(ctx, service, peer, cachedSpawnSpec(service, peer, ctx.child), ws.stdio);
  if (pid === null) {
    await failed();
    return;
  }
  ctx.metrics?.spawned(service, durationSince(acceptedAt));
  const looping = guardOf(listener).record(performance.now());
  ctx.log({ kind: 'START', service, pid, peer });
  ctx.track({
    pid,
    service,
    peer,
    startedAt: performance.now(),
    onExit: (info) => {
      if (ws.isClosed) return;
      if (info.code !== 0) {
        void failed();
        return;
      }
      ws.restoreNonBlocking();
      if (datagram && looping) {
        void ws.drain().then((n) => {
          ctx.daemon(
            'datagrams-discarded',
            'warning',
            `service ${service.id}: servers exit without reading their datagram; ${n} pending datagram(s) discarded`,
            'svc_postmortem',
          );
          listener.rearm();
        });
        return;
      }
      listener.rearm();
    },
  });
}
