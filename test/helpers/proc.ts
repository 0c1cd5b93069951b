// What /proc says about processes and sockets, for tests that look at the daemon and its helper from outside.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses):
 * [0] is the state, [1] the parent, [11] and [12] user and system CPU time in clock ticks.
 * Throws when the process is gone.
 */
export function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User plus system CPU time of a process, in clock ticks. */
export function cpuTicksOf(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/** Pids whose parent is `ppid` (zombies included). */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(name)[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The daemon's spawn helper (native/spawnd), or null when it runs none (the Node spawner). */
export function spawnHelperOf(daemonPid: number): number | null {
  for (const pid of childrenOf(daemonPid)) {
    try {
      if (readlinkSync(`/proc/${pid}/exe`).endsWith('tsinetd-spawnd')) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/** The inodes of the sockets listening on TCP `port` (/proc/net/tcp and tcp6, state 0A). */
export function listeningInodes(port: number): Set<string> {
  return listeningInodesByPort([port]).get(port) ?? new Set<string>();
}

/** The inodes of the sockets open in processes `pids` (from their /proc/PID/fd links). */
export function socketInodesOf(pids: Iterable<number>): Set<string> {
  const out = new Set<string>();
  for (const pid of pids) {
    for (const fd of descriptors(pid)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) out.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

/**
 * listeningInodes() for many ports, reading the tables once: port -> inodes (empty when nothing
 * listens). With `owners`, only the sockets those processes hold: a test process elsewhere, or a
 * benchmark, may listen on the same port number meanwhile.
 */
export function listeningInodesByPort(ports: Iterable<number>, owners?: Iterable<number>): Map<number, Set<string>> {
  const mine = owners === undefined ? null : socketInodesOf(owners);
  const out = new Map<number, Set<string>>();
  for (const port of ports) out.set(port, new Set<string>());
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (mine !== null && !mine.has(f[9]!)) continue;
      out.get(parseInt(f[1]!.split(':')[1]!, 16))?.add(f[9]!);
    }
  }
  return out;
}

/** The descriptor numbers open in process `pid` (none once it is gone). */
export function descriptors(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map(Number);
  } catch {
    return [];
  }
}

export function softFdLimit(pid: number): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
  assert.ok(m !== null, `no descriptor limit in /proc/${pid}/limits`);
  return Number(m[1]);
}

/** Sets the soft RLIMIT_NOFILE of a running process; the hard limit stays, so it can be raised back. */
export function setSoftFdLimit(pid: number, soft: number): void {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `prlimit: ${r.stderr}`);
  assert.equal(softFdLimit(pid), soft);
}

/** The limit that leaves exactly `free` unused descriptor numbers below it (the limit bounds numbers, not counts). */
export function limitLeaving(used: readonly number[], free: number): number {
  const taken = new Set(used);
  let left = free;
  for (let n = 0; ; n++) {
    if (taken.has(n)) continue;
    if (left === 0) return n;
    left--;
  }
}

export function havePrlimit(): boolean {
  return spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0;
}
