import { createHash } from 'node:crypto';
import { FailureReason, PipelineError, retriedOnReupload, type FailureReport } from './errors';
import { integer, inArray, plainObject, string } from './is';
import type { Job } from './job';
import { Staging } from './layout';
import type { GeneratedImages } from './models/adapter';
import { isNewer } from './newest';

/**
 * Exactly-once generation on top of at-least-once delivery: before calling the
 * model, generate claims the request with a conditional write (`If-None-Match: *`)
 * of a small object. S3 lets one writer win. Every answer the model gives is kept
 * beside the claim before anything else is written, so a retry after any later
 * failure, a duplicate event and a re-upload of the same bytes with the same
 * settings read the kept answer instead of paying for it again.
 */
export const ClaimState = {
  /** A generate invocation holds it until `leaseUntil`. */
  RUNNING: 'running',
  /** Given back after a transient failure, so a retry may take over at once. */
  RELEASED: 'released',
  /** Every call has a kept answer (or a kept failure); the outcome was handed to publishing. */
  DONE: 'done',
} as const;
export type ClaimState = (typeof ClaimState)[keyof typeof ClaimState];

export interface Claim {
  readonly version: 1;
  readonly state: ClaimState;
  /** The queue message whose receive holds or held it. */
  readonly owner: string;
  /** The sequencer of the upload whose job holds or held it. */
  readonly sequencer?: string;
  readonly leaseUntil: string;
  /** Generate invocations that have held it. */
  readonly invocations: number;
  /** InvokeModel attempts spent or reserved so far, across invocations: the budget's meter. */
  readonly modelCalls: number;
  readonly updatedAt: string;
}

/**
 * What makes two jobs "the same request": the model, the prepared picture
 * (same job id = same bucket, key and ETag) and every parameter. The same bytes
 * uploaded again with a new prompt are a new request.
 */
export const requestFingerprint = (job: Job, modelId: string): string => {
  const settings = job.status === 'ready' ? { parameters: job.parameters, size: job.conditioning.size } : { failure: job.failure.reason };
  return createHash('sha256').update(JSON.stringify({ modelId, jobId: job.jobId, ...settings })).digest('hex').slice(0, 24);
};

export const claimKey = (jobId: string, fingerprint: string): string => `${Staging.CLAIMS_PREFIX}${jobId}/${fingerprint}.json`;

export const Verdict = {
  /** Another invocation is working on the same upload right now: nothing to do. */
  DUPLICATE_RUNNING: 'duplicate-running',
  /**
   * Another invocation holds the request for an older upload of the same bytes: this newer
   * upload must still be published, so its delivery is retried once the holder is done.
   */
  BUSY: 'busy',
  /** Free, released, finished, or its holder's time ran out: take it. */
  TAKE_OVER: 'take-over',
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export const judgeExistingClaim = (claim: Claim, now: Date, owner: string, sequencer: string): Verdict => {
  if (claim.state !== ClaimState.RUNNING) return Verdict.TAKE_OVER;
  // A queue message is received again only after its visibility timeout, longer than the function's
  // timeout, so its earlier receive has ended: a claim still "running" under it was left by a crash.
  if (claim.owner === owner) return Verdict.TAKE_OVER;
  if (Date.parse(claim.leaseUntil) <= now.getTime()) return Verdict.TAKE_OVER;
  return isNewer(sequencer, claim.sequencer ?? '') ? Verdict.BUSY : Verdict.DUPLICATE_RUNNING;
};

export const parseClaim = (text: string): Claim => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PipelineError('INVALID_JOB', 'Claim file is not JSON', { cause: error });
  }
  if (
    !plainObject(value) ||
    value.version !== 1 ||
    !inArray(value.state, Object.values(ClaimState)) ||
    !string(value.owner) ||
    !string(value.leaseUntil) ||
    !integer(value.invocations) ||
    !integer(value.modelCalls)
  ) {
    throw new PipelineError('INVALID_JOB', 'Claim file is malformed');
  }
  return value as unknown as Claim;
};

/**
 * The per-job cap on InvokeModel attempts. Each call reserves the SDK's
 * maximum attempts before it starts and settles to what it used, so neither
 * SDK retries nor Lambda retries can take a job past the cap.
 */
export class CallBudget {
  private spent: number;
  private reserved = 0;

