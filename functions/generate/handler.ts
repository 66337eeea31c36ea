import type { Context, S3Event } from 'aws-lambda';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { createBedrock } from '../aws/bedrock';
import { acquireClaim, keepAnswer, readKeptAnswer, updateClaim } from '../aws/claims';
import { readObject, s3, writeJson, writeObject } from '../aws/s3';
import { CallBudget, claimKey, ClaimState, requestFingerprint, type Claim } from '../core/claim';
import { mapLimit } from '../core/concurrency';
import { PipelineError, toFailureReport, type FailureReason, type FailureReport } from '../core/errors';
import { decodeS3Event } from '../core/event';
import { JOB_FILE, parseJob, stagingKeys, type Job, type ReadyJob } from '../core/job';
import { buildManifest, type CallRecord, type GenerationResult } from '../core/manifest';
import { ConditioningInput, type GeneratedImages } from '../core/models/adapter';
import { classifyInvokeFailure } from '../core/models/bedrock-errors';
import { outputKeys } from '../core/naming';
import { seedFor } from '../core/seed';
import { readGenerateConfig } from './config';

const config = readGenerateConfig(process.env);
const bedrock = createBedrock({ requestTimeoutMs: config.requestTimeoutMs, maxAttempts: config.modelMaxAttempts });

/**
 * Permanent for this invocation, but caused by the account, the deployment or the model, not by
 * the upload: once fixed, the same upload again must be processed, not ignored as a duplicate.
 */
const RETRY_ON_REDELIVERY: ReadonlySet<FailureReason> = new Set(['ACCESS_DENIED', 'MODEL_UNAVAILABLE', 'MODEL_ERROR', 'MODEL_REJECTED_REQUEST']);

/** Time kept back at the end of an invocation to write the outcome. */
const WRITE_MARGIN_MS = 10_000;
/** Claim lease when there is no Lambda context (tests): the longest a function may run. */
const DEFAULT_LEASE_MS = 900_000;

const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void => {
  console[level](JSON.stringify({ level, function: 'generate', message, ...fields }));
};

/** Where this invocation's claim lives and how to record progress on it. */
interface Holding {
  readonly bucket: string;
  readonly key: string;
  claim: Claim;
  /** Claim writes in order: two calls in flight must not land an older claim last. */
  writes?: Promise<void>;
}

const record = (holding: Holding, change: Partial<Claim> | ((claim: Claim) => Partial<Claim>)): Promise<void> => {
  holding.writes = (holding.writes ?? Promise.resolve()).catch(() => undefined).then(async () => {
    const delta = typeof change === 'function' ? change(holding.claim) : change;
    holding.claim = { ...holding.claim, ...delta, updatedAt: new Date().toISOString() };
    await updateClaim(holding.bucket, holding.key, holding.claim);
  });
  return holding.writes;
};

