/**
 * Maps `source` through `fn` with at most `limit` calls running at once, yielding results
 * as they finish (not in source order). Pulls from `source` only when a slot is free, so
 * a stream stays a stream. If a call throws, the error is thrown once the others settle.
 */
export async function* mapConcurrent<T, R>(source: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  if (limit <= 1) {
    for await (const item of source) yield await fn(item);
    return;
  }
  type Settled = { key: number; ok: true; value: R } | { key: number; ok: false; error: unknown };
  const running = new Map<number, Promise<Settled>>();
  const iterator = source[Symbol.asyncIterator]();
  let nextKey = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.size < limit) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const key = nextKey++;
        running.set(
          key,
          fn(next.value).then(
            (value): Settled => ({ key, ok: true, value }),
            (error): Settled => ({ key, ok: false, error }),
          ),
        );
      }
      if (running.size === 0) return;
      const settled = await Promise.race(running.values());
      running.delete(settled.key);
      if (!settled.ok) throw settled.error;
      yield settled.value;
    }
  } finally {
    await Promise.allSettled(running.values());
    if (!exhausted) await iterator.return?.();
  }
}
