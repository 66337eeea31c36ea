import type { S3EventRecord } from 'aws-lambda';
import { decodeS3EventKey } from '../../functions/core/event';
import type { LocalS3 } from '../../scripts/local/s3-server';

/** Every object-created record a local S3 server emits, in order, with a way to wait for one. */
export const recordLog = (s3: LocalS3) => {
  const records: S3EventRecord[] = [];
  const waiters = new Set<() => void>();
  s3.onObjectCreated((record) => {
    records.push(record);
    for (const wake of [...waiters]) wake();
  });

  const findRecord = (bucket: string, key: string, from: number): S3EventRecord | undefined =>
    records.slice(from).find((r) => r.s3.bucket.name === bucket && decodeS3EventKey(r.s3.object.key) === key);

  /** The first record for bucket/key (decoded) at or after index `from`, waiting for it if need be. */
  const waitForRecord = (bucket: string, key: string, from: number, timeoutMs: number): Promise<S3EventRecord> => {
    const found = findRecord(bucket, key, from);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`No object-created record for s3://${bucket}/${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      const wake = (): void => {
        const record = findRecord(bucket, key, from);
        if (!record) return;
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(record);
      };
      waiters.add(wake);
    });
  };
  return { records, waitForRecord };
};
