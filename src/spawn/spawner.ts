// Picks the spawner the daemon uses, and says which configured attributes a spawner cannot
// apply (so that `--check` reports them instead of silently ignoring them).

import { addressChecks } from '../service-needs.js';
import { listenPlan } from '../serve/listen-plan.js';
import type { SpawnCapabilities, Spawner } from './spawn-types.js';
import { NODE_SPAWNER_CAPABILITIES, NodeSpawner } from './spawn-node.js';
import { describeAbsence, describeHelper, resolveHelper, type HelperResolution } from './native/helper-binary.js';
import { platformTag } from './native/native-build.js';
import { NATIVE_SPAWNER_CAPABILITIES, startNativeSpawner } from './native/spawn-native.js';
import { spawnerError } from './native/spawn-native-errors.js';
import { fromEnv, type EnvOptions } from '../app/options.js';
import { nodeInternals } from '../sys/uv-handles.js';
import type { Rlimits, Service } from '../table.js';
import { versus } from '../app/versus.js';
import { serviceKind, startsProgram } from '../service-kind.js';

// ---- choice of spawner (native branch: see spawn-native.ts; which binary: helper-binary.ts) ----

export interface SpawnerChoice {
  /**
   * 'auto' (default): the native helper when resolveHelper() finds or builds one that starts,
   * else the Node spawner. 'native' fails when no helper can run.
   */
  prefer?: 'auto' | 'node' | 'native';
  /** Problems that are not one spawn's own: the helper failing to start, dying, protocol warnings. */
  onWarning?: (message: string) => void;
  /** Notices: the Node spawner stands in for a missing helper (what is lost, how to get it back), or the helper was built. */
  onNotice?: (code: 'helper-missing' | 'helper-built' | 'node-internals-missing', message: string) => void;
}

/** The choice in effect: env TSINETD_SPAWNER=node|native overrides `prefer` (tests, benchmarks). */
export function spawnerPreference(choice: SpawnerChoice = {}, env: EnvOptions = fromEnv()): 'auto' | 'node' | 'native' {
  return env.spawner ?? choice.prefer ?? 'auto';
}

const CAPABILITY_NAMES: Record<keyof SpawnCapabilities, string> = {
  uidGid: 'user and group',
  groups: 'groups = yes',
  umask: 'umask',
  nice: 'nice',
  rlimits: 'the rlimit_* attributes',
  peekSender: "the sender's address of wait = yes datagrams (which only_from, no_access and TCP wrappers need)",
  unixDatagram: 'unix-domain datagram sockets (inetd.conf `dgram unix`)',
};

/** What running with the Node spawner instead of the helper costs, as one clause. */
export function lostWithoutHelper(): string {
  const missing = (Object.keys(CAPABILITY_NAMES) as Array<keyof SpawnCapabilities>).filter(
    (k) => NATIVE_SPAWNER_CAPABILITIES[k] === true && NODE_SPAWNER_CAPABILITIES[k] !== true,
  );
  const lost = missing.filter((k) => k !== 'unixDatagram').map((k) => CAPABILITY_NAMES[k]);
  const unserved = missing.includes('unixDatagram') ? `, ${CAPABILITY_NAMES.unixDatagram} are not served` : '';
  return `${lost.join(', ')} cannot be applied${unserved}, accepting stays in the daemon, and each server start costs the daemon about 1 ms of CPU`;
}

/** The notice for a run without the helper: where it looked, what is lost, how to get it back. */
export function fallbackNotice(r: HelperResolution, tag: string = platformTag()): string {
  return (
    `no native spawn helper for ${tag} (${describeAbsence(r)}): servers are started by the Node spawner; ` +
    `${lostWithoutHelper()}. To get the helper back, install a tsinetd package that ships one for ${tag}, ` +
    `or install a C compiler (musl-tools or gcc) and restart tsinetd, which then builds it`
  );
}

/**
 * Whether this run is without Node's internals (uv-handles.ts: missing, or TSINETD_NODE_INTERNALS=0).
 * The native spawner needs them to pass sockets to its helper; the Node spawner does not.
 */
