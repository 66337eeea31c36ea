/**
 * Maps with at most `limit` promises pending; results keep the input order.
 * After a failure no new item starts, but those in flight are awaited before
 * the first error is thrown: nothing keeps running behind the caller's back.
 */
export const mapLimit = async <T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> => {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Expected integer of at least 1 for limit but received ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
};
