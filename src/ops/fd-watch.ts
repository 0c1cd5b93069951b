// Tells the administrator when the daemon runs out of file descriptors.
//
// xinetd sees accept() fail with EMFILE and switches the service off for a while ("Deactivating
// service X due to no available descriptors"). Node's accept loop (libuv) never reports that
// failure: it accepts the waiting connections with a descriptor kept in reserve and closes them
// at once. So the daemon would drop clients without a word. Instead it looks once a second: a
// descriptor it cannot open (EMFILE/ENFILE) or a count at the soft limit means it is out; that
// is logged once, with the count, and again when descriptors are free (below 90 % of the limit).
// Services whose connections the native helper accepts report their own EMFILE (server.ts).

import { closeSync, openSync } from 'node:fs';
import { openDescriptors, softFileLimit } from '../sys/proc-self.js';

/** One look at the descriptors: how many are open and the soft limit, or out = none left. */
export interface FdSample {
  open: number | null;
  limit: number | null;
  out: boolean;
}

/** What changed between two samples: a line to log, or nothing. */
export type FdTransition = { kind: 'exhausted'; sample: FdSample } | { kind: 'recovered'; sample: FdSample } | null;

/** Below this share of the limit, descriptors count as available again. */
export const RECOVERED_SHARE = 0.9;

/** Pure: whether `s` starts or ends an exhaustion (`wasOut`: the previous state). */
export function fdTransition(wasOut: boolean, s: FdSample): FdTransition {
  const atLimit = s.out || (s.open !== null && s.limit !== null && s.open >= s.limit);
  if (!wasOut) return atLimit ? { kind: 'exhausted', sample: s } : null;
  if (atLimit) return null;
  const clearlyFree = s.open === null || s.limit === null || s.open < s.limit * RECOVERED_SHARE;
  return clearlyFree ? { kind: 'recovered', sample: s } : null;
}

function isOut(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * Samples this process. First the spare descriptor the next accept needs: when it opens, the
 * process is below its limit, and while it was not out that settles it, without counting (a
 * count reads /proc/self/fd, one entry per descriptor: with 10,000 services, 20,000 entries a
 * second on an idle daemon). The count (`open`, excluding the descriptor used to look) is taken
 * when it matters: when out, for the log line, and while out, to see the 90 % of recovery.
 */
export function sampleFds(wasOut = false): FdSample {
  let out = false;
  try {
    closeSync(openSync('/dev/null', 'r'));
  } catch (err) {
    out = isOut(err);
  }
  if (!out && !wasOut) return { open: null, limit: null, out: false };
  let open: number | null = null;
  try {
    open = openDescriptors();
  } catch {
    // none left to look with, or no /proc: the line goes without the count
  }
  return { open, limit: softFileLimit(), out };
}

export const FD_WATCH_MS = 1000;

/** Watches every `everyMs` and calls `report` on each transition; returns the stop function. */
export function watchFds(
  report: (t: Exclude<FdTransition, null>) => void,
  everyMs = FD_WATCH_MS,
  sample: (wasOut: boolean) => FdSample = sampleFds,
): () => void {
  let out = false;
  const timer = setInterval(() => {
    const t = fdTransition(out, sample(out));
    if (t === null) return;
    out = t.kind === 'exhausted';
    report(t);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The daemon log line for a transition. */
export function fdTransitionText(t: Exclude<FdTransition, null>): string {
  const { open, limit } = t.sample;
  const count = open !== null && limit !== null ? ` (${open} open, limit ${limit})` : limit !== null ? ` (limit ${limit})` : '';
  return t.kind === 'exhausted'
    ? `out of file descriptors${count}: new connections of the services the daemon accepts are closed at once`
    : `file descriptors available again${count}`;
}