const generateImages = async (job: ReadyJob, stagingBucket: string, holding: Holding, deadline: AbortSignal | undefined): Promise<GenerationResult> => {
  const started = performance.now();
  if (job.modelId !== config.modelId) {
    throw new PipelineError(
      'MODEL_UNAVAILABLE',
      `The job was prepared for ${job.modelId} but generate is configured for ${config.modelId}; upload the picture again`,
    );
  }
  const { adapter } = config;
  const staged = stagingKeys(job.jobId);
  const imageKey = adapter.conditioningInput === ConditioningInput.EDGES ? staged.edges : staged.conditioning;
  const image = await readObject(stagingBucket, imageKey);
  if (!image) throw new PipelineError('INVALID_JOB', `Staging picture ${imageKey} changed while the job ran`);
  const read = performance.now();

  const seeds = Array.from({ length: job.parameters.count }, (_, i) => seedFor(job.jobId, i, adapter.limits.seedMax, job.parameters.seed));
  const calls = adapter.calls(job.parameters, job.conditioning.size, image.bytes, seeds);
  const budget = new CallBudget(config.maxModelCallsPerJob, holding.claim.modelCalls, config.modelMaxAttempts);
  // In call order, whatever order the calls finish in.
  const records: CallRecord[] = new Array(calls.length);
  let filtered: PipelineError | undefined;
  try {
    const answers = await mapLimit(calls.map((call, index) => ({ call, index })), config.callConcurrency, async ({ call, index }) => {
      if (holding.claim.answered?.includes(index)) {
        // Paid for by an earlier invocation of this request: read, not bought again.
        const generated = await readKeptAnswer(holding.bucket, holding.key, index);
        records[index] = { seed: call.seed, requested: call.images, received: generated.images.length, ms: 0 };
        return { call, generated };
      }
      budget.reserve();
      // Recorded before the call: a crash mid-call must not hand the next invocation a fuller budget.
      await record(holding, { modelCalls: budget.committed });
      const callStarted = performance.now();
      let body: unknown;
      try {
        const invocation = await bedrock.invoke(config.modelId, call.body, deadline);
        budget.settle(invocation.attempts);
        body = invocation.body;
      } catch (error) {
        budget.settle((error as { $metadata?: { attempts?: number } }).$metadata?.attempts);
        throw classifyInvokeFailure(error as Error, config.modelId);
      }
      let generated: GeneratedImages;
      try {
        generated = adapter.parseResponse(body, call);
      } catch (error) {
        // One of several one-image calls blocked by moderation: the others were paid for and are kept,
        // as Titan and Nova keep the survivors of a partly blocked answer.
        if (!(error instanceof PipelineError) || error.reason !== 'CONTENT_FILTERED' || calls.length === 1) throw error;
        filtered ??= error;
        generated = { images: [], blocked: call.images };
      }
      if (calls.length > 1) {
        await keepAnswer(holding.bucket, holding.key, index, generated);
        await record(holding, (claim) => ({ answered: [...(claim.answered ?? []), index] }));
      }
      records[index] = { seed: call.seed, requested: call.images, received: generated.images.length, ms: Math.round(performance.now() - callStarted) };
      return { call, generated };
    });
    const invoked = performance.now();

    const keys = outputKeys(job.source.key);
    const images = answers.flatMap((answer) => answer.generated.images);
    if (images.length === 0 && filtered) throw filtered;
    const imageKeys = images.map((_, i) => keys.image(i + 1));
    await Promise.all(images.map((bytes, i) => writeObject(config.outputBucket, imageKeys[i]!, bytes, 'image/png')));
    return {
      modelId: config.modelId,
      family: adapter.family,
      unusedParameters: adapter.unusedParameters,
      seeds: answers.flatMap((answer) => answer.generated.seeds ?? Array.from({ length: answer.generated.images.length }, () => answer.call.seed)),
      imageKeys,
      calls: records,
      timings: {
        readMs: Math.round(read - started),
        modelMs: Math.round(invoked - read),
        writeMs: Math.round(performance.now() - invoked),
      },
    };
  } finally {
    holding.claim = { ...holding.claim, modelCalls: budget.committed };
  }
};

const finish = async (job: Job, stagingBucket: string, result: GenerationResult | undefined, failure: FailureReport | undefined): Promise<void> => {
  const keys = outputKeys(job.source.key);
  if (failure) {
    await writeJson(config.outputBucket, keys.error, { ...failure, source: job.source, jobId: job.jobId, at: new Date().toISOString() });
  } else {
    // A stale report from an earlier upload of the same name would contradict this result.
    await s3.send(new DeleteObjectCommand({ Bucket: config.outputBucket, Key: keys.error }));
  }
  // The edge mask helps explain a failure too (say, a content-filter block), so it is kept for every prepared job.
  if (job.status === 'ready') {
    const edges = await readObject(stagingBucket, stagingKeys(job.jobId).edges);
    if (edges) await writeObject(config.outputBucket, keys.edges, edges.bytes, 'image/png');
  }
  // Last: the manifest is the sign that the outcome is complete.
  await writeJson(config.outputBucket, keys.manifest, buildManifest(job, result, failure, new Date()));
};

