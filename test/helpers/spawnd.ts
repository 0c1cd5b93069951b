// The spawn helper the tests run: the one the daemon would choose (helper-binary.ts), never
// built here (`npm run build` builds it when a C compiler is installed).
import { resolveHelper } from '../../src/spawn/native/helper-binary.js';
import { expectedSpawner } from '../../src/spawn/spawner.js';

let found: string | null | undefined;

/** The path of the helper the daemon would run, or null when there is none (Node spawner). */
export function usableHelper(): string | null {
  if (found === undefined) found = resolveHelper({ build: false }).helper?.candidate.path ?? null;
  return found;
}

/** Why native-spawner tests are skipped, or false when a helper is usable. */
export function noHelper(): string | false {
  return usableHelper() === null ? 'no usable spawn helper (not built: no C compiler at build time): native spawner not tested' : false;
}

/**
 * Why tests of the daemon's own helper are skipped when the daemon, started with this process's
 * environment, runs without one: none is usable, or TSINETD_SPAWNER=node asks for the Node
 * spawner (CI runs the serving tests that way too). False when it runs the native helper.
 */
export function daemonRunsNoHelper(env: NodeJS.ProcessEnv = process.env): string | false {
  const view = expectedSpawner(env);
  if (view.name === 'native') return false;
  return view.resolution === null ? 'the daemon runs the Node spawner (TSINETD_SPAWNER=node)' : 'no native spawn helper (child_process fallback)';
}
