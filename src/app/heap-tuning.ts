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

import { setFlagsFromString } from 'node:v8';
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
