// One host of one accepted inetd.conf entry, as the entry reader gives it to the step that makes
// Services of it (inetd-build.ts); and the unit a dialect adds of its own (GNU's default tcpmux).

import { diag, type Diagnostic, type SourcePosition } from '../../diagnostics.js';
import type { SocketType, UnixSocket } from '../../table.js';
import type { Family, InetdBuildEnv } from './inetd-fields.js';

/** One host of one accepted entry: what becomes a Service. */
export interface Unit {
  line: number;
  /** Where the service name is written (for replacement warnings). */
  at: SourcePosition;
  host: string; // '*' = every address
  name: string;
  protoWritten: string;
  base: 'tcp' | 'udp';
  families: Set<Family>;
  socketType: SocketType;
  /** 0 for a TCPMUX service (FreeBSD's `tcpmux/NAME`), which has none. */
  port: number;
  /** FreeBSD's `tcpmux/NAME` ('plain') and `tcpmux/+NAME` ('plus'). */
  mux: 'plain' | 'plus' | null;
  /** RPC entries (`rpc/tcp`, `rpc/udp`...): the program and its versions; the port is then 0. */
  rpc: { prog: number; versions: [number, number] } | null;
  wait: boolean;
  user: string;
  group: string | null;
  internal: boolean;
  server: string | null;
  argv: string[];
  rateMax: number | null;
  instances: number | null;
  perSource: number | null;
  perSourcePerMinute: number | null;
  /** The socket file of a `unix` entry (`name` is then its path, or the internal service's name). */
  unix: UnixSocket | null;
  problems: string[];
}

/**
 * GNU inetutils' fix_tcpmux: TCPMUX entries and no internal tcpmux entry make its inetd add one
 * ("inserting default tcpmux entry": the tcpmux port of /etc/services, tcp6 taking IPv4 too,
 * root, nowait), without which the TCPMUX services could not be reached. Measured on Debian's
 * inetutils-inetd 2.4. Said at the first TCPMUX entry.
 */
export function gnuDefaultTcpmux(units: readonly Unit[], env: InetdBuildEnv, diagnostics: Diagnostic[]): Unit[] {
  const first = units.find((u) => u.mux !== null);
  if (first === undefined || units.some((u) => u.internal && u.name === 'tcpmux')) return [];
  const port = env.db.serviceByName('tcpmux', 'tcp')?.port;
  if (port === undefined) {
    const why = 'no internal tcpmux entry, and /etc/services has no tcpmux/tcp for the one GNU inetutils inetd adds: the TCPMUX services cannot be reached';
    diagnostics.push(diag('inetd-field-note', 'warning', first.at, why));
    return [];
  }
  const why = `no internal tcpmux entry: GNU inetutils inetd adds one (port ${port}, IPv4 and IPv6, as root), and so does tsinetd`;
  diagnostics.push(diag('inetd-field-note', 'warning', first.at, why));
  return [
    {
      ...first,
      host: '*',
      name: 'tcpmux',
      mux: null,
      protoWritten: 'tcp6',
      base: 'tcp',
      families: new Set<Family>(['46']),
      socketType: 'stream',
      port,
      rpc: null,
      wait: false,
      user: 'root',
      group: null,
      internal: true,
      server: null,
      argv: [],
      rateMax: null,
      instances: null,
      perSource: null,
      perSourcePerMinute: null,
      unix: null,
      problems: [],
    },
  ];
}
