import { createHash } from 'node:crypto';

/**
 * The seed for image `index` of a job. Without a user seed it is derived from
 * the job id, so every job gets its own (never one per warm container) and a
 * retried job repeats its picture. Never 0: Stability reads 0 as "random",
 * which would make the recorded seed a lie.
 */
export const seedFor = (jobId: string, index: number, max: number, userSeed?: number): number => {
  if (userSeed !== undefined) return index === 0 ? userSeed : ((userSeed + index - 1) % max) + 1;
  const digest = createHash('sha256').update(`${jobId}:${index}`).digest();
  return (digest.readUInt32BE(0) % max) + 1;
};
