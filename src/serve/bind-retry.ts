// What to do when a service's socket cannot be bound (its port is taken by another process, its
// `bind` address is not configured yet, its host name does not resolve yet): pure decisions.
//
// xinetd 2.3.15.3 retries bind() ten times back to back, logs "bind retry attempt N" for each,
// then gives the service up ("Service X failed to start and is deactivated") until the next
// SIGHUP. tsinetd logs xinetd's first "bind failed (...)" line the same way, but keeps trying
// in the background with a growing pause, so that a port freed later (a stray process gone, an
// address that comes up after boot) gets served without anyone sending SIGHUP.

import { errnoOf, strerror } from '../sys/errno.js';

/** The first pause after a failed bind; TSINETD_BIND_RETRY_MS changes it (tests; options.ts fromEnv()). */
export const DEFAULT_BIND_RETRY_MS = 1000;
/** The pause never grows beyond this. */
export const MAX_BIND_RETRY_MS = 60_000;
/** Once the pause has stopped growing, one failed attempt in this many is logged. */
export const LOG_EVERY_AT_CAP = 10;

/** The pause before attempt `attempt` (1 = the first retry): doubling from `baseMs` up to `capMs`. */
export function bindRetryDelayMs(attempt: number, baseMs = DEFAULT_BIND_RETRY_MS, capMs = MAX_BIND_RETRY_MS): number {
  const base = Math.max(1, baseMs);
  const cap = Math.max(base, capMs);
  const n = Math.max(1, Math.floor(attempt));
  // 2^(n-1) would overflow long before it matters: stop doubling once past the cap.
  return n > 40 ? cap : Math.min(cap, base * 2 ** (n - 1));
}

/**
 * Whether failed attempt `attempt` is worth a log line: every one while the pause still grows,
 * then one in LOG_EVERY_AT_CAP, so that a port taken for days costs a few lines an hour.
 */
export function shouldLogBindRetry(attempt: number, baseMs = DEFAULT_BIND_RETRY_MS, capMs = MAX_BIND_RETRY_MS): boolean {
  if (bindRetryDelayMs(attempt, baseMs, capMs) < capMs) return true;
  let firstAtCap = 1;
  while (bindRetryDelayMs(firstAtCap, baseMs, capMs) < capMs) firstAtCap++;
  return (attempt - firstAtCap) % LOG_EVERY_AT_CAP === 0;
}

/**
 * The bind error as xinetd words it: "Address already in use (errno = 98)". Errors that are
 * not an errno (a host name that does not resolve) keep Node's code and message.
 */
export function bindErrorText(err: NodeJS.ErrnoException): string {
  const code = err.code;
  if (code !== undefined) {
    const errno = errnoOf(code);
    const text = strerror(code);
    if (errno !== undefined && text !== undefined) return `${text} (errno = ${errno})`;
    if (errno !== undefined) return `${code} (errno = ${errno})`;
  }
  return err.message;
}
