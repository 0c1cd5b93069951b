// What the daemon reports on request: xinetd's consistency check (-cc N every N seconds, and
// SIGABRT; consistency.ts decides, this runs it one at a time and logs) and the SIGUSR1 dump of
// the service table.

import { reportConsistency, runConsistencyCheck, type CheckKind, type ConsistencyInput } from '../ops/consistency.js';
import { message } from './daemon-services.js';
import { formatServiceDump } from '../ops/dump.js';
import type { Say } from '../message-codes.js';
import type { DaemonOptions } from './options.js';
import { appendFileForDaemon } from '../sys/safe-open.js';
import type { ServerHandle } from '../serve/server-types.js';
import type { ServiceTable } from '../table.js';

/** What the reports look at, read when they run. */
export interface ReportSource {
  readonly handle: ServerHandle | null;
  readonly table: ServiceTable;
  readonly stopping: boolean;
  /** The state the consistency check looks at (null while it must not look). */
  consistencyInput(): ConsistencyInput | null;
}

export class DaemonReports {
  private checking = false;
  /** -cc N: the periodic consistency check. */
  private ccTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: DaemonOptions,
    private readonly source: ReportSource,
    private readonly daemon: Say,
  ) {}

  /** Starts the periodic check of -cc N. */
  startPeriodic(): void {
    // -cc 0 would make xinetd check without pause (a busy loop): here it means no periodic check.
    if (this.opts.cc !== null && this.opts.cc > 0) this.ccTimer = setInterval(() => void this.consistencyCheck('periodic'), this.opts.cc * 1000);
  }

  stopPeriodic(): void {
    if (this.ccTimer !== null) clearInterval(this.ccTimer);
    this.ccTimer = null;
  }

  /** -cc N and SIGABRT: xinetd's consistency check (consistency.ts). */
  async consistencyCheck(kind: CheckKind): Promise<void> {
    if (this.checking || this.source.stopping) return;
    this.checking = true;
    try {
      const problems = await runConsistencyCheck(() => this.source.consistencyInput());
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the daemon may have begun to stop during the await; TypeScript keeps the narrowing from before it
      if (this.source.stopping) return;
      if (problems === null) {
        if (kind === 'requested') this.daemon('consistency-skipped', 'info', 'Consistency check skipped: reconfiguration in progress', 'consistency_check');
        return;
      }
      reportConsistency(problems, kind, this.opts.debug, {
        // Each problem found, then the outcome in xinetd's words.
        error: (m, func) => this.daemon('consistency-problem', 'error', m, func),
        warning: (m, func) => this.daemon('consistency-check', 'warning', m, func),
        info: (m, func) => this.daemon('consistency-check', 'info', m, func),
      });
    } finally {
      this.checking = false;
    }
  }

  /** SIGUSR1: a text dump of the service table appended to the dump file (dump.ts). */
  dump(): void {
    const handle = this.source.handle;
    if (handle === null) return;
    const file = this.opts.dumpFile;
    try {
      const regs = handle.rpcRegistrations();
      const text = formatServiceDump(this.source.table, new Date(), {
        runningServers: (s) => handle.runningServers(s),
        rpcRegistrations: (s) => regs.filter((r) => r.serviceId === s.id).map((r) => r.rpcb),
      });
      const written = appendFileForDaemon(file, text);
      if (written.ok) this.daemon('state-dump', 'info', `generated state dump in file ${file}`, 'dump_internal_state');
      else this.daemon('state-dump-failed', 'error', `cannot write the state dump to ${file}: ${written.reason}`, 'dump_internal_state');
    } catch (err) {
      this.daemon('state-dump-failed', 'error', `cannot write the state dump to ${file}: ${message(err)}`, 'dump_internal_state');
    }
  }
}
