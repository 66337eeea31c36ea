import { stagingKeys } from '../core/job';
import { readIfExists, type StoredObject } from './s3';

/**
 * The pictures prepare staged for a job, each read from S3 at most once per
 * invocation: the model's input is one of them, and the outcome (edge mask,
 * contact sheet) needs both.
 */
export const stagedPictures = (bucket: string, jobId: string) => {
  const keys = stagingKeys(jobId);
  const reads = new Map<string, Promise<StoredObject | undefined>>();
  const read = (key: string): Promise<StoredObject | undefined> => {
    let pending = reads.get(key);
    if (!pending) reads.set(key, (pending = readIfExists(bucket, key)));
    return pending;
  };
  return {
    bucket,
    keys,
    edges: () => read(keys.edges),
    photo: () => read(keys.conditioning),
  };
};
export type StagedPictures = ReturnType<typeof stagedPictures>;