export function withoutNodeInternals(env: EnvOptions): boolean {
  return !env.nodeInternals || !nodeInternals();
}

/** The notice for a run without Node's internals: what the daemon does instead. */
export function noInternalsNotice(): string {
  return (
    "Node's libuv handle internals are not available (this Node does not give them, or TSINETD_NODE_INTERNALS=0): " +
    `servers are started by the Node spawner (${lostWithoutHelper()}); wait = yes services and datagram services ` +
    'that start a program are not served; stream sockets are listened on by Node, and at a max-child limit ' +
    "clients are accepted and held by the daemon instead of waiting in the kernel's listen queue"
  );
}

/** The spawner for this run. Rejects only when 'native' is required and cannot run. */
export async function createSpawner(choice: SpawnerChoice = {}, env: EnvOptions = fromEnv()): Promise<Spawner> {
  const prefer = spawnerPreference(choice, env);
  if (withoutNodeInternals(env)) {
    if (prefer === 'native') throw spawnerError('ENOTSUP', "the native spawner needs Node's libuv handle internals, which are not available");
    choice.onNotice?.('node-internals-missing', noInternalsNotice());
    return new NodeSpawner();
  }
  if (prefer === 'node') return new NodeSpawner();
  const resolution = resolveHelper({ build: true });
  if (resolution.helper === null) {
    if (prefer === 'native') throw spawnerError('ENOENT', `no spawn helper can run: ${describeAbsence(resolution)}`);
    choice.onNotice?.('helper-missing', fallbackNotice(resolution));
    return new NodeSpawner();
  }
  if (resolution.built?.ok === true)
    choice.onNotice?.('helper-built', `built the native spawn helper at ${resolution.built.path} (${resolution.helper.identity.build})`);
  try {
    return await startNativeSpawner({
      helperPath: resolution.helper.candidate.path,
      ...(choice.onWarning ? { onWarning: choice.onWarning } : {}),
      // The helper accepts for the services it can (helperAccepts() in listeners.ts) unless
      // TSINETD_HELPER_ACCEPT=0; it forks servers instead of clone(CLONE_VM | CLONE_VFORK) with
      // TSINETD_SPAWND_FORK=1 (to compare, or to rule either out).
      accept: env.helperAccept,
      forkChildren: env.spawndFork,
    });
  } catch (err) {
    if (prefer === 'native') throw err;
    const why = err instanceof Error ? err.message : String(err);
    choice.onWarning?.(`the native spawner cannot run (${why}); servers are started by the Node spawner`);
    return new NodeSpawner();
  }
}

export interface SpawnerView {
  name: 'native' | 'node';
  capabilities: SpawnCapabilities;
  /** What was looked at (null: the Node spawner was asked for). */
  resolution: HelperResolution | null;
}

/** The spawner the daemon would start with, without starting or building anything (--check, -version). */
export function expectedSpawner(env: NodeJS.ProcessEnv = process.env): SpawnerView {
  const options = fromEnv(env);
  if (spawnerPreference({}, options) === 'node' || withoutNodeInternals(options))
    return { name: 'node', capabilities: NODE_SPAWNER_CAPABILITIES, resolution: null };
  const resolution = resolveHelper({ build: false, env });
  return resolution.helper !== null
    ? { name: 'native', capabilities: NATIVE_SPAWNER_CAPABILITIES, resolution }
    : { name: 'node', capabilities: NODE_SPAWNER_CAPABILITIES, resolution };
}

/** `-version`'s line on the spawner. */
export function describeSpawner(view: SpawnerView): string {
  if (view.resolution === null) return 'spawner: node (TSINETD_SPAWNER=node)';
  if (view.resolution.helper !== null) return `spawner: native, helper ${describeHelper(view.resolution)}`;
  return `spawner: node (no usable helper: ${describeAbsence(view.resolution)}; the daemon builds one at start when a C compiler is installed)`;
}

// ---- end of the choice of spawner ----

/** Whether one of these services is a SENSOR (whose global no_access list applies to every service). */
export function hasSensor(services: readonly Service[]): boolean {
  return services.some((s) => serviceKind(s) === 'sensor');
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
