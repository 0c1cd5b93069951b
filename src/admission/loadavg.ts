// The 1-minute load average for max_load, without a synchronous file read per connection:
// /proc/loadavg is read asynchronously and cached; a caller always gets the cached value at
// once, and a stale cache starts one background refresh. Where /proc is missing the value
// comes from os.loadavg() (a system call, no file I/O).
//
// Test hook: the environment variable TSINETD_LOADAVG_FILE (options.ts fromEnv()) names a file
// read instead of /proc/loadavg (same format; only the first field is used), so that tests can
// drive max_load.

import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fromEnv, type EnvOptions } from '../app/options.js';

/** The first field of /proc/loadavg ("0.42 0.30 0.25 1/123 4567"), or null. */
export function parseLoadavg(text: string): number | null {
  const first = text.trim().split(/\s+/)[0];
  if (first === undefined || !/^\d+(\.\d+)?$/.test(first)) return null;
  return Number(first);
}

/** The file the load average is read from: $TSINETD_LOADAVG_FILE when set, else /proc/loadavg. */
export function loadavgPath(env: Pick<EnvOptions, 'loadavgFile'> = fromEnv()): string {
  return env.loadavgFile ?? '/proc/loadavg';
}

export interface LoadSourceOptions {
  /** Default: loadavgPath(). */
  path?: string;
  /** How old the cached value may be before a refresh starts (default 1000 ms). */
  maxAgeMs?: number;
  now?: () => number;
  read?: (path: string) => Promise<string>;
  /** Used before the first read completes and when the file cannot be read. */
  fallback?: () => number;
}

export interface LoadSource {
  /** The cached 1-minute load average (never blocks). */
  current(): number;
  /** Reads the file now; resolves when the cache holds the new value. */
  refresh(): Promise<void>;
}

export function createLoadSource(options: LoadSourceOptions = {}): LoadSource {
  const path = options.path ?? loadavgPath();
  const maxAgeMs = options.maxAgeMs ?? 1000;
  const now = options.now ?? (() => performance.now());
  const read = options.read ?? ((p: string) => readFile(p, 'utf8'));
  const fallback = options.fallback ?? (() => loadavg()[0] ?? 0);
  let value: number | null = null;
  let readAt = -Infinity;
  let inFlight: Promise<void> | null = null;

  const refresh = (): Promise<void> => {
    if (inFlight !== null) return inFlight;
    readAt = now();
    inFlight = read(path)
      .then(
        (text) => parseLoadavg(text) ?? fallback(),
        () => fallback(),
      )
      .then((v) => {
        value = v;
        inFlight = null;
      });
    return inFlight;
  };

  return {
    current() {
      if (now() - readAt >= maxAgeMs) void refresh();
      if (value === null) value = fallback();
      return value;
    },
    refresh,
  };
}