  constructor(
    readonly cap: number,
    alreadySpent: number,
    private readonly attemptsPerCall: number,
  ) {
    this.spent = alreadySpent;
  }

  /** Spent plus reserved: what the claim records before a call, so a crash cannot undercount. */
  get committed(): number {
    return this.spent + this.reserved;
  }

  reserve(): void {
    if (this.committed + this.attemptsPerCall > this.cap) {
      throw new PipelineError(
        'CALL_BUDGET_EXHAUSTED',
        `Stopped before another model call: ${this.committed} of at most ${this.cap} model calls for this upload are used (MAX_MODEL_CALLS_PER_JOB)`,
      );
    }
    this.reserved += this.attemptsPerCall;
  }

  /** `attempts` undefined: the SDK did not say, count the whole reservation. */
  settle(attempts: number | undefined): void {
    this.reserved -= this.attemptsPerCall;
    this.spent += Math.min(this.attemptsPerCall, attempts ?? this.attemptsPerCall);
  }
}

/** Where the answer to call `index` of a claimed request is kept. */
export const answerKey = (claimKey: string, index: number): string => `${claimKey.replace(/\.json$/, '')}/answer-${index}.json`;

/** What one model call ended with, kept before anything else is written. */
export interface KeptAnswer {
  readonly generated: GeneratedImages;
  /** A permanent failure of this call (moderation, a model error, …): no images. */
  readonly failure?: FailureReport;
  /** The upload whose job made the call. */
  readonly sequencer: string;
  /** What a local stand-in said about itself in its answer: nothing was generated by a model. */
  readonly standIn?: string;
}

interface StoredAnswer {
  readonly images: readonly string[];
  readonly seeds?: readonly number[];
  readonly blocked: number;
  readonly failure?: FailureReport;
  readonly sequencer?: string;
  readonly standIn?: string;
}

export const encodeKeptAnswer = (kept: KeptAnswer): string => {
  const stored: StoredAnswer = {
    images: kept.generated.images.map((bytes) => Buffer.from(bytes).toString('base64')),
    blocked: kept.generated.blocked,
    ...(kept.generated.seeds ? { seeds: kept.generated.seeds } : {}),
    ...(kept.failure ? { failure: kept.failure } : {}),
    sequencer: kept.sequencer,
    ...(kept.standIn ? { standIn: kept.standIn } : {}),
  };
  return JSON.stringify(stored);
};

export const decodeKeptAnswer = (text: string): KeptAnswer => {
  let stored: StoredAnswer;
  try {
    stored = JSON.parse(text) as StoredAnswer;
  } catch (error) {
    throw new PipelineError('INVALID_JOB', 'Kept model answer is not JSON', { cause: error });
  }
  if (!plainObject(stored) || !Array.isArray(stored.images) || !stored.images.every(string) || !integer(stored.blocked)) {
    throw new PipelineError('INVALID_JOB', 'Kept model answer is malformed');
  }
  if (stored.failure !== undefined && (!plainObject(stored.failure) || !inArray(stored.failure.reason, Object.keys(FailureReason)) || !string(stored.failure.message))) {
    throw new PipelineError('INVALID_JOB', 'Kept model answer has a malformed failure');
  }
  return {
    generated: {
      images: stored.images.map((b64) => new Uint8Array(Buffer.from(b64, 'base64'))),
      blocked: stored.blocked,
      ...(stored.seeds ? { seeds: stored.seeds } : {}),
    },
    ...(stored.failure ? { failure: stored.failure } : {}),
    sequencer: string(stored.sequencer) ? stored.sequencer : '',
    ...(string(stored.standIn) ? { standIn: stored.standIn } : {}),
  };
};

/**
 * Whether a kept answer stands for the upload with `sequencer`, or the call must be made again.
 * Pictures and failures the upload caused always stand: the same request gets the same answer
 * and is never paid for twice. A failure the upload did not cause (model access, availability, a
 * model-side error) stands for retries of the upload that met it, but a later upload of the same
 * file — typically after the operator fixed the cause — tries again.
 */
export const keptAnswerStands = (kept: KeptAnswer, sequencer: string): boolean =>
  !kept.failure || !retriedOnReupload(kept.failure.reason) || kept.sequencer === sequencer;
