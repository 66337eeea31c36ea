import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createBedrock } from '../aws/bedrock';
import { acquireClaim, type HeldClaim } from '../aws/claims';
import { publishOutcome, readPublication, type Published } from '../aws/outcomes';
import { readObject, s3 } from '../aws/s3';
import { stagedPictures } from '../aws/staged-pictures';
import { createTelemetry, enableTracing } from '../aws/telemetry';
import { claimKey, requestFingerprint, Verdict } from '../core/claim';
import { decodeDelivery, type Delivery } from '../core/delivery';
import { exhaustedReport, failureFields, PipelineError, toFailureReport, type FailureReport } from '../core/errors';
import type { CreatedObject } from '../core/event';
import { isJobFileKey, parseJob, type Job } from '../core/job';
import { findModel } from '../core/models/catalogue';
import { outputFolder } from '../core/naming';
import { planOutcome, type Generation, type PlannedOutcome } from '../core/outcome';
import { isSuperseded, PublishVerdict } from '../core/publication';
import { Metrics } from '../core/settings';
import { readGenerateConfig } from './config';
import { contactSheet } from './contact-sheet';
import { generate } from './generation';

const config = readGenerateConfig(process.env);
const bedrock = createBedrock({ requestTimeoutMs: config.requestTimeoutMs, maxAttempts: config.modelMaxAttempts });
const { logger, metrics } = createTelemetry('generate');
const processor = new BatchProcessor(EventType.SQS);
const tracing = enableTracing('generate', [s3, bedrock.client]);

/** Time kept back at the end of an invocation to publish the outcome. */
const WRITE_MARGIN_MS = 10_000;

/**
 * Who holds a claim or a folder, and until when. The owner is the queue message: SQS hands a
 * message out again only after its visibility timeout, which the stack keeps at six times the
 * function's timeout, so a message received again means its earlier receive has ended — crashed,
 * timed out or failed — and what that receive still holds may be taken over at once.
 */
interface Invocation {
  readonly owner: string;
  readonly leaseUntil: Date;
  readonly deadline: AbortSignal | undefined;
}

export type JobResult = 'published' | 'already-published' | 'superseded' | 'duplicate';

const publish = async (plan: PlannedOutcome, job: Job, stagingBucket: string, fingerprint: string, invocation: Invocation): Promise<Published> =>
  publishOutcome(plan, {
    stagingBucket,
    outputBucket: config.outputBucket,
    jobId: job.jobId,
    sequencer: job.source.sequencer,
    fingerprint,
    owner: invocation.owner,
    leaseUntil: invocation.leaseUntil,
  });

const recordMetrics = (plan: PlannedOutcome, generation: Generation | undefined): void => {
  const made = generation?.calls.filter((call) => !call.kept) ?? [];
  metrics.addMetric(Metrics.MODEL_CALLS, MetricUnit.Count, made.reduce((n, call) => n + call.attempts, 0));
  const images = made.reduce((n, call) => n + call.images.length, 0);
  metrics.addMetric(Metrics.IMAGES_GENERATED, MetricUnit.Count, images);
  for (const call of made) metrics.addMetric(Metrics.MODEL_LATENCY, MetricUnit.Milliseconds, call.ms);
  const price = generation ? (findModel(generation.modelId)?.pricePerImage ?? 0) : 0;
  metrics.addMetric(Metrics.ESTIMATED_COST, MetricUnit.NoUnit, Math.round(images * price * 10_000) / 10_000);
  const outcome = metrics.singleMetric();
  outcome.addDimension('outcome', plan.outcome);
  outcome.addMetric(Metrics.OUTCOMES, MetricUnit.Count, 1);
  if (plan.failure) {
    const failure = metrics.singleMetric();
    failure.addDimension('reason', plan.failure.reason);
    failure.addMetric(Metrics.FAILURES, MetricUnit.Count, 1);
  }
};

/**
 * The story of one job: skip it if a newer upload of its key already owns the
 * output folder; claim the request; make (or read back) its model calls;
 * publish the outcome unless a newer upload got there first; mark the claim done.
 * A transient failure anywhere gives the claim back and throws, so the message
 * is received again and finds every paid answer kept.
 */
