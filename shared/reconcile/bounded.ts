// Ordered, bounded-concurrency map over an async iterable: at most `concurrency` calls of
// `fn` run at once, the source is pulled only as slots free up (so a listing is read page
// by page, never all at once), and results come out in source order.

export async function* mapBounded<T, R>(source: AsyncIterable<T>, concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const limit = Math.max(1, Math.floor(concurrency));
  const inFlight: Promise<R>[] = [];
  try {
    for await (const item of source) {
      const running = fn(item);
      // Awaited in order below; this only keeps a rejection that arrives while an earlier
      // result is awaited from being reported as unhandled.
      running.catch(() => {});
      inFlight.push(running);
      if (inFlight.length >= limit) yield await inFlight.shift()!;
    }
    while (inFlight.length > 0) yield await inFlight.shift()!;
  } finally {
    // Consumer stopped early or the source failed: let started calls finish quietly.
    await Promise.allSettled(inFlight);
  }
}
