import { createHash } from 'node:crypto';
import { PipelineError } from './errors';
import { integer, inArray, plainObject, string } from './is';
import { JOBS_PREFIX, type Job } from './job';
import type { GeneratedImages } from './models/adapter';

/**
 * Exactly-once generation on top of at-least-once S3 events: before calling the
 * model, generate claims the request with a conditional write (`If-None-Match: *`)
 * of a small object beside the job. S3 lets one writer win; every duplicate event,
 * concurrent or later, and every re-upload of the same bytes with the same
 * settings finds the claim and is not billed again.
 */
export const ClaimState = {
  /** A generate invocation holds it until `leaseUntil`. */
  RUNNING: 'running',
  /** Given back after a transient failure, so Lambda's retry may take over at once. */
  RELEASED: 'released',
  /** The outcome (results or error.json) is written. */
  DONE: 'done',
  /**
   * error.json is written for a failure the upload did not cause (model access, availability, a
   * model-side error): a later delivery of the same request, such as a re-upload once the cause is
   * fixed, may try again, with the calls spent so far still on the meter.
   */
  FAILED: 'failed',
} as const;
export type ClaimState = (typeof ClaimState)[keyof typeof ClaimState];

export interface Claim {
  readonly version: 1;
  readonly state: ClaimState;
  /** Request id of the invocation that holds or held it. */
  readonly owner: string;
  readonly leaseUntil: string;
  /** Generate invocations that have held it. */
  readonly invocations: number;
  /** InvokeModel attempts spent or reserved so far, across invocations: the budget's meter. */
  readonly modelCalls: number;
  /** Indexes of the job's calls whose answers are kept beside the claim (see answerKey): never paid for again. */
  readonly answered?: readonly number[];
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

export const claimKey = (jobId: string, fingerprint: string): string => `${JOBS_PREFIX}${jobId}/claims/${fingerprint}.json`;

export const Verdict = {
  /** Someone finished this request: nothing to do. */
  DUPLICATE_DONE: 'duplicate-done',
  /** Someone is working on it right now: nothing to do. */
  DUPLICATE_RUNNING: 'duplicate-running',
  /** Released after a transient failure, or its holder's time ran out: take it over. */
  TAKE_OVER: 'take-over',
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export const judgeExistingClaim = (claim: Claim, now: Date, owner?: string): Verdict => {
  if (claim.state === ClaimState.DONE) return Verdict.DUPLICATE_DONE;
  // Lambda retries an async event under the same request id, and only after the attempt has ended:
  // a claim still "running" under this id was left by an attempt that crashed or was killed.
  if (claim.state === ClaimState.RUNNING && owner !== undefined && claim.owner === owner) return Verdict.TAKE_OVER;
  if (claim.state === ClaimState.RUNNING && Date.parse(claim.leaseUntil) > now.getTime()) return Verdict.DUPLICATE_RUNNING;
  return Verdict.TAKE_OVER;
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

/** Where the answer to call `index` of a claimed request is kept, so a retry of the job does not pay for it again. */
export const answerKey = (claimKey: string, index: number): string => `${claimKey.replace(/\.json$/, '')}/answer-${index}.json`;

interface KeptAnswer {
  readonly images: readonly string[];
  readonly seeds?: readonly number[];
  readonly blocked: number;
}

export const encodeKeptAnswer = (generated: GeneratedImages): string => {
  const kept: KeptAnswer = {
    images: generated.images.map((bytes) => Buffer.from(bytes).toString('base64')),
    blocked: generated.blocked,
    ...(generated.seeds ? { seeds: generated.seeds } : {}),
  };
  return JSON.stringify(kept);
};

export const decodeKeptAnswer = (text: string): GeneratedImages => {
  let kept: KeptAnswer;
  try {
    kept = JSON.parse(text) as KeptAnswer;
  } catch (error) {
    throw new PipelineError('INVALID_JOB', 'Kept model answer is not JSON', { cause: error });
  }
  if (!Array.isArray(kept.images) || !kept.images.every(string) || !integer(kept.blocked)) {
    throw new PipelineError('INVALID_JOB', 'Kept model answer is malformed');
  }
  return {
    images: kept.images.map((b64) => new Uint8Array(Buffer.from(b64, 'base64'))),
    blocked: kept.blocked,
    ...(kept.seeds ? { seeds: kept.seeds } : {}),
  };
};
