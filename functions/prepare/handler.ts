import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { readObject, s3, writeJson, writeObject } from '../aws/s3';
import { createTelemetry, enableTracing } from '../aws/telemetry';
import { decodeDelivery, type Delivery } from '../core/delivery';
import { exhaustedReport, failureFields, PipelineError, toFailureReport, type FailureReport } from '../core/errors';
import type { CreatedObject } from '../core/event';
import { requireAllowedFormat } from '../core/format';
import { jobIdFor, stagingKeys, type Job, type JobSource } from '../core/job';
import { parseParameters } from '../core/params';
import { Metrics } from '../core/settings';
import { readPrepareConfig } from './config';
import { preparePicture } from './picture';

const config = readPrepareConfig(process.env);
const { logger, metrics } = createTelemetry('prepare');
const processor = new BatchProcessor(EventType.SQS);
const tracing = enableTracing('prepare', [s3]);

/** Seconds sharp may spend on one picture: the invocation's remaining time, less 10 s to write the rejection; 50 s without a context. */
const pictureSeconds = (context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): number =>
  context ? Math.max(1, Math.floor((context.getRemainingTimeInMillis() - 10_000) / 1000)) : 50;

/**
 * Turns one upload into a job in the staging bucket. A permanent problem with
 * the upload still produces a job — a rejected one — so generate reports it in
 * the output bucket where the user looks; transient failures throw so the
 * message is received again, and on its last receive leave a rejected job that
 * says so before the message goes to the dead-letter queue.
 */
const prepareObject = async (object: CreatedObject, delivery: Delivery, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<Job | undefined> => {
  const started = performance.now();
  const jobId = jobIdFor(object.bucket, object.key, object.eTag);
  const keys = stagingKeys(jobId);
  const source: JobSource = { bucket: object.bucket, key: object.key, eTag: object.eTag, size: object.size, sequencer: object.sequencer };
  const objectName = `s3://${object.bucket}/${object.key}`;
  const base = { version: 1, jobId, source, modelId: config.modelId, preparedAt: new Date().toISOString() } as const;
  try {
    const upload = await readObject(object.bucket, object.key, {
      maxBytes: config.maxInputBytes,
      ...(object.eTag ? { eTag: object.eTag } : {}),
    });
    if (!upload) return undefined;
    const read = performance.now();
    const { parameters, ignoredMetadata } = parseParameters(upload.metadata, config.defaults, config.adapter.limits);
    const format = requireAllowedFormat(upload.bytes, objectName);
    const picture = await preparePicture(upload.bytes, {
      format,
      maxInputPixels: config.maxInputPixels,
      targetSize: config.adapter.targetSize,
      objectName,
      maxJpegScans: config.maxJpegScans,
      timeoutSeconds: pictureSeconds(context),
    });
    await Promise.all([
      writeObject(config.stagingBucket, keys.conditioning, picture.conditioning, 'image/png'),
      writeObject(config.stagingBucket, keys.edges, picture.edges, 'image/png'),
    ]);
    const job: Job = {
      ...base,
      status: 'ready',
      parameters,
      ignoredMetadata,
      conditioning: {
        sourceFormat: format,
        sourceSize: picture.sourceSize,
        size: picture.plan.target,
        crop: picture.plan.crop,
        edgeThresholds: picture.edgeThresholds,
        edgeDensity: Number(picture.edgeDensity.toFixed(4)),
      },
      timings: { readMs: Math.round(read - started), ...picture.timings, totalMs: Math.round(performance.now() - started) },
    };
    // Last, because job.json is what triggers generate: the pictures must already be there.
    await writeJson(config.stagingBucket, keys.job, job);
    return job;
  } catch (error) {
    const permanent = error instanceof PipelineError && error.permanent;
    if (!permanent && !delivery.lastReceive) throw error;
    const failure: FailureReport = permanent ? toFailureReport(error) : exhaustedReport(error, delivery.receiveCount);
    const job: Job = { ...base, status: 'rejected', failure, timings: { totalMs: Math.round(performance.now() - started) } };
    await writeJson(config.stagingBucket, keys.job, job);
    if (!permanent) throw error;
    return job;
  }
};

const handleMessage = async (record: SQSRecord, context: Context): Promise<void> => {
  const delivery = decodeDelivery(record, config.maxReceiveCount);
  for (const skipped of delivery.skipped) logger.info('skipped record', { ...skipped });
  for (const object of delivery.objects) {
    // The job id generate logs too: one upload's whole story is one query on it (or on the key).
    logger.appendKeys({ jobId: jobIdFor(object.bucket, object.key, object.eTag), key: object.key, sequencer: object.sequencer });
    try {
      const job = await prepareObject(object, delivery, context);
      if (!job) {
        logger.info('upload was replaced since this event; the newer one has its own event');
      } else if (job.status === 'rejected') {
        const rejected = metrics.singleMetric();
        rejected.addDimension('reason', job.failure.reason);
        rejected.addMetric(Metrics.UPLOADS_REJECTED, MetricUnit.Count, 1);
        logger.warn('upload rejected', failureFields(job.failure));
      } else {
        metrics.addMetric(Metrics.UPLOADS_PREPARED, MetricUnit.Count, 1);
        metrics.addMetric(Metrics.PREPARE_DURATION, MetricUnit.Milliseconds, job.timings.totalMs ?? 0);
        metrics.addMetric(Metrics.EDGE_DENSITY, MetricUnit.Percent, Math.round(job.conditioning.edgeDensity * 10_000) / 100);
        logger.info('job prepared', { size: job.conditioning.size, edgeDensity: job.conditioning.edgeDensity, timings: job.timings });
      }
    } finally {
      logger.removeKeys(['jobId', 'key', 'sequencer']);
    }
  }
};

/**
 * One SQS batch of upload notifications, one picture at a time (each can take
 * hundreds of MB while decoding); failed messages are reported back to the
 * queue (partial batch response).
 */
export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  await tracing;
  try {
    return await processPartialResponse(event, (record: SQSRecord) => handleMessage(record, context), processor, { context, processInParallel: false });
  } finally {
    metrics.publishStoredMetrics();
  }
};
