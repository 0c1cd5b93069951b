// Spawn specs without per-connection rework: everything buildSpawnSpec() derives from a
// Service (argv, the whole environment, credentials, umask, nice, rlimits) is computed once
// per Service object and reused; only REMOTE_HOST changes from one client to the next.
//
// Why: copying the daemon's environment (process.env is read through a C++ getter, name by
// name) took about a tenth of the daemon's CPU per spawned server. Reusing it matches
// xinetd, which also resolves `user` and `group` when it reads the configuration; a reload
// brings new Service objects and so a fresh template. The daemon's own environment is taken
// as it is at the first connection of each service (tsinetd never changes it once serving).

import { buildSpawnSpec, NO_ADDRESS, type ChildContext, type SpawnSpecResult } from './child-env.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';

interface Template {
  result: SpawnSpecResult;
  /** Where REMOTE_HOST is in the environment (xinetd replaces an inherited one in place). */
  remoteHostAt: number;
}

const templates = new WeakMap<ChildContext, WeakMap<Service, Template>>();

function templateOf(service: Service, ctx: ChildContext): Template {
  let byService = templates.get(ctx);
  if (byService === undefined) {
    byService = new WeakMap();
    templates.set(ctx, byService);
  }
  let t = byService.get(service);
  if (t === undefined) {
    const result = buildSpawnSpec(service, null, ctx);
    const remoteHostAt = result.ok ? result.spec.env.findIndex((e) => e.startsWith('REMOTE_HOST=')) : -1;
    t = { result, remoteHostAt };
    byService.set(service, t);
  }
  return t;
}

/**
 * What buildSpawnSpec(service, peer, ctx) returns, from the service's template. The spec's
 * argv, groups and rlimits are shared between calls: spawners only read them.
 */
export function cachedSpawnSpec(service: Service, peer: Peer | null, ctx: ChildContext): SpawnSpecResult {
  const t = templateOf(service, ctx);
  if (!t.result.ok || t.remoteHostAt < 0) return t.result;
  const env = t.result.spec.env.slice();
  env[t.remoteHostAt] = `REMOTE_HOST=${peer === null ? NO_ADDRESS : peer.address}`;
  return { ok: true, spec: { ...t.result.spec, env } };
}
