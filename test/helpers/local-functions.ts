/**
 * A rig for function tests: the embedded S3 server, the Bedrock stand-in and
 * the BUILT function bundles (dist/functions/<name>/index.js) in local
 * execution environments, wired with the standard AWS variables only, so the
 * real SDK clients inside the bundles talk to the local endpoints.
 *
 * Every object-created record the S3 server emits is captured, so tests invoke
 * the functions with real-shaped events of real uploads (encoded keys, ETags,
 * sizes, sequencers) instead of hand-made ones.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { S3EventRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import { jobIdFor } from '../../functions/core/job';
import { decodeS3EventKey } from '../../functions/core/event';
import { outputFolder } from '../../functions/core/naming';
import { ROOT } from '../../scripts/build-functions';
import { startBedrockStandIn, type StandIn, type StandInOptions } from '../../scripts/local/bedrock-standin';
import { defaultWorkerPath, LocalFunction, type InvocationOutcome } from '../../scripts/local/lambda-host';
import { startLocalS3, type LocalS3 } from '../../scripts/local/s3-server';
import { ensureBuilt } from './build';
import { recordLog } from './record-log';

// The test process's own S3 client: Lambda runs Node 22, this machine Node 20; the SDK's notice about it is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const TITAN = 'amazon.titan-image-generator-v2:0';
export const BUCKETS = { input: 'input', staging: 'staging', output: 'output' } as const;
const REGION = 'us-east-1';

export type FunctionName = 'prepare' | 'generate';

/** What every function gets for prepare, as the stack sets it (overridable per test). */
export const prepareEnv = (overrides: Record<string, string | undefined> = {}): Record<string, string> =>
  withoutUndefined({ STAGING_BUCKET: BUCKETS.staging, MODEL_ID: TITAN, NODE_OPTIONS: '--enable-source-maps', ...overrides });

export const generateEnv = (overrides: Record<string, string | undefined> = {}): Record<string, string> =>
  withoutUndefined({ OUTPUT_BUCKET: BUCKETS.output, MODEL_ID: TITAN, REQUEST_TIMEOUT_MS: '30000', MIN_MODEL_CALL_MS: '0', NODE_OPTIONS: '--enable-source-maps', ...overrides });

const withoutUndefined = (env: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));

export interface StartFunctionOptions {
  /** Another Bedrock endpoint than the rig's stand-in (e.g. a second stand-in). */
  readonly bedrockEndpoint?: string;
  readonly memoryMb?: number;
  readonly timeoutS?: number;
}

export interface Rig {
  readonly s3: LocalS3;
  readonly client: S3Client;
  readonly standIn: StandIn;
  readonly workDir: string;
  /** Every object-created record, in emission order. */
  readonly records: readonly S3EventRecord[];
  /** A function running the built bundle, with the rig's endpoints and these variables; closed with the rig. */
  startFunction(name: FunctionName, environment: Record<string, string>, options?: StartFunctionOptions): LocalFunction;
  /** PutObject through the real SDK; resolves with the event record S3 emitted for this write. */
  put(bucket: string, key: string, body: Uint8Array | string, metadata?: Record<string, string>): Promise<S3EventRecord>;
  /** put() into the input bucket. */
  upload(key: string, body: Uint8Array | string, metadata?: Record<string, string>): Promise<S3EventRecord>;
  /** The first record for bucket/key (decoded) at or after index `from` of `records`, waiting for it if need be. */
  waitForRecord(bucket: string, key: string, from: number, timeoutMs?: number): Promise<S3EventRecord>;
  /** The object's bytes, or undefined when it does not exist. */
  get(bucket: string, key: string): Promise<Buffer | undefined>;
  /** The object parsed as JSON; throws when it does not exist. */
  getJson<T = any>(bucket: string, key: string): Promise<T>;
  /** Every key under `prefix`, sorted. */
  list(bucket: string, prefix?: string): Promise<string[]>;
  /** The files of the output folder of input key `key` (outputFolder(key)), sorted: not those of folders nested in it. */
  outputsOf(key: string): Promise<string[]>;
  close(): Promise<void>;
}

let messageCount = 0;

/**
 * The SQS event a function receives from its stage's queue: one message per S3 record, its body
 * the notification S3 sends to the queue (`{"Records":[…]}`), as the event source mapping
 * delivers it. `receiveCount` is the message's ApproximateReceiveCount.
 */
