// proc.mjs - what the benchmark reads from /proc: CPU time and RSS of a process, its children,
// the machine's load average. Every reader returns null when the process is gone.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond = null;

/** Clock ticks per second (utime/stime unit), from getconf; 100 on every Linux seen. */
export function clockTicks() {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Fields of /proc/PID/stat after the command name (field 3, "state", is index 0). */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The process's command name (comm), or null. */
export function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * utime + stime of the whole process (all its threads, living and exited) in seconds.
 * Children's time (cutime/cstime) is left out: per-connection children are not the daemon.
 */
export function cpuSeconds(pid) {
  const f = statFields(pid);
  if (!f) return null;
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/**
 * A CPU-time reading of one process: utime+stime (clock ticks, all threads, living and exited)
 * and, per living thread, its time on CPU in ns from /proc/PID/task/TID/schedstat. Null when
 * the process is gone.
 */
export function cpuReading(pid) {
  const statS = cpuSeconds(pid);
  if (statS === null) return null;
  const threadsNs = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threadsNs.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
      } catch {
        // the thread ended between readdir and read: it is missing from this reading
      }
    }
  } catch {
    return null;
  }
  return { statS, threadsNs };
}

/**
 * CPU seconds between two readings of one process. The per-thread nanosecond figures are used
 * when every thread of the first reading is still there (a thread that started in between
 * counts from zero); otherwise (a thread ended, taking its time with it) the tick-based
 * utime+stime, which is exact to one tick (1/CLK_TCK s) per reading.
 */
export function cpuBetween(a, b) {
  if (!a || !b) return null;
  let ns = 0;
  for (const [tid, before] of a.threadsNs) {
    if (!b.threadsNs.has(tid)) return b.statS - a.statS;
    ns += b.threadsNs.get(tid) - before;
  }
  for (const [tid, after] of b.threadsNs) if (!a.threadsNs.has(tid)) ns += after;
  return ns / 1e9;
}

/** True when every thread of reading a is still in reading b (cpuBetween then uses ns). */
export function threadsKept(a, b) {
  return Boolean(a && b) && [...a.threadsNs.keys()].every((tid) => b.threadsNs.has(tid));
}

/** Identity of a process across PID reuse: "pid:starttime". */
export function identity(pid) {
  const f = statFields(pid);
  return f ? `${pid}:${f[19]}` : null;
}

/** VmRSS in KiB, or null. */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * PIDs whose parent is `pid`. Scans /proc (the kernel here has no /proc/PID/task/TID/children),
 * so call it a few times per server run, not in a sampling loop.
 */
export function childrenOf(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** The 1-minute load average. */
export function loadAverage() {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}
