// The RPC tools the RPC tests use (Debian's rpcbind, rpcinfo, and rpc.rstatd with its client rup,
// which .ci/run unpacks under /opt/rstatd-ref: installing them would add inetd.conf lines), and
// rpcbind's table as `rpcinfo -p` gives it.

import { existsSync } from 'node:fs';
import type { Netns } from './netns.js';

const first = (...paths: string[]): string => paths.find((p) => existsSync(p)) ?? paths[0] ?? '';

export const RPCBIND = '/usr/sbin/rpcbind';
export const RPCINFO = '/usr/sbin/rpcinfo';
export const RSTATD = first('/opt/rstatd-ref/usr/sbin/rpc.rstatd', '/usr/sbin/rpc.rstatd');
export const RUP = first('/opt/rstatd-ref/usr/bin/rup', '/usr/bin/rup');

/** Why the RPC tools cannot be used here (false: they can). */
export function noRpcTools(): string | false {
  for (const p of [RPCBIND, RPCINFO, RSTATD, RUP]) if (!existsSync(p)) return `${p} is not installed`;
  return false;
}

/** `rpcinfo -p 127.0.0.1` as sorted "PROGRAM VERSION PROTO PORT" lines of the programs `progs`, or null when rpcbind does not answer. */
export function rpcMappings(ns: Netns, progs: readonly string[] = ['100001']): string[] | null {
  const r = ns.run([RPCINFO, '-p', '127.0.0.1']);
  if (r.status !== 0) return null;
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => progs.includes(f[0] ?? ''))
    .map((f) => f.slice(0, 4).join(' '))
    .sort();
}
