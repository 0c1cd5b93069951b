// A function's answers kept for the length of one pass (a load, a reload), for work that many
// calls ask of the same key: the server program many services share, the socket identity a
// reload asks of each service several times. Unbounded: made afresh for each pass and let go
// with it (state kept across passes, or per client, goes in a BoundedTable).

/** `fn`, asked at most once per key (null and undefined answers are kept too). */
export function oncePerKey<K, V>(fn: (key: K) => V): (key: K) => V {
  const seen = new Map<K, V>();
  return (key) => {
    if (seen.has(key)) return seen.get(key) as V;
    const value = fn(key);
    seen.set(key, value);
    return value;
  };
}