export const sqsEventOf = (records: readonly S3EventRecord[], options: { receiveCount?: number } = {}): SQSEvent => ({
  Records: records.map((record): SQSRecord => {
    const messageId = `00000000-0000-4000-8000-${String(++messageCount).padStart(12, '0')}`;
    return {
      messageId,
      receiptHandle: `receipt-${messageId}`,
      body: JSON.stringify({ Records: [record] }),
      attributes: {
        ApproximateReceiveCount: String(options.receiveCount ?? 1),
        SentTimestamp: String(Date.now()),
        SenderId: 'AROAEXAMPLE:S3-PROD-END',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:000000000000:${record.s3.bucket.name}-queue`,
      awsRegion: REGION,
    };
  }),
});

/** The job id prepare gives the upload an event record announces. */
export const jobIdOfRecord = (record: S3EventRecord): string =>
  jobIdFor(record.s3.bucket.name, decodeS3EventKey(record.s3.object.key), record.s3.object.eTag.replace(/"/g, ''));

/** `sqsEventOf` with one first receive per record. */
export const eventOf = (...records: S3EventRecord[]): SQSEvent => sqsEventOf(records);

export const startRig = async (options: { standIn?: StandInOptions } = {}): Promise<Rig> => {
  await ensureBuilt();
  const s3 = await startLocalS3({ region: REGION });
  for (const bucket of Object.values(BUCKETS)) s3.createBucket(bucket);
  const standIn = await startBedrockStandIn({ region: REGION, ...options.standIn });
  const workDir = mkdtempSync(join(tmpdir(), 'icp-function-tests-'));

  const { records, waitForRecord: waitFor } = recordLog(s3);

  const client = new S3Client({
    region: REGION,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const functions: LocalFunction[] = [];
  let functionCount = 0;

  const waitForRecord = (bucket: string, key: string, from: number, timeoutMs = 5000): Promise<S3EventRecord> => waitFor(bucket, key, from, timeoutMs);

  const put = async (bucket: string, key: string, body: Uint8Array | string, metadata: Record<string, string> = {}): Promise<S3EventRecord> => {
    const from = records.length;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
    return waitForRecord(bucket, key, from);
  };

  const get = async (bucket: string, key: string): Promise<Buffer | undefined> => {
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404)) return undefined;
      throw error;
    }
  };

  const list = async (bucket: string, prefix = ''): Promise<string[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  };

  return {
    s3,
    client,
    standIn,
    workDir,
    records,
    startFunction(name, environment, fnOptions = {}) {
      const id = `${name}-${++functionCount}`;
      const fn = new LocalFunction(
        {
          id,
          handler: 'index.handler',
          environment,
          memoryMb: fnOptions.memoryMb ?? (name === 'prepare' ? 1769 : 512),
          timeoutS: fnOptions.timeoutS ?? 60,
        },
        {
          bundleDir: join(ROOT, 'dist', 'functions', name),
          workerPath: defaultWorkerPath(ROOT),
          baseEnv: {
            AWS_ACCESS_KEY_ID: 'local',
            AWS_SECRET_ACCESS_KEY: 'local',
            AWS_REGION: REGION,
            AWS_DEFAULT_REGION: REGION,
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fnOptions.bedrockEndpoint ?? standIn.endpoint,
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          logFile: join(workDir, 'logs', `${id}.log`),
        },
      );
      functions.push(fn);
      return fn;
    },
    put,
    upload: (key, body, metadata) => put(BUCKETS.input, key, body, metadata),
    waitForRecord,
    get,
    async getJson(bucket, key) {
      const bytes = await get(bucket, key);
      if (!bytes) throw new Error(`s3://${bucket}/${key} does not exist`);
      return JSON.parse(bytes.toString('utf8'));
    },
    list,
    async outputsOf(key) {
      const folder = outputFolder(key);
      return (await list(BUCKETS.output, folder)).filter((k) => !k.slice(folder.length).includes('/'));
    },
    async close() {
      await Promise.all(functions.map((fn) => fn.close()));
      await standIn.close();
      client.destroy();
      await s3.close({ drainTimeoutMs: 2000 });
      if (!process.env.KEEP_FUNCTION_TEST_LOGS) rmSync(workDir, { recursive: true, force: true });
    },
  };
};

/**
 * Starts a rig in a `before` hook of the enclosing describe and closes it in
 * `after`; returns an accessor (the rig exists only once the hook has run).
 */
export const useRig = (options: { standIn?: StandInOptions } = {}): (() => Rig) => {
  let rig: Rig | undefined;
  before(async function () {
    this.timeout(180_000); // a first build of the bundles included
    rig = await startRig(options);
  });
  after(async () => {
    await rig?.close();
  });
  return () => {
    if (!rig) throw new Error('The rig is not started yet: call it inside a test or hook');
    return rig;
  };
};

export interface PipelineRig {
  readonly rig: () => Rig;
  readonly prepare: () => LocalFunction;
  readonly generate: () => LocalFunction;
}

/**
 * {@link useRig} with a prepare and a generate function started with the stack's variables, for
 * tests that take an upload through both stages. The stand-in answers retired models: the functions default to
 * Titan v2, which the real service (and by default the stand-in) refuses since its end of life.
 * Faults a test injects end with the test.
 */
export const usePipelineRig = (): PipelineRig => {
  const rig = useRig({ standIn: { answerRetiredModels: true } });
  let prepare: LocalFunction | undefined;
  let generate: LocalFunction | undefined;
  before(() => {
    prepare = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'a pencil drawing' }));
    generate = rig().startFunction('generate', generateEnv());
  });
  afterEach(() => {
    rig().standIn.setFaults([]);
    rig().s3.clearFaults();
  });
  const started = (fn: LocalFunction | undefined): LocalFunction => {
    if (!fn) throw new Error('The functions are not started yet: call them inside a test or hook');
    return fn;
  };
  return { rig, prepare: () => started(prepare), generate: () => started(generate) };
};

