import type { Context, S3Event } from 'aws-lambda';
import { readObject, writeJson, writeObject } from '../aws/s3';
import { PipelineError, toFailureReport } from '../core/errors';
import { decodeS3Event, type CreatedObject } from '../core/event';
import { requireAllowedFormat } from '../core/format';
import { jobIdFor, stagingKeys, type Job, type JobSource } from '../core/job';
import { parseParameters } from '../core/params';
import { readPrepareConfig } from './config';
import { preparePicture } from './picture';

const config = readPrepareConfig(process.env);

const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void => {
  console[level](JSON.stringify({ level, function: 'prepare', message, ...fields }));
};

/** Seconds sharp may spend on one picture: the invocation's remaining time, less 10 s to write the rejection; 50 s without a context. */
const pictureSeconds = (context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): number =>
  context ? Math.max(1, Math.floor((context.getRemainingTimeInMillis() - 10_000) / 1000)) : 50;

/**
 * Turns one upload into a job in the staging bucket. A permanent problem with
 * the upload still produces a job — a rejected one — so generate reports it in
 * the output bucket where the user looks; transient S3 failures throw.
 */
const prepareObject = async (object: CreatedObject, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<Job | undefined> => {
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
    if (!(error instanceof PipelineError) || !error.permanent) throw error;
    const job: Job = { ...base, status: 'rejected', failure: toFailureReport(error), timings: { totalMs: Math.round(performance.now() - started) } };
    await writeJson(config.stagingBucket, keys.job, job);
    return job;
  }
};

export const handler = async (event: S3Event, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<{ jobs: { jobId: string; key: string; status: string }[] }> => {
  const { objects, skipped } = decodeS3Event(event);
  for (const record of skipped) log('info', 'skipped record', { ...record });
  const jobs = [];
  // One at a time: each picture can take hundreds of MB while decoding.
  for (const object of objects) {
    const job = await prepareObject(object, context);
    if (!job) {
      log('info', 'upload was replaced since this event; the newer one has its own event', { bucket: object.bucket, key: object.key });
      continue;
    }
    const fields = { jobId: job.jobId, bucket: object.bucket, key: object.key, status: job.status };
    if (job.status === 'rejected') log('warn', 'upload rejected', { ...fields, ...job.failure });
    else log('info', 'job prepared', { ...fields, size: job.conditioning.size, timings: job.timings });
    jobs.push({ jobId: job.jobId, key: object.key, status: job.status });
  }
  return { jobs };
};
