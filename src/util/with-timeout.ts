// A promise with a deadline: settles as `p` does, or rejects with `timeoutError()` once `ms`
// have passed. The timer is cleared either way; `unref` lets the process exit while waiting.

export function withTimeout<T>(p: Promise<T>, ms: number, timeoutError: () => Error, opts: { unref?: boolean } = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError()), ms);
    if (opts.unref === true) timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
