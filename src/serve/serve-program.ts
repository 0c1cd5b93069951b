// Starting a server program for an admitted client: its spawn spec (TCP wrappers' grant may
// change it, or twist it into a shell command), the start itself, and the failure xinetd logs
// when a server cannot start.

import type { WrapGrant } from '../admission/admission-types.js';
import { lookupIdent } from './ident.js';
import type { Peer } from '../peer.js';
import { cachedSpawnSpec } from '../spawn/spawn-spec-cache.js';
import type { ChildStdio, SpawnSpec } from '../spawn/spawn-types.js';
import {
  bannerBytes,
  bannerFileOf,
  grantNeeds,
  identTimeoutOf,
  percentContext,
  planWrapGrant,
  readBanner,
  runWrapSpawns,
  type WrapPlan,
} from '../admission/wrappers/wrap-grant.js';
import { wrapHostname, wrapUser } from '../admission/wrappers/wrappers.js';
import type { Service } from '../table.js';
import { durationSince, describe, finished, type ServeContext } from './serve-context.js';

/**
 * Starts a server program from `spec` (as cachedSpawnSpec() or wrappedSpec() made it) on
 * `stdio`: its pid, or null when it could not be made or started. A failure is xinetd's: a
 * daemon error, FAIL fork, and admission's count of the server given back (`as`: the service
 * the connection is logged and counted under, when not `service`: tcpmux for a TCPMUX service).
 */
export async function spawnServer(
  ctx: ServeContext,
  service: Service,
  peer: Peer | null,
  spec: ReturnType<typeof cachedSpawnSpec>,
  stdio: ChildStdio,
  as: Service = service,
): Promise<number | null> {
  let problem: string;
  if (!spec.ok) problem = `service ${service.id}: ${spec.error}`;
  else {
    try {
      return await ctx.spawn(spec.spec, stdio);
    } catch (err) {
      problem = `execv( ${spec.spec.path} ) failed: ${describe(err)}`;
    }
  }
  ctx.daemon(spec.ok ? 'exec-failed' : 'spawn-failed', 'error', problem, 'exec_server');
  ctx.metrics?.spawnFailed(as);
  ctx.log({ kind: 'FAIL', service: as, reason: 'fork', peer });
  finished(ctx, as, peer);
  return null;
}

/**
 * Starts the server program with `stdio` as its fds 0-2 (a failure is logged); `acceptedAt` is
 * performance.now() at accept. `release(started)` lets go of the daemon's hold on the connection.
 * `as`: the service whose START and EXIT lines and counts the server is (see spawnServer).
 */
export async function startProgram(
  ctx: ServeContext,
  service: Service,
  peer: Peer | null,
  stdio: ChildStdio,
  release: (started: boolean) => void,
  acceptedAt: number,
  wrap: PreparedWrap | null = null,
  as: Service = service,
): Promise<void> {
  const spec = wrap === null || peer === null ? cachedSpawnSpec(service, peer, ctx.child) : wrappedSpec(ctx, service, peer, wrap);
  const pid = await spawnServer(ctx, service, peer, spec, stdio, as);
  if (pid === null) {
    release(false);
    return;
  }
  ctx.metrics?.spawned(as, durationSince(acceptedAt));
  // START first: a server that has already exited is reported (EXIT) as soon as it is tracked.
  ctx.log({ kind: 'START', service: as, pid, peer });
  ctx.track({ pid, service: as, peer, startedAt: performance.now() });
  if (wrap?.plan.twist != null && peer !== null) ctx.daemon('twist', 'info', `twist ${peer.address} to ${wrap.plan.twist.command}`, 'libwrap');
  release(true);
}

/** A TCP-wrappers grant made ready for one connection: its plan, and the banner bytes. */
export interface PreparedWrap {
  plan: WrapPlan;
  banner: Buffer | null;
}

/**
 * Looks up what the grant's % expansions need (host names, the client's user through IDENT),
 * runs its spawn commands (the connection waits, the daemon does not) and reads its banner.
 */
export async function prepareWrap(ctx: ServeContext, service: Service, peer: Peer, grant: WrapGrant): Promise<PreparedWrap> {
  const problem = (message: string): void => ctx.daemon('wrap-problem', 'error', `service ${service.id}: ${message}`, 'libwrap');
  const bannerText = await readBanner(bannerFileOf(grant), problem);
  const needs = grantNeeds(grant, bannerText);
  let g = grant;
  if (needs.has('client-hostname') && g.clientHostname === null && ctx.wrapResolver !== undefined) {
    g = { ...g, clientHostname: (await wrapHostname(peer.address, ctx.wrapResolver)).name };
  }
  if (needs.has('client-user') && g.clientUser === null) {
    const r = await (ctx.ident?.lookup ?? lookupIdent)({
      remoteAddress: peer.address,
      remotePort: peer.port,
      localAddress: g.local.address,
      localPort: g.local.port,
      timeoutMs: identTimeoutOf(g),
      ...(ctx.ident !== undefined ? { identPort: ctx.ident.identPort } : {}),
    });
    g = { ...g, clientUser: wrapUser(r) };
  }
  const pctx = percentContext(g, peer, process.pid);
  if (needs.has('server-hostname') && ctx.wrapResolver !== undefined) {
    pctx.server.hostname = (await wrapHostname(g.local.address, ctx.wrapResolver)).name;
  }
  const plan = planWrapGrant(g, pctx);
  if (plan.spawns.length > 0) {
    const spec = cachedSpawnSpec(service, peer, ctx.child);
    const ids = spec.ok ? { ...(spec.spec.uid !== null ? { uid: spec.spec.uid } : {}), ...(spec.spec.gid !== null ? { gid: spec.spec.gid } : {}) } : {};
    await runWrapSpawns(plan, ids, problem);
  }
  return { plan, banner: bannerBytes(bannerText, pctx) };
}

/** The spawn spec of a wrapped start: the server, or the twist command in its place. */
function wrappedSpec(ctx: ServeContext, service: Service, peer: Peer, wrap: PreparedWrap): ReturnType<typeof cachedSpawnSpec> {
  const plan = wrap.plan;
  let base: ReturnType<typeof cachedSpawnSpec>;
  if (plan.twist !== null) {
    // The server's credentials, the daemon's environment plus setenv: what xinetd's child had
    // when libwrap exec'd the shell.
    const server = service.server !== null ? cachedSpawnSpec(service, peer, ctx.child) : null;
    const env = Object.entries({ ...ctx.child.env, ...plan.twist.env })
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    base = {
      ok: true,
      spec: {
        path: '/bin/sh',
        argv: ['sh', '-c', plan.twist.command],
        env,
        uid: server?.ok === true ? server.spec.uid : null,
        gid: server?.ok === true ? server.spec.gid : null,
        groups: server?.ok === true ? server.spec.groups : null,
        umask: server?.ok === true ? server.spec.umask : ctx.child.umask,
        nice: service.nice,
        rlimits: { ...service.rlimits },
      },
    };
  } else {
    base = cachedSpawnSpec(service, peer, ctx.child);
  }
  if (!base.ok) return base;
  const spec: SpawnSpec = { ...base.spec };
  if (plan.umask !== null) spec.umask = plan.umask;
  if (plan.nice !== null) spec.nice = (spec.nice ?? 0) + plan.nice;
  if (plan.keepalive || plan.lingerSeconds !== null || wrap.banner !== null) {
    spec.socketSetup = { keepalive: plan.keepalive, lingerSeconds: plan.lingerSeconds, pre: wrap.banner };
  }
  return { ok: true, spec };
}