const runJob = async (job: Job, stagingBucket: string, owner: string, leaseUntil: Date, deadline: AbortSignal | undefined): Promise<boolean> => {
  const key = claimKey(job.jobId, requestFingerprint(job, config.modelId));
  let acquired;
  try {
    acquired = await acquireClaim(stagingBucket, key, owner, leaseUntil, new Date());
  } catch (error) {
    if (!(error instanceof PipelineError) || !error.permanent) throw error;
    // An unreadable claim (only something other than generate could write one) must not buy a
    // second generation on a guess, nor be retried into the dead-letter queue: report it.
    await finish(job, stagingBucket, undefined, toFailureReport(error));
    log('error', 'unreadable claim', { jobId: job.jobId, key, error: error.message });
    return true;
  }
  if (!acquired.acquired) {
    log('info', 'duplicate event: this upload with these settings is already handled', { jobId: job.jobId, key: job.source.key, verdict: acquired.verdict });
    return false;
  }
  const holding: Holding = { bucket: stagingBucket, key, claim: acquired.claim };
  if (job.status === 'rejected') {
    await finish(job, stagingBucket, undefined, job.failure);
    await record(holding, { state: ClaimState.DONE });
    log('warn', 'upload rejected by prepare', { jobId: job.jobId, key: job.source.key, ...job.failure });
    return true;
  }
  try {
    const result = await generateImages(job, stagingBucket, holding, deadline);
    await finish(job, stagingBucket, result, undefined);
    await record(holding, { state: ClaimState.DONE });
    log('info', 'job done', { jobId: job.jobId, key: job.source.key, images: result.imageKeys.length, modelCalls: holding.claim.modelCalls, timings: result.timings });
  } catch (error) {
    if (!(error instanceof PipelineError) || !error.permanent) {
      // Given back so Lambda's retry can take over at once, with the calls spent so far on record.
      await record(holding, { state: ClaimState.RELEASED });
      log('error', 'transient failure, leaving it to Lambda to retry', { jobId: job.jobId, modelCalls: holding.claim.modelCalls, error: String(error) });
      throw error;
    }
    await finish(job, stagingBucket, undefined, toFailureReport(error));
    await record(holding, { state: RETRY_ON_REDELIVERY.has(error.reason) ? ClaimState.FAILED : ClaimState.DONE });
    log('warn', 'job failed', { jobId: job.jobId, key: job.source.key, reason: error.reason, message: error.message });
  }
  return true;
};

export const handler = async (event: S3Event, context?: Context): Promise<{ jobs: string[]; duplicates: string[] }> => {
  const remaining = context?.getRemainingTimeInMillis?.() ?? DEFAULT_LEASE_MS;
  const deadline = context?.getRemainingTimeInMillis ? AbortSignal.timeout(Math.max(1000, remaining - WRITE_MARGIN_MS)) : undefined;
  const leaseUntil = new Date(Date.now() + remaining);
  const owner = context?.awsRequestId ?? randomUUID();
  const { objects, skipped } = decodeS3Event(event);
  for (const record of skipped) log('info', 'skipped record', { ...record });
  const jobs: string[] = [];
  const duplicates: string[] = [];
  for (const object of objects) {
    if (!object.key.endsWith(`/${JOB_FILE}`)) {
      log('warn', 'not a job file; check the staging notification filter', { key: object.key });
      continue;
    }
    let job: Job;
    try {
      const file = await readObject(object.bucket, object.key);
      if (!file) continue;
      job = parseJob(new TextDecoder().decode(file.bytes));
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      // Without a valid job there is no source key to report under; the log is the only place.
      log('error', 'unreadable job file', { key: object.key, error: String(error) });
      continue;
    }
    (await runJob(job, object.bucket, owner, leaseUntil, deadline) ? jobs : duplicates).push(job.jobId);
  }
  return { jobs, duplicates };
};
