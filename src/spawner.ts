// Picks the spawner the daemon uses, and says which configured attributes a spawner cannot
// apply (so that `--check` reports them instead of silently ignoring them).

import { addressChecks } from './admission.js';
import { listenPlan } from './listeners.js';
import type { SpawnCapabilities, Spawner } from './spawn-types.js';
import { NODE_SPAWNER_CAPABILITIES, NodeSpawner } from './spawn-node.js';
import { helperInstalled, NATIVE_SPAWNER_CAPABILITIES, startNativeSpawner } from './spawn-native.js';
import type { Rlimits, Service } from './table.js';
import { versus } from './versus.js';

// ---- choice of spawner (native branch: see spawn-native.ts) ----

export interface SpawnerChoice {
  /**
   * 'auto' (default): the native helper (native/build/tsinetd-spawnd) when it is built and
   * starts, else the Node spawner. 'native' fails when the helper cannot run.
   */
  prefer?: 'auto' | 'node' | 'native';
  /** Problems that are not one spawn's own: the helper failing to start, dying, protocol warnings. */
  onWarning?: (message: string) => void;
}

/** The choice in effect: env TSINETD_SPAWNER=node|native overrides `prefer` (tests, benchmarks). */
export function spawnerPreference(choice: SpawnerChoice = {}, env: NodeJS.ProcessEnv = process.env): 'auto' | 'node' | 'native' {
  const forced = env['TSINETD_SPAWNER'];
  if (forced === 'node' || forced === 'native') return forced;
  return choice.prefer ?? 'auto';
}

/**
 * Whether the native helper accepts connections for the services it can (helperAccepts() in
 * listeners.ts): yes unless TSINETD_HELPER_ACCEPT=0 (to compare, or to rule it out).
 */
export function helperAcceptWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['TSINETD_HELPER_ACCEPT'] !== '0';
}

/**
 * Whether the native helper forks servers instead of starting them with clone(CLONE_VM |
 * CLONE_VFORK): TSINETD_SPAWND_FORK=1 (to compare, or where a hanging exec must not hold it up).
 */
export function helperForkWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['TSINETD_SPAWND_FORK'] === '1';
}

/** The spawner for this run. Rejects only when 'native' is required and cannot run. */
export async function createSpawner(choice: SpawnerChoice = {}): Promise<Spawner> {
  const prefer = spawnerPreference(choice);
  if (prefer === 'node') return new NodeSpawner();
  if (prefer === 'auto' && !helperInstalled()) return new NodeSpawner(); // built without a C compiler
  try {
    return await startNativeSpawner({
      ...(choice.onWarning ? { onWarning: choice.onWarning } : {}),
      accept: helperAcceptWanted(),
      forkChildren: helperForkWanted(),
    });
  } catch (err) {
    if (prefer === 'native') throw err;
    const why = err instanceof Error ? err.message : String(err);
    choice.onWarning?.(`the native spawner cannot run (${why}); servers are started by the Node spawner`);
    return new NodeSpawner();
  }
}

/** The capabilities of the spawner createSpawner() returns by default (for --check). */
export function defaultSpawnerCapabilities(): SpawnCapabilities {
  return spawnerPreference() !== 'node' && helperInstalled() ? NATIVE_SPAWNER_CAPABILITIES : NODE_SPAWNER_CAPABILITIES;
}

// ---- end of the choice of spawner ----

/** Whether a service starts a server program (as opposed to internal services and redirects). */
export function startsProgram(service: Service): boolean {
  return service.server !== null && service.redirect === null && !service.type.includes('INTERNAL');
}

/** Whether one of these services is a SENSOR (whose global no_access list applies to every service). */
export function hasSensor(services: readonly Service[]): boolean {
  return services.some((s) => s.flags.includes('SENSOR'));
}

/** Whether `service` is served as a wait = yes datagram program (its socket goes to the server). */
function waitsForDatagrams(service: Service): boolean {
  const r = listenPlan(service);
  return r.ok && r.plan.mode === 'dgram-wait';
}

const RLIMIT_NAMES: ReadonlyArray<keyof Rlimits> = ['as', 'cpu', 'data', 'rss', 'stack', 'files'];

/**
 * The attributes of `service` that a spawner with `caps` would not apply, one message each
 * (empty when everything is supported). Only services that start a program are concerned.
 * `sensorInTable`: the configuration has a SENSOR service, whose global no_access list needs
 * every client's address.
 */
export function unsupportedBySpawner(service: Service, caps: SpawnCapabilities, spawnerName = 'this', sensorInTable = false): string[] {
  if (!startsProgram(service)) return [];
  const out: string[] = [];
  const by = `the ${spawnerName} spawner`;
  if (caps.peekSender !== true && waitsForDatagrams(service)) {
    const checks = addressChecks(service);
    if (sensorInTable) checks.push('the global no_access list (SENSOR)');
    if (checks.length > 0) {
      out.push(
        `the sender of a datagram cannot be learnt by ${by} (only the spawn helper can peek at it): ` +
          `${checks.join(', ')} need(s) it, so datagrams are refused and dropped` +
          (sensorInTable && checks.length === 1 ? ' while that list holds any address' : '') +
          versus('admits less'),
      );
    }
  }
  if (!caps.uidGid && (service.user !== null || service.group !== null)) {
    out.push(`user/group cannot be applied by ${by}: the server would run as the daemon's user` + versus('restricts the server less'));
  }
  if (!caps.groups && service.groups && service.user !== null) {
    out.push(`groups = yes cannot be applied by ${by}: the server runs without supplementary groups` + versus('restricts the server less'));
  }
  if (!caps.umask && service.umask !== null) {
    out.push(`umask cannot be applied by ${by}: the server gets the daemon's umask` + versus('restricts the server less'));
  }
  if (!caps.nice && service.nice !== null) {
    out.push(`nice cannot be applied by ${by}` + versus('restricts the server less'));
  }
  if (!caps.rlimits) {
    for (const name of RLIMIT_NAMES) {
      if (service.rlimits[name] !== undefined) out.push(`rlimit_${name} cannot be applied by ${by}` + versus('restricts the server less'));
    }
  }
  return out;
}
