// What /proc says about this process (Linux), read in one place: the descriptors it has open
// and its soft limit on them. Used by the descriptor watch (fd-watch.ts) and the metrics
// (process_open_fds, process_max_fds).

import { readdirSync, readFileSync } from 'node:fs';

/**
 * The descriptors open now, not counting the one used to look (readdir opens the directory).
 * Throws what readdir throws: EMFILE/ENFILE when there is none left to look with.
 */
export function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/** The soft RLIMIT_NOFILE (read each time: prlimit may change it); null when unlimited or unknown. */
export function softFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    return m === null || m[1] === 'unlimited' ? null : Number(m[1]);
  } catch {
    return null;
  }
}