/** Asserts-free view of an outcome for failure messages: the error, else the result. */
export const describeOutcome = (outcome: InvocationOutcome): string =>
  outcome.ok ? JSON.stringify(outcome.result) : `${outcome.error?.name}: ${outcome.error?.message}`;

/** What generate did with one job, as it logs it: `published` (it wrote the job's outcome) or why it wrote nothing. */
export type JobResult = 'published' | 'already-published' | 'superseded' | 'duplicate';

export interface LoggedJob {
  readonly jobId: string;
  readonly key: string;
  readonly result: JobResult;
}

/** generate's closing log line for a job: `job <outcome>` when it published, `job <result>` otherwise. */
const JOB_LINE = /^job (succeeded|partial|failed|already-published|superseded|duplicate)$/;

/**
 * The jobs a generate invocation handled and what became of each, read from the function's log
 * (lines carry the invocation's request id, as in CloudWatch): its result is a partial batch
 * response, which says only which messages failed. Waits up to `timeoutMs` for `expected` lines
 * (the log is written by the environment's process, a little after the result). A failed
 * invocation handled nothing.
 */
export const jobResultsOf = async (rig: Pick<Rig, 'workDir'>, outcome: InvocationOutcome, expected = 1, timeoutMs = 3000): Promise<LoggedJob[]> => {
  if (!outcome.ok) return [];
  const file = join(rig.workDir, 'logs', `${outcome.functionId}.log`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs: LoggedJob[] = [];
    for (const line of (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n')) {
      if (!line.includes(outcome.requestId)) continue;
      let entry: { message?: string; function_request_id?: string; jobId?: string; key?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      const match = entry.function_request_id === outcome.requestId ? JOB_LINE.exec(entry.message ?? '') : null;
      if (!match) continue;
      const result = ['succeeded', 'partial', 'failed'].includes(match[1]!) ? 'published' : (match[1] as JobResult);
      jobs.push({ jobId: entry.jobId ?? '', key: entry.key ?? '', result });
    }
    if (jobs.length >= expected || Date.now() > deadline) return jobs;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/**
 * Why a generate invocation handed its message back to the queue: the error it logged with
 * `job failed transiently` (the invocation itself only fails with Powertools' FullBatchFailureError).
 */
export const transientErrorOf = async (rig: Rig, outcome: InvocationOutcome, timeoutMs = 3000): Promise<string | undefined> => {
  const file = join(rig.workDir, 'logs', `${outcome.functionId}.log`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n')) {
      if (!line.includes(outcome.requestId) || !line.includes('job failed transiently')) continue;
      const entry = JSON.parse(line) as { message?: string; function_request_id?: string; error?: string };
      if (entry.function_request_id === outcome.requestId && entry.message === 'job failed transiently') return entry.error;
    }
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** Only the results of {@link jobResultsOf}. */
export const resultsOf = async (rig: Rig, outcome: InvocationOutcome, expected = 1): Promise<JobResult[]> =>
  (await jobResultsOf(rig, outcome, expected)).map((job) => job.result);

/** Every message of the invocation was handled: none is handed back to the queue. */
export const expectHandled = (outcome: InvocationOutcome): void => {
  expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
  expect(outcome.result, describeOutcome(outcome)).to.deep.equal({ batchItemFailures: [] });
};

/** A prepared job: what prepare wrote, and the records S3 emitted for the upload and for its job.json (generate's real trigger). */
export interface Staged {
  readonly jobId: string;
  readonly job: any;
  readonly upload: S3EventRecord;
  readonly jobRecord: S3EventRecord;
}

/** Upload → prepare (invoked with the real event) → the job.json record in the staging bucket. */
export const stageJob = async (
  rig: Rig,
  prepare: LocalFunction,
  key: string,
  body: Uint8Array | string,
  metadata: Record<string, string> = {},
): Promise<Staged> => {
  const upload = await rig.upload(key, body, metadata);
  const from = rig.records.length;
  const outcome = await prepare.invoke(eventOf(upload));
  expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
  const jobId = jobIdOfRecord(upload);
  const jobRecord = await rig.waitForRecord(BUCKETS.staging, `jobs/${jobId}/job.json`, from);
  const job = await rig.getJson(BUCKETS.staging, `jobs/${jobId}/job.json`);
  return { jobId, job, upload, jobRecord };
};
