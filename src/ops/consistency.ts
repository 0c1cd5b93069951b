// The consistency check of the daemon's own state: `-cc N` runs it every N seconds, SIGABRT
// (SIGIOT) once, like xinetd's internals.c. It verifies invariants that must hold whatever the
// traffic:
//   - every socket belongs to a service being served, at most one per service, and is open
//     exactly when its service is listening (not while cps has switched it off);
//   - every server program counted as running still exists (a lost exit would hold an
//     instances / per_source / -limit slot for ever);
//   - admission's running counts cover the servers known to run, add up to its total, and stay
//     within each service's `instances` and the -limit process limit.
// Reports use xinetd's words: one ERROR line per problem, then "Consistency check detected N
// errors" (WARNING), or "Consistency check passed" (INFO) when asked for by a signal or in
// debug mode (a periodic check that passes is silent, as in xinetd).
// checkConsistency() is pure; runConsistencyCheck() samples twice, a moment apart, and reports
// only the problems seen both times: a server that has just exited or a socket being reopened
// is a state in passing, not an inconsistency.

import type { AdmissionSnapshot } from '../admission/admission.js';
import { runsCountedServer } from '../admission/limits.js';
import type { ServingState } from '../serve/server-types.js';
import type { Service } from '../table.js';

export interface ConsistencyProblem {
  /** Identifies the problem across two samples (the message may carry changing counts). */
  key: string;
  /** xinetd-like function tag for the daemon line. */
  func: string;
  message: string;
}

export interface ConsistencyInput {
  /** The services the daemon means to serve now. */
  served: readonly Service[];
  serving: ServingState;
  /** Admission's counts (null when admission keeps none). */
  admission: AdmissionSnapshot | null;
  /** -limit N (null: none). */
  processLimit: number | null;
  /** Whether a process exists (kill(pid, 0)). */
  alive: (pid: number) => boolean;
}

function add(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** The problems of one sample of the daemon's state (empty: consistent). */
export function checkConsistency(input: ConsistencyInput): ConsistencyProblem[] {
  const out: ConsistencyProblem[] = [];
  const served = new Map(input.served.map((s) => [s.id, s]));

  // Sockets.
  // Per service and address (a service may have one socket per address family).
  const sockets = new Map<string, { id: string; count: number }>();
  for (const l of input.serving.listeners) {
    const where = `${l.id}\n${l.socket ?? ''}`;
    const seen = sockets.get(where);
    if (seen === undefined) sockets.set(where, { id: l.id, count: 1 });
    else seen.count++;
    if (!served.has(l.id)) {
      out.push({ key: `orphan ${l.id}`, func: 'consistency_check', message: `a socket is open for service ${l.id}, which is not served` });
    }
    if (l.state === 'active' && !l.hasSocket) {
      out.push({ key: `nosocket ${l.id}`, func: 'thread_check', message: `Active service ${l.id}: listening, but its socket is closed` });
    } else if ((l.state === 'suspended' || l.state === 'retrying') && l.hasSocket) {
      out.push({ key: `suspended ${l.id}`, func: 'thread_check', message: `service ${l.id} is switched off, but its socket is open` });
    } else if (l.state === 'new' || l.state === 'closed') {
      out.push({ key: `state ${l.id}`, func: 'thread_check', message: `service ${l.id} not started (socket state ${l.state})` });
    }
  }
  for (const { id, count: n } of sockets.values()) {
    if (n > 1) out.push({ key: `dup ${id}`, func: 'consistency_check', message: `service ${id} has ${n} sockets` });
  }

  // Server programs.
  const programs = new Map<string, number>();
  for (const s of input.serving.servers) {
    add(programs, s.id);
    if (!input.alive(s.pid)) {
      out.push({ key: `dead ${s.pid}`, func: 'consistency_check', message: `service ${s.id}: server ${s.pid} is counted as running but does not exist` });
    }
  }

  // Admission's accounting.
  const a = input.admission;
  if (a !== null) {
    let sum = 0;
    for (const n of Object.values(a.running)) sum += n;
    if (sum !== a.runningTotal) {
      out.push({
        key: 'total',
        func: 'consistency_check',
        message: `total running servers (${sum}) != number of running servers (${a.runningTotal})`,
      });
    }
    if (input.processLimit !== null && input.processLimit > 0 && a.runningTotal > input.processLimit) {
      out.push({
        key: 'limit',
        func: 'consistency_check',
        message: `${a.runningTotal} running servers exceed the process limit (-limit ${input.processLimit})`,
      });
    }
    const ids = new Set([...programs.keys(), ...input.serving.inProcess.keys()]);
    for (const id of ids) {
      const service = served.get(id);
      const counted = (programs.get(id) ?? 0) + (service === undefined || runsCountedServer(service) ? (input.serving.inProcess.get(id) ?? 0) : 0);
      const known = a.running[id] ?? 0;
      if (counted > known) {
        out.push({
          key: `count ${id}`,
          func: 'service_count_check',
          message: `service ${id}: actual running servers = ${counted}, known running servers = ${known}`,
        });
      }
    }
    for (const [id, n] of Object.entries(a.running)) {
      const limit = served.get(id)?.instances ?? null;
      if (limit !== null && n > limit) {
        out.push({ key: `instances ${id}`, func: 'service_count_check', message: `service ${id}: ${n} running servers exceed instances = ${limit}` });
      }
    }
  }
  return out;
}

/** The problems present in both samples (the later sample's wording). */
export function persistent(first: readonly ConsistencyProblem[], second: readonly ConsistencyProblem[]): ConsistencyProblem[] {
  const keys = new Set(first.map((p) => p.key));
  return second.filter((p) => keys.has(p.key));
}

export type CheckKind = 'periodic' | 'requested';

export interface ConsistencyReporter {
  error(message: string, func: string): void;
  warning(message: string, func: string): void;
  info(message: string, func: string): void;
}

/** The daemon lines of a finished check, in xinetd's words. */
export function reportConsistency(problems: readonly ConsistencyProblem[], kind: CheckKind, debug: boolean, r: ConsistencyReporter): void {
  for (const p of problems) r.error(p.message, p.func);
  if (problems.length > 0) r.warning(`Consistency check detected ${problems.length} error${problems.length === 1 ? '' : 's'}`, 'consistency_check');
  else if (kind === 'requested' || debug) r.info('Consistency check passed', 'consistency_check');
}

/**
 * Samples the state (`sample` is called again after `graceMs` when the first sample shows
 * problems) and resolves with the problems seen both times; null when there is nothing to
 * check now (`sample` returned null: stopping, or a reload in progress).
 */
export async function runConsistencyCheck(sample: () => ConsistencyInput | null, graceMs = 500): Promise<ConsistencyProblem[] | null> {
  const a = sample();
  if (a === null) return null;
  const first = checkConsistency(a);
  if (first.length === 0) return [];
  await new Promise<void>((resolve) => setTimeout(resolve, graceMs));
  const b = sample();
  return b === null ? null : persistent(first, checkConsistency(b));
}

/** kill(pid, 0): true when the process exists (EPERM: it exists, owned by someone else). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
