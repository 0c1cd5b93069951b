// Token bucket for tsinetd's `per_source_cps = RATE BURST`: each source may open BURST
// connections at once and then RATE per second; an empty bucket refuses that source only,
// never the whole service (unlike xinetd's cps). Pure: the clock is passed in.

export interface Bucket {
  tokens: number;
  /** Monotonic ms of the last refill. */
  last: number;
}

function capacity(burst: number): number {
  return Math.max(1, burst);
}

function refilled(b: Bucket, rate: number, burst: number, nowMs: number): number {
  const elapsed = Math.max(0, nowMs - b.last) / 1000;
  return Math.min(capacity(burst), b.tokens + elapsed * Math.max(0, rate));
}

/** Takes one token if there is one. A source seen for the first time starts full. */
export function bucketTake(bucket: Bucket | undefined, rate: number, burst: number, nowMs: number): { bucket: Bucket; ok: boolean } {
  const tokens = bucket === undefined ? capacity(burst) : refilled(bucket, rate, burst, nowMs);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, last: nowMs }, ok: true };
  return { bucket: { tokens, last: nowMs }, ok: false };
}

/** A bucket that has refilled completely says nothing a fresh one would not: it may be dropped. */
export function bucketIdle(bucket: Bucket, rate: number, burst: number, nowMs: number): boolean {
  return refilled(bucket, rate, burst, nowMs) >= capacity(burst);
}
