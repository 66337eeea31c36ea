/**
 * Builders for the boundary objects the core reads: S3 event records and job
 * files. Each returns a complete, valid value; tests override what they vary.
 */
import type { S3Event, S3EventRecord } from 'aws-lambda';
import type { FailureReport } from '../../functions/core/errors';
import { jobIdFor, type Conditioning, type JobSource, type ReadyJob, type RejectedJob } from '../../functions/core/job';
import type { JobParameters } from '../../functions/core/params';

export const UPLOAD_BUCKET = 'uploads-bucket';
export const MODEL_ID = 'amazon.titan-image-generator-v2:0';

export interface S3RecordOptions {
  /** As S3 puts it in the event: URL-encoded, space as `+`. */
  readonly key?: string;
  readonly bucket?: string;
  readonly eventName?: string;
  readonly eTag?: string;
  readonly size?: number;
}

/** One S3 notification record, shaped like the ones S3 sends to Lambda. */
export const s3Record = (options: S3RecordOptions = {}): S3EventRecord => {
  const bucket = options.bucket ?? UPLOAD_BUCKET;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-10-01T12:00:00.000Z',
    eventName: options.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'prepare-on-upload',
      bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${bucket}` },
      object: {
        key: options.key ?? 'photos/tiger.jpg',
        size: options.size ?? 1024,
        eTag: options.eTag ?? 'd41d8cd98f00b204e9800998ecf8427e',
        sequencer: '0055AED6DCD90281E5',
      },
    },
  };
};

export const s3Event = (...records: S3EventRecord[]): S3Event => ({ Records: records });

export const jobSource = (overrides: Partial<JobSource> = {}): JobSource => ({
  bucket: UPLOAD_BUCKET,
  key: 'photos/tiger.jpg',
  eTag: 'd41d8cd98f00b204e9800998ecf8427e',
  size: 1024,
  sequencer: '0055AED6DCD90281E5',
  ...overrides,
});

export const jobParameters = (overrides: Partial<JobParameters> = {}): JobParameters => ({
  prompt: 'a tiger as a pencil sketch',
  controlMode: 'CANNY_EDGE',
  controlStrength: 0.7,
  count: 1,
  quality: 'standard',
  ...overrides,
});

export const conditioning = (overrides: Partial<Conditioning> = {}): Conditioning => ({
  sourceFormat: 'jpeg',
  sourceSize: { width: 5120, height: 2880 },
  size: { width: 1152, height: 640 },
  crop: { left: 0, top: 18, width: 5120, height: 2844 },
  edgeThresholds: { low: 40, high: 100 },
  edgeDensity: 0.08,
  ...overrides,
});

const jobIdOf = (source: JobSource): string => jobIdFor(source.bucket, source.key, source.eTag);

/** A job prepare accepted: what generate reads from `job.json`. */
export const readyJob = (overrides: Partial<ReadyJob> = {}): ReadyJob => {
  const source = overrides.source ?? jobSource();
  return {
    version: 1,
    jobId: jobIdOf(source),
    source,
    modelId: MODEL_ID,
    preparedAt: '2026-10-01T12:00:01.000Z',
    timings: { readMs: 40, decodeMs: 120 },
    status: 'ready',
    parameters: jobParameters(),
    ignoredMetadata: [],
    conditioning: conditioning(),
    ...overrides,
  };
};

export const failureReport = (overrides: Partial<FailureReport> = {}): FailureReport => ({
  reason: 'UNSUPPORTED_FORMAT',
  message: 'Expected one of: jpeg, png, webp for photos/tiger.jpg but received svg',
  permanent: true,
  ...overrides,
});

/** A job prepare refused: generate turns it into `error.json`. */
export const rejectedJob = (overrides: Partial<RejectedJob> = {}): RejectedJob => {
  const source = overrides.source ?? jobSource();
  return {
    version: 1,
    jobId: jobIdOf(source),
    source,
    modelId: MODEL_ID,
    preparedAt: '2026-10-01T12:00:01.000Z',
    timings: { readMs: 40 },
    status: 'rejected',
    failure: failureReport(),
    ...overrides,
  };
};
