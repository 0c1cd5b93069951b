// Bounds the FAIL lines a flood can write, without hiding who was refused.
//
// Design: one token bucket per (service id, source, reason): the first `burst` lines (5)
// are written, then at most `perSecond` (1) per second; the lines in between are counted,
// not written. The next written line for that key carries the count (`suppressed`), so the
// log can say "N similar FAIL lines suppressed"; keys that go quiet with a count are
// reported by flush() (call it every few seconds). A second, global bucket (`globalBurst`,
// `globalPerSecond`) caps the total when a flood comes from many sources at once (their
// counts are kept per key, as above). Memory is bounded by `maxKeys`: an evicted key with
// a count is not lost but reported by the next flush(). The first FAIL line from every
// source is always written (unless the global cap is hit), so fail2ban still sees each
// offender.

import { bucketTake, bucketIdle, type Bucket } from '../admission/token-bucket.js';

export interface FailLogLimits {
  burst: number;
  perSecond: number;
  globalBurst: number;
  globalPerSecond: number;
  maxKeys: number;
}

export const DEFAULT_FAIL_LOG_LIMITS: FailLogLimits = {
  burst: 5,
  perSecond: 1,
  globalBurst: 200,
  globalPerSecond: 50,
  maxKeys: 4096,
};

export interface FailLogKey {
  serviceId: string;
  source: string;
  reason: string;
}

/** write: the line is written; `suppressed` similar lines were dropped since the last one. */
export type FailLogVerdict = { write: true; suppressed: number } | { write: false };

export interface SuppressedReport extends FailLogKey {
  count: number;
}

interface Entry {
  key: FailLogKey;
  bucket: Bucket | undefined;
  suppressed: number;
}

export class FailLogLimiter {
  private readonly entries = new Map<string, Entry>();
  private global: Bucket | undefined;
  private pending: SuppressedReport[] = [];

  constructor(
    private readonly now: () => number,
    readonly limits: FailLogLimits = DEFAULT_FAIL_LOG_LIMITS,
  ) {}

  /** Decides one FAIL line. */
  decide(key: FailLogKey): FailLogVerdict {
    const now = this.now();
    const id = `${key.serviceId}\u0000${key.source}\u0000${key.reason}`;
    let entry = this.entries.get(id);
    if (entry === undefined) {
      entry = { key: { ...key }, bucket: undefined, suppressed: 0 };
    } else {
      this.entries.delete(id); // re-inserted below: most recent last
    }
    this.entries.set(id, entry);
    if (this.entries.size > this.limits.maxKeys) this.evict();

    const own = bucketTake(entry.bucket, this.limits.perSecond, this.limits.burst, now);
    entry.bucket = own.bucket;
    if (!own.ok) {
      entry.suppressed++;
      return { write: false };
    }
    const global = bucketTake(this.global, this.limits.globalPerSecond, this.limits.globalBurst, now);
    this.global = global.bucket;
    if (!global.ok) {
      entry.bucket.tokens += 1; // the line was not written: give the key its token back
      entry.suppressed++;
      return { write: false };
    }
    const suppressed = entry.suppressed;
    entry.suppressed = 0;
    return { write: true, suppressed };
  }

  /**
   * Counts to report now: keys that have been quiet long enough for their bucket to refill,
   * and keys evicted since the last call. Quiet keys are forgotten. With `all` (at shutdown),
   * every count is reported and every key forgotten.
   */
  flush(all = false): SuppressedReport[] {
    const now = this.now();
    const out = this.pending;
    this.pending = [];
    for (const [id, e] of this.entries) {
      if (all || (e.bucket !== undefined && bucketIdle(e.bucket, this.limits.perSecond, this.limits.burst, now))) {
        if (e.suppressed > 0) out.push({ ...e.key, count: e.suppressed });
        this.entries.delete(id);
      }
    }
    return out;
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const target = Math.floor(this.limits.maxKeys * 0.9);
    for (const [id, e] of this.entries) {
      if (this.entries.size <= target) break;
      if (e.suppressed > 0) this.report(e);
      this.entries.delete(id);
    }
  }

  private report(e: Entry): void {
    if (this.pending.length < this.limits.maxKeys) {
      this.pending.push({ ...e.key, count: e.suppressed });
      return;
    }
    // Past the bound, counts are folded into one report per service and reason (source `*`).
    const folded = this.pending.find((p) => p.source === '*' && p.serviceId === e.key.serviceId && p.reason === e.key.reason);
    if (folded !== undefined) folded.count += e.suppressed;
    else this.pending.push({ ...e.key, source: '*', count: e.suppressed });
  }
}
