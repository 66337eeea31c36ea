import { setTimeout as sleep } from 'node:timers/promises';
import { PipelineError } from '../core/errors';
import type { PlannedOutcome } from '../core/outcome';
import {
  judgePublication,
  parsePublication,
  publicationKey,
  PublicationState,
  PublishVerdict,
  type Contender,
  type Publication,
} from '../core/publication';
import { deleteObject, listFolder, readVersioned, writeIf, writeObject } from './s3';

/** How long a publisher waits for another one writing the same folder before leaving it to the next delivery. */
const WAIT_MS = 15_000;
const POLL_MS = 250;

export interface PublishRequest extends Contender {
  readonly stagingBucket: string;
  readonly outputBucket: string;
  readonly jobId: string;
  readonly leaseUntil: Date;
}

export type Published = Exclude<PublishVerdict, 'wait'>;

const body = (record: Publication): string => `${JSON.stringify(record)}\n`;

/** The record of `folder`, or undefined when nothing was ever published there. */
export const readPublication = async (stagingBucket: string, folder: string): Promise<Publication | undefined> => {
  const found = await readVersioned(stagingBucket, publicationKey(folder));
  return found ? parsePublication(found.text) : undefined;
};

/**
 * Publishes a planned outcome into its output folder unless a newer upload of
 * the key owns the folder. The folder is replaced as a whole: its manifest goes
 * first (so it never vouches for a half-written folder), then every file the new
 * outcome does not have, then the new files, and the manifest last.
 */
export const publishOutcome = async (plan: PlannedOutcome, request: PublishRequest): Promise<Published> => {
  const key = publicationKey(plan.folder);
  const giveUpAt = Date.now() + WAIT_MS;
  for (;;) {
    const found = await readVersioned(request.stagingBucket, key);
    const record = found ? parsePublication(found.text) : undefined;
    const verdict = judgePublication(record, request, new Date());
    if (verdict === PublishVerdict.SUPERSEDED || verdict === PublishVerdict.ALREADY_PUBLISHED) return verdict;
    if (verdict === PublishVerdict.WAIT) {
      if (Date.now() > giveUpAt) {
        throw new PipelineError('SERVICE_UNAVAILABLE', `Another invocation is still writing ${plan.folder}; leaving this outcome to the next delivery`);
      }
      await sleep(POLL_MS);
      continue;
    }
    const holding: Publication = {
      version: 1,
      folder: plan.folder,
      state: PublicationState.PUBLISHING,
      sequencer: request.sequencer,
      fingerprint: request.fingerprint,
      jobId: request.jobId,
      owner: request.owner,
      leaseUntil: request.leaseUntil.toISOString(),
      updatedAt: new Date().toISOString(),
    };
    const eTag = await writeIf(request.stagingBucket, key, body(holding), found ? { ifMatch: found.eTag } : { ifNoneMatch: true });
    // Another writer changed the record between our read and write: judge again.
    if (eTag === undefined) continue;

    try {
      await replaceFolder(plan, request.outputBucket);
    } catch (error) {
      // Give the folder back at once, so the retry of this delivery need not wait for the lease to run out.
      const released: Publication = { ...holding, leaseUntil: new Date(0).toISOString(), updatedAt: new Date().toISOString() };
      await writeIf(request.stagingBucket, key, body(released), { ifMatch: eTag }).catch(() => undefined);
      throw error;
    }
    const done: Publication = { ...holding, state: PublicationState.PUBLISHED, updatedAt: new Date().toISOString() };
    // Only a holder whose lease ran out can lose this race, and then the folder is the newer holder's to fix.
    await writeIf(request.stagingBucket, key, body(done), { ifMatch: eTag });
    return PublishVerdict.PUBLISH;
  }
};

const replaceFolder = async (plan: PlannedOutcome, bucket: string): Promise<void> => {
  const wanted = new Set([...plan.files.map((file) => file.key), plan.manifest.key]);
  const present = await listFolder(bucket, plan.folder);
  if (present.includes(plan.manifest.key)) await deleteObject(bucket, plan.manifest.key);
  await Promise.all(present.filter((key) => !wanted.has(key)).map((key) => deleteObject(bucket, key)));
  await Promise.all(plan.files.map((file) => writeObject(bucket, file.key, file.body, file.contentType)));
  await writeObject(bucket, plan.manifest.key, plan.manifest.body, plan.manifest.contentType);
};
