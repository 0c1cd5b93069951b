// A value the code's own construction guarantees (an index inside the array it came from, a key
// put in the map just before, a regex group that always takes part): `present` states that
// invariant in words and throws an Error naming it if it is ever broken, where `x!` would let
// `undefined` run on silently.

/** `value`, known to be there because `invariant` holds; an Error naming the invariant if not. */
export function present<T>(value: T | null | undefined, invariant: string): T {
  if (value === undefined || value === null) throw new Error(`internal error: expected ${invariant}`);
  return value;
}
