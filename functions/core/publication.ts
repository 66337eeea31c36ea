import { createHash } from 'node:crypto';
import { PipelineError } from './errors';
import { inArray, plainObject, string } from './is';
import { Staging } from './layout';
import { compareSequencers } from './newest';

/**
 * Which upload's outcome an output folder shows. One small record per folder in
 * the staging bucket, changed only with conditional writes, serialises the
 * writers of a folder and makes the newest upload win:
 * - an outcome is published only by the holder of the record (a lease, like a claim's);
 * - the record's sequencer only grows, so an older upload finishing late finds a newer
 *   one recorded and publishes nothing;
 * - `published` says the folder is complete for that upload, so a duplicate delivery is a no-op.
 */
export const PublicationState = {
  /** Its holder is replacing the folder's contents until `leaseUntil`. */
  PUBLISHING: 'publishing',
  /** The folder holds exactly this upload's outcome. */
  PUBLISHED: 'published',
} as const;
export type PublicationState = (typeof PublicationState)[keyof typeof PublicationState];

export interface Publication {
  readonly version: 1;
  readonly folder: string;
  readonly state: PublicationState;
  /** The upload whose outcome the folder shows or is being given. */
  readonly sequencer: string;
  /** The request (model, picture, parameters) whose outcome it is: a redelivered job with other settings publishes again. */
  readonly fingerprint: string;
  readonly jobId: string;
  readonly owner: string;
  readonly leaseUntil: string;
  readonly updatedAt: string;
}

/** The record's key: a hash, because folders can be near S3's key-length limit. */
export const publicationKey = (folder: string): string =>
  `${Staging.OUTCOMES_PREFIX}${createHash('sha256').update(folder, 'utf8').digest('hex').slice(0, 40)}.json`;

export interface Contender {
  readonly sequencer: string;
  readonly fingerprint: string;
  readonly owner: string;
}

export const PublishVerdict = {
  /** Free, or held for an older upload by someone whose time ran out, or ours: write the folder. */
  PUBLISH: 'publish',
  /** A newer upload of the key is recorded: this outcome must never replace it. */
  SUPERSEDED: 'superseded',
  /** This upload's outcome for this request is already complete in the folder. */
  ALREADY_PUBLISHED: 'already-published',
  /** Another invocation is writing the folder right now: wait, then judge again. */
  WAIT: 'wait',
} as const;
export type PublishVerdict = (typeof PublishVerdict)[keyof typeof PublishVerdict];

export const judgePublication = (record: Publication | undefined, contender: Contender, now: Date): PublishVerdict => {
  if (!record) return PublishVerdict.PUBLISH;
  const order = compareSequencers(record.sequencer, contender.sequencer);
  if (order > 0) return PublishVerdict.SUPERSEDED;
  if (order === 0 && record.state === PublicationState.PUBLISHED && record.fingerprint === contender.fingerprint) {
    return PublishVerdict.ALREADY_PUBLISHED;
  }
  const held = record.state === PublicationState.PUBLISHING && record.owner !== contender.owner && Date.parse(record.leaseUntil) > now.getTime();
  return held ? PublishVerdict.WAIT : PublishVerdict.PUBLISH;
};

/** Whether a job need not even be generated: a newer upload of its key is already recorded. */
export const isSuperseded = (record: Publication | undefined, sequencer: string): boolean =>
  record !== undefined && compareSequencers(record.sequencer, sequencer) > 0;

export const parsePublication = (text: string): Publication => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PipelineError('INVALID_JOB', 'Outcome record is not JSON', { cause: error });
  }
  if (
    !plainObject(value) ||
    value.version !== 1 ||
    !string(value.folder) ||
    !inArray(value.state, Object.values(PublicationState)) ||
    !string(value.sequencer) ||
    !string(value.fingerprint) ||
    !string(value.owner) ||
    !string(value.leaseUntil)
  ) {
    throw new PipelineError('INVALID_JOB', 'Outcome record is malformed');
  }
  return value as unknown as Publication;
};
