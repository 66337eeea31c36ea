import type { Context, S3Event } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createBedrock } from '../aws/bedrock';
import { acquireClaim, type HeldClaim } from '../aws/claims';
import { publishOutcome, readPublication } from '../aws/outcomes';
import { readIfExists, readObject } from '../aws/s3';
import { claimKey, requestFingerprint, Verdict } from '../core/claim';
import { PipelineError, toFailureReport, type FailureReport } from '../core/errors';
import { decodeS3Event, type CreatedObject } from '../core/event';
import { isJobFileKey, parseJob, stagingKeys, type Job } from '../core/job';
import { outputFolder } from '../core/naming';
import { planOutcome, type Generation } from '../core/outcome';
import { isSuperseded, PublishVerdict } from '../core/publication';
import { readGenerateConfig } from './config';
import { generate } from './generation';

const config = readGenerateConfig(process.env);
const bedrock = createBedrock({ requestTimeoutMs: config.requestTimeoutMs, maxAttempts: config.modelMaxAttempts });

/** Time kept back at the end of an invocation to publish the outcome. */
const WRITE_MARGIN_MS = 10_000;
/** Lease when there is no Lambda context (tests): the longest a function may run. */
const DEFAULT_LEASE_MS = 900_000;

const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void => {
  console[level](JSON.stringify({ level, function: 'generate', message, ...fields }));
};

/** This invocation: who it is (a retry of a crashed attempt keeps the request id) and how long it may hold what it claims. */
interface Invocation {
  readonly owner: string;
  readonly leaseUntil: Date;
  readonly deadline: AbortSignal | undefined;
}

export type JobResult = 'published' | 'already-published' | 'superseded' | 'duplicate';

/**
 * The story of one job: skip it if a newer upload of its key already owns the
 * output folder; claim the request; make (or read back) its model calls;
 * publish the outcome unless a newer upload got there first; mark the claim done.
 * A transient failure anywhere gives the claim back and throws, so the delivery
 * is retried and finds every paid answer kept.
 */
const runJob = async (job: Job, stagingBucket: string, invocation: Invocation): Promise<JobResult> => {
  const { sequencer, key } = job.source;
  const fingerprint = requestFingerprint(job, config.modelId);
  if (isSuperseded(await readPublication(stagingBucket, outputFolder(key)), sequencer)) return 'superseded';

  let claim: HeldClaim | undefined;
  let generation: Generation | undefined;
  let failure: FailureReport | undefined = job.status === 'rejected' ? job.failure : undefined;
  try {
    const acquired = await acquireClaim({
      bucket: stagingBucket,
      key: claimKey(job.jobId, fingerprint),
      owner: invocation.owner,
      sequencer,
      leaseUntil: invocation.leaseUntil,
      now: new Date(),
    });
    if (!acquired.acquired) {
      if (acquired.verdict === Verdict.DUPLICATE_RUNNING) return 'duplicate';
      throw new PipelineError('SERVICE_UNAVAILABLE', `An older upload of ${key} with the same bytes and settings is being generated; retrying this newer one after it`);
    }
    claim = acquired.held;
    if (job.status === 'ready' && !failure) generation = await generate(job, stagingBucket, claim, config, bedrock, invocation.deadline);
  } catch (error) {
    if (!(error instanceof PipelineError) || !error.permanent) {
      await claim?.release().catch(() => undefined);
      throw error;
    }
    // A failure of the whole job, such as an unreadable claim or a model the job was not prepared for.
    failure = toFailureReport(error);
  }

  try {
    const pictures = generation?.calls.some((call) => call.images.length > 0) ?? false;
    const edges = pictures && !failure ? await readIfExists(stagingBucket, stagingKeys(job.jobId).edges) : undefined;
    const plan = planOutcome({ job, generation, failure, now: new Date(), ...(edges ? { edges: edges.bytes } : {}) });
    const verdict = await publishOutcome(plan, {
      stagingBucket,
      outputBucket: config.outputBucket,
      jobId: job.jobId,
      sequencer,
      fingerprint,
      owner: invocation.owner,
      leaseUntil: invocation.leaseUntil,
    });
    await claim?.done();
    if (verdict === PublishVerdict.SUPERSEDED || verdict === PublishVerdict.ALREADY_PUBLISHED) return verdict;
    log(plan.failure ? 'warn' : 'info', `job ${plan.outcome}`, {
      jobId: job.jobId,
      key,
      sequencer,
      outcome: plan.outcome,
      ...(plan.failure ? { reason: plan.failure.reason, message: plan.failure.message } : {}),
      modelCalls: generation?.modelCalls ?? 0,
    });
    return 'published';
  } catch (error) {
    await claim?.release().catch(() => undefined);
    throw error;
  }
};

const readJob = async (object: CreatedObject): Promise<Job | undefined> => {
  try {
    const file = await readObject(object.bucket, object.key);
    return file ? parseJob(new TextDecoder().decode(file.bytes)) : undefined;
  } catch (error) {
    if (!(error instanceof PipelineError)) throw error;
    // Without a valid job there is no source key to report under; the log is the only place.
    log('error', 'unreadable job file', { key: object.key, error: String(error) });
    return undefined;
  }
};

export const handler = async (event: S3Event, context?: Context): Promise<{ jobs: { jobId: string; key: string; result: JobResult }[] }> => {
  const remaining = context?.getRemainingTimeInMillis?.() ?? DEFAULT_LEASE_MS;
  const invocation: Invocation = {
    owner: context?.awsRequestId ?? randomUUID(),
    leaseUntil: new Date(Date.now() + remaining),
    deadline: context?.getRemainingTimeInMillis ? AbortSignal.timeout(Math.max(1000, remaining - WRITE_MARGIN_MS)) : undefined,
  };
  const { objects, skipped } = decodeS3Event(event);
  for (const record of skipped) log('info', 'skipped record', { ...record });
  const jobs = [];
  for (const object of objects) {
    if (!isJobFileKey(object.key)) {
      log('warn', 'not a job file; check the staging notification filter', { key: object.key });
      continue;
    }
    const job = await readJob(object);
    if (!job) continue;
    const result = await runJob(job, object.bucket, invocation);
    if (result !== 'published') log('info', `job ${result}`, { jobId: job.jobId, key: job.source.key, sequencer: job.source.sequencer });
    jobs.push({ jobId: job.jobId, key: job.source.key, result });
  }
  return { jobs };
};