const runJob = async (job: Job, stagingBucket: string, invocation: Invocation): Promise<JobResult> => {
  const { sequencer, key } = job.source;
  const fingerprint = requestFingerprint(job, config.modelId);
  if (isSuperseded(await readPublication(stagingBucket, outputFolder(key)), sequencer)) return 'superseded';

  const pictures = stagedPictures(stagingBucket, job.jobId);
  let claim: HeldClaim | undefined;
  let generation: Generation | undefined;
  let failure: FailureReport | undefined = job.status === 'rejected' ? job.failure : undefined;
  try {
    const acquired = await acquireClaim({ bucket: stagingBucket, key: claimKey(job.jobId, fingerprint), owner: invocation.owner, sequencer, leaseUntil: invocation.leaseUntil, now: new Date() });
    if (!acquired.acquired) {
      if (acquired.verdict === Verdict.DUPLICATE_RUNNING) return 'duplicate';
      throw new PipelineError('SERVICE_UNAVAILABLE', `An older upload of ${key} with the same bytes and settings is being generated; retrying this newer one after it`);
    }
    claim = acquired.held;
    if (job.status === 'ready' && !failure) generation = await generate(job, pictures, claim, config, bedrock, invocation.deadline);
  } catch (error) {
    if (!(error instanceof PipelineError) || !error.permanent) {
      await claim?.release().catch(() => undefined);
      throw error;
    }
    // A failure of the whole job, such as an unreadable claim or a model the job was not prepared for.
    failure = toFailureReport(error);
  }

  try {
    const images = failure ? [] : (generation?.calls.flatMap((call) => call.images) ?? []);
    const [edges, photo] = images.length > 0 ? await Promise.all([pictures.edges(), pictures.photo()]) : [];
    const sheet = images.length > 0 ? await drawContactSheet([photo?.bytes, edges?.bytes, ...images]) : undefined;
    const plan = planOutcome({ job, generation, failure, now: new Date(), ...(edges ? { edges: edges.bytes } : {}), ...(sheet ? { contactSheet: sheet } : {}) });
    const verdict = await publish(plan, job, stagingBucket, fingerprint, invocation);
    await claim?.done();
    if (verdict !== PublishVerdict.PUBLISH) return verdict;
    recordMetrics(plan, generation);
    logger[plan.failure ? 'warn' : 'info'](`job ${plan.outcome}`, { outcome: plan.outcome, ...(plan.failure ? failureFields(plan.failure) : {}), modelCalls: generation?.modelCalls ?? 0 });
    return 'published';
  } catch (error) {
    await claim?.release().catch(() => undefined);
    throw error;
  }
};

/** The contact sheet is a convenience: a picture it cannot draw is logged, never a reason to fail the job. */
const drawContactSheet = async (tiles: readonly (Uint8Array | undefined)[]): Promise<Uint8Array | undefined> => {
  try {
    return await contactSheet(tiles.filter((tile): tile is Uint8Array => tile !== undefined));
  } catch (error) {
    logger.warn('could not draw the contact sheet', { error: String(error) });
    return undefined;
  }
};

/**
 * The last receive failed too: the message goes to the dead-letter queue, and the upload's folder
 * says so (error.json with the attempts and the last error) instead of showing nothing. Its own
 * fingerprint lets a redriven message that succeeds replace it.
 */
const reportExhausted = async (job: Job, stagingBucket: string, invocation: Invocation, error: unknown, attempts: number): Promise<void> => {
  const failure = exhaustedReport(error, attempts);
  const plan = planOutcome({ job, failure, now: new Date() });
  const verdict = await publish(plan, job, stagingBucket, `${requestFingerprint(job, config.modelId)}:exhausted`, invocation);
  if (verdict === PublishVerdict.PUBLISH) recordMetrics(plan, undefined);
  logger.error('retries exhausted: the message goes to the dead-letter queue', { ...failureFields(failure), verdict });
};

const readJob = async (object: CreatedObject): Promise<Job | undefined> => {
  try {
    const file = await readObject(object.bucket, object.key);
    return file ? parseJob(new TextDecoder().decode(file.bytes)) : undefined;
  } catch (error) {
    if (!(error instanceof PipelineError)) throw error;
    // Without a valid job there is no source key to report under; the log is the only place.
    logger.error('unreadable job file', { jobFile: object.key, error: String(error) });
    return undefined;
  }
};

const handleJobFile = async (object: CreatedObject, delivery: Delivery, invocation: Invocation): Promise<void> => {
  const job = await readJob(object);
  if (!job) return;
  logger.appendKeys({ jobId: job.jobId, key: job.source.key, sequencer: job.source.sequencer });
  try {
    const result = await runJob(job, object.bucket, invocation);
    if (result !== 'published') {
      metrics.addMetric(Metrics.DUPLICATE_EVENTS, MetricUnit.Count, 1);
      logger.info(`job ${result}`);
    }
  } catch (error) {
    logger.warn('job failed transiently', { error: String(error), receiveCount: delivery.receiveCount });
    if (delivery.lastReceive) await reportExhausted(job, object.bucket, invocation, error, delivery.receiveCount).catch((e: unknown) => logger.error('could not report the exhausted job', { error: String(e) }));
    throw error;
  } finally {
    logger.removeKeys(['jobId', 'key', 'sequencer']);
  }
};

const handleMessage = async (record: SQSRecord, invocation: Omit<Invocation, 'owner'>): Promise<void> => {
  const delivery = decodeDelivery(record, config.maxReceiveCount);
  for (const skipped of delivery.skipped) logger.info('skipped record', { ...skipped });
  for (const object of delivery.objects) {
    if (!isJobFileKey(object.key)) logger.warn('not a job file; check the staging notification filter', { jobFile: object.key });
    else await handleJobFile(object, delivery, { ...invocation, owner: `message:${record.messageId}` });
  }
};

/** One SQS batch of job-file notifications; failed messages are reported back to the queue (partial batch response). */
export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  await tracing;
  const remaining = context.getRemainingTimeInMillis();
  const invocation = {
    leaseUntil: new Date(Date.now() + remaining),
    deadline: AbortSignal.timeout(Math.max(1000, remaining - WRITE_MARGIN_MS)),
  };
  try {
    return await processPartialResponse(event, (record: SQSRecord) => handleMessage(record, invocation), processor, { context });
  } finally {
    metrics.publishStoredMetrics();
  }
};
