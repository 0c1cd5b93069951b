// The words of the xinetd configuration language that attribute values are made of: the
// enumerations some attributes take (canonical spelling), xinetd's internal services, and the
// spelling distance used to suggest a known word for a misspelt one.

import { present } from '../../util/invariant.js';

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  const cell = (j: number): number => present(prev[j], 'a cell for each of 0..b.length');
  for (let i = 1; i <= a.length; i++) {
    let diagonal = cell(0);
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = cell(j);
      prev[j] = Math.min(above + 1, cell(j - 1) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return cell(b.length);
}

// ---- Enumerated values (canonical spelling) -------------------------------------------------

export const SERVICE_TYPES = ['RPC', 'INTERNAL', 'UNLISTED', 'SPECIAL', 'TCPMUX', 'TCPMUXPLUS'] as const;

export const SERVICE_FLAGS = [
  'REUSE',
  'INTERCEPT',
  'NORETRY',
  'IDONLY',
  'NAMEINARGS',
  'NODELAY',
  'KEEPALIVE',
  'NOLIBWRAP',
  'SENSOR',
  'IPv4',
  'IPv6',
  'LABELED',
] as const;

export const SOCKET_TYPES = ['stream', 'dgram', 'raw', 'seqpacket'] as const;

export const LOG_ON_SUCCESS = ['PID', 'HOST', 'USERID', 'EXIT', 'DURATION', 'TRAFFIC'] as const;

export const LOG_ON_FAILURE = ['HOST', 'USERID', 'ATTEMPT'] as const;

/** Internal services xinetd implements, by name (and the socket types it has them for). */
export const XINETD_BUILTINS: Readonly<Record<string, readonly string[]>> = {
  echo: ['stream', 'dgram'],
  discard: ['stream', 'dgram'],
  daytime: ['stream', 'dgram'],
  chargen: ['stream', 'dgram'],
  time: ['stream', 'dgram'],
  servers: ['stream', 'dgram'],
  services: ['stream', 'dgram'],
  xadmin: ['stream'],
  tcpmux: ['stream'],
};

/** The internal services tsinetd answers itself (src/serve/builtins.ts). */
export const TSINETD_BUILTINS: ReadonlySet<string> = new Set(['echo', 'discard', 'daytime', 'chargen', 'time', 'tcpmux']);
