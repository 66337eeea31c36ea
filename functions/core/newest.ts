/**
 * "The newest upload of a key wins", decided by S3's own order of events on the
 * key, never by which invocation finishes last. S3 gives every event record a
 * `sequencer`: hexadecimal, comparable for one key after left-padding to equal
 * length. A missing sequencer (a job file written before sequencers were
 * recorded) sorts before every real one.
 */
export const compareSequencers = (a: string, b: string): number => {
  const width = Math.max(a.length, b.length);
  const left = a.toUpperCase().padStart(width, '0');
  const right = b.toUpperCase().padStart(width, '0');
  return left < right ? -1 : left > right ? 1 : 0;
};

export const isNewer = (candidate: string, than: string): boolean => compareSequencers(candidate, than) > 0;
