// The spawn helper the tests run: the one the daemon would choose (helper-binary.ts), never
// built here (`npm run build` builds it when a C compiler is installed).
import { resolveHelper } from '../../src/helper-binary.js';

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
