// What /proc says about processes and sockets, for tests that look at the daemon and its helper from outside.

import { readdirSync, readFileSync } from 'node:fs';

/** Pids whose parent is `ppid` (zombies included). */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The inodes of the sockets listening on TCP `port` (/proc/net/tcp and tcp6, state 0A). */
export function listeningInodes(port: number): Set<string> {
  return listeningInodesByPort([port]).get(port) ?? new Set<string>();
}

/** listeningInodes() for many ports, reading the tables once: port -> inodes (empty when nothing listens). */
export function listeningInodesByPort(ports: Iterable<number>): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const port of ports) out.set(port, new Set<string>());
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      out.get(parseInt(f[1]!.split(':')[1]!, 16))?.add(f[9]!);
    }
  }
  return out;
}
