// A map that never holds more than a set number of entries, for state kept per client or per
// pid that an attacker or a storm could otherwise grow without end (one definition: the rate
// tables, the verified host names, parsed peers, exits that come before their spawn's answer).

/**
 * A map that never holds more than `max` entries: reading or writing an entry makes it the
 * most recent; when full, entries that `isIdle` says carry no information are dropped first,
 * then the least recently used ones (a flood from many addresses costs memory only up to the
 * bound, and only makes a limit more lenient).
 */
export class BoundedTable<V, K = string> {
  private readonly map = new Map<K, V>();

  constructor(
    readonly max: number,
    private readonly isIdle: (value: V) => boolean = () => false,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.shrink();
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  /** Drops idle entries; then, while still above 90% of the bound, the oldest ones. */
  shrink(): void {
    for (const [k, v] of this.map) if (this.isIdle(v)) this.map.delete(k);
    const target = Math.floor(this.max * 0.9);
    for (const k of this.map.keys()) {
      if (this.map.size <= target) break;
      this.map.delete(k);
    }
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }
}
