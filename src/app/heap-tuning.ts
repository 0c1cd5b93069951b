// V8 heap settings for the serving daemon (not for --check, --dump or --convert).
//
// Node sizes the young generation for throughput: each semi-space starts at 1 MiB and doubles
// under allocation pressure up to 16 MiB, so a daemon that answers a few thousand connections a
// second grows from about 58 to 95-100 MiB of resident memory and stays there. Keeping the
// semi-spaces at their initial size costs more frequent (sub-millisecond) scavenges and no
// measurable throughput, and keeps the daemon's memory close to flat under load (measured on
// the shared bench: S2 daytime RSS max 99 → 83 MiB, S1 spawn 80 → 67 MiB, S4 UDP 65 → 60 MiB).
//
// `--semi-space-growth-factor` is read by V8 each time it considers growing the young
// generation, so it takes effect when set at run time; flags that size the heap
// (--max-semi-space-size, --max-old-space-size) are read only when the process starts and
// can be given with NODE_OPTIONS.
//
// Loading a configuration allocates far more than it keeps (the syntax trees, the checks): with
// 10,000 services the old generation grows to about 130 MiB for 20 MiB of table, and V8 keeps
// those pages committed for as long as nothing makes it collect again, which an idle daemon
// never does. One full collection that compacts every page, once the sockets are open (at start
// and after a reload), gives them back: collectAfterLoading().

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fromEnv, type EnvOptions } from './options.js';

/** The V8 flags the daemon sets on itself. */
export const DAEMON_V8_FLAGS: readonly string[] = ['--semi-space-growth-factor=1'];

/**
 * Applies DAEMON_V8_FLAGS unless an administrator asks for V8's defaults (TSINETD_V8_DEFAULTS=1);
 * returns the flags applied.
 */
export function tuneHeapForDaemon(env: Pick<EnvOptions, 'keepV8Defaults'> = fromEnv()): readonly string[] {
  if (env.keepV8Defaults) return [];
  const applied: string[] = [];
  for (const flag of DAEMON_V8_FLAGS) {
    try {
      setFlagsFromString(flag);
      applied.push(flag);
    } catch {
      // an engine that refuses it just keeps its default
    }
  }
  return applied;
}

let fullCollection: (() => void) | null | undefined;

/**
 * V8's full collection, as a function: `--expose-gc` set at run time installs `gc` in the
 * contexts created after it, so a fresh context hands it out without exposing it to the
 * daemon's own global scope. Null when the engine refuses.
 */
function collector(): (() => void) | null {
  if (fullCollection !== undefined) return fullCollection;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    fullCollection = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    fullCollection = null;
  }
  return fullCollection;
}

/**
 * A full collection once a configuration is loaded and its sockets are open, on a later turn
 * of the event loop (so that no frame of the loading still holds its garbage). Skipped with
 * TSINETD_V8_DEFAULTS=1; returns whether it ran.
 */
export function collectAfterLoading(env: Pick<EnvOptions, 'keepV8Defaults'> = fromEnv()): Promise<boolean> {
  if (env.keepV8Defaults) return Promise.resolve(false);
  return new Promise((resolve) => {
    setImmediate(() => {
      const gc = collector();
      if (gc !== null) {
        // V8 compacts only the pages its heuristics pick; one collection then leaves most of
        // the loading's pages committed (10,000 services: 252 MiB idle; 131 MiB after two).
        // Compacting them all empties them, and they are given back at once (119 MiB).
        setFlagsFromString('--compact-on-every-full-gc');
        try {
          gc();
        } finally {
          setFlagsFromString('--no-compact-on-every-full-gc');
        }
      }
      resolve(gc !== null);
    });
  });
}
