import { createHash } from 'node:crypto';
import { PipelineError, type FailureReport, FailureReason } from './errors';
import { defined, inArray, integer, plainObject, string } from './is';
import type { JobParameters } from './params';
import { Staging } from './layout';
import type { CropBox, Size } from './sizing';

/** Everything prepare stages for a job lives under one prefix; `job.json` is written last and triggers generate. */
export const stagingKeys = (jobId: string) => ({
  conditioning: `${Staging.JOBS_PREFIX}${jobId}/conditioning.png`,
  edges: `${Staging.JOBS_PREFIX}${jobId}/edges.png`,
  job: `${Staging.JOBS_PREFIX}${jobId}/${Staging.JOB_FILE}`,
});

export const isJobFileKey = (key: string): boolean => key.startsWith(Staging.JOBS_PREFIX) && key.endsWith(`/${Staging.JOB_FILE}`);

/**
 * Same bytes under the same key (bucket, key, ETag) → same job id, so a
 * duplicated S3 event, a retry or a re-upload of the same file lands on the
 * same staging objects and the same claims instead of a second paid job.
 */
export const jobIdFor = (bucket: string, key: string, eTag: string): string =>
  createHash('sha256').update(`${bucket}\n${key}\n${eTag}`).digest('hex').slice(0, 32);

export interface JobSource {
  readonly bucket: string;
  readonly key: string;
  readonly eTag: string;
  readonly size: number;
  /** S3's order of events on the key: of two uploads of one key, the larger sequencer is newer. */
  readonly sequencer: string;
}

export interface Conditioning {
  /** Format sharp detected in the upload. */
  readonly sourceFormat: string;
  /** Source size after EXIF orientation. */
  readonly sourceSize: Size;
  /** Size of conditioning.png and edges.png, chosen for the model. */
  readonly size: Size;
  /** What of the source was kept, in source pixels. */
  readonly crop: CropBox;
  readonly edgeThresholds: { readonly low: number; readonly high: number };
  readonly edgeDensity: number;
}

interface JobBase {
  readonly version: 1;
  readonly jobId: string;
  readonly source: JobSource;
  readonly modelId: string;
  readonly preparedAt: string;
  readonly timings: Readonly<Record<string, number>>;
}

export interface ReadyJob extends JobBase {
  readonly status: 'ready';
  readonly parameters: JobParameters;
  readonly ignoredMetadata: readonly string[];
  readonly conditioning: Conditioning;
}

/** An upload prepare refused: generate turns it into error.json. */
export interface RejectedJob extends JobBase {
  readonly status: 'rejected';
  readonly failure: FailureReport;
}

export type Job = ReadyJob | RejectedJob;

const invalidJob = (what: string): never => {
  throw new PipelineError('INVALID_JOB', `Job file is malformed: ${what}`);
};

/** Checks the fields generate relies on; the job file crosses a bucket boundary. */
export const parseJob = (text: string): Job => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PipelineError('INVALID_JOB', 'Job file is not JSON', { cause: error });
  }
  if (!plainObject(value)) return invalidJob('not an object');
  if (value.version !== 1) invalidJob(`unsupported version ${String(value.version)}`);
  if (!string(value.jobId) || !/^[0-9a-f]{32}$/.test(value.jobId)) invalidJob('jobId');
  if (!string(value.modelId)) invalidJob('modelId');
  const source = value.source;
  if (!plainObject(source) || !string(source.bucket) || !string(source.key) || !string(source.eTag) || !string(source.sequencer)) {
    invalidJob('source');
  }
  if (value.status === 'rejected') {
    const failure = value.failure;
    if (!plainObject(failure) || !inArray(failure.reason, Object.keys(FailureReason)) || !string(failure.message)) {
      invalidJob('failure');
    }
    return value as unknown as RejectedJob;
  }
  if (value.status !== 'ready') invalidJob(`status ${String(value.status)}`);
  const parameters = value.parameters;
  if (!plainObject(parameters) || !string(parameters.prompt) || !integer(parameters.count)) invalidJob('parameters');
  const conditioning = value.conditioning;
  if (!plainObject(conditioning) || !plainObject(conditioning.size) || !integer(conditioning.size.width) || !integer(conditioning.size.height)) {
    invalidJob('conditioning.size');
  }
  if (defined((parameters as Record<string, unknown>).seed) && !integer((parameters as Record<string, unknown>).seed)) invalidJob('parameters.seed');
  return value as unknown as ReadyJob;
};
