/**
 * What the reliability tests share: the whole local pipeline (real bundles,
 * wiring from the synthesized stack, the Bedrock stand-in) plus a record of
 * every upload, so each file can count at the end what became of them.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { decodeS3EventKey } from '../../functions/core/event';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import { readGenerateConfig } from '../../functions/generate/config';
import { ROOT } from '../../scripts/build-functions';
import type { RecordedCall } from '../../scripts/local/bedrock-standin';
import type { InvocationOutcome } from '../../scripts/local/lambda-host';
import { STACK_JSON, startLocalPipeline, type LocalPipeline, type LocalPipelineOptions } from '../../scripts/local/pipeline';
import { ensureBuilt } from '../helpers/build';
import { addToSummary } from './summary';
import { recordLog } from '../helpers/record-log';

/** A message of the dead-letter queue: the S3 event a function failed on every receive. */
export interface DeadLetter {
  /** When S3 first sent the event. */
  readonly at: string;
  /** The function the event was for (from its bucket: input → prepare, staging → generate). */
  readonly functionId: string;
  /** The SQS message id. */
  readonly requestId: string;
  /** Receives that invoked the function (SQS counted one more to move it). */
  readonly attempts: number;
  readonly event: S3Event;
}

export interface Harness {
  readonly pipeline: LocalPipeline;
  readonly workDir: string;
  /** Every object-created record S3 emitted, in order. */
  readonly records: readonly S3EventRecord[];
  /** PutObject into the input bucket; returns the ETag (quotes removed). */
  upload(key: string, body: Uint8Array, metadata?: Record<string, string>): Promise<string>;
  /** A multipart upload (for bodies above the local server's 11 MiB PutObject limit). */
  uploadMultipart(key: string, body: Readable | Uint8Array, metadata?: Record<string, string>): Promise<string>;
  /**
   * Re-delivers an event record, as S3's at-least-once delivery may: one more message in the
   * queue its bucket notifies (which is the function's: `functionId` only names it).
   */
  redeliver(functionId: 'prepare' | 'generate', record: S3EventRecord): Promise<void>;
  /** The first record for bucket/key (decoded) at or after `from`, waiting for it. */
  waitForRecord(bucket: string, key: string, from?: number, timeoutMs?: number): Promise<S3EventRecord>;
  deadLetters(): DeadLetter[];
  /** generate's settings as its bundle reads them from the stack's environment (defaults included). */
  generateConfig(): ReturnType<typeof readGenerateConfig>;
  /** Calls whose prompt (Titan/Nova text, Stability prompt) is `prompt`. */
  callsFor(prompt: string): RecordedCall[];
  getJson(bucket: string, key: string): Promise<any | undefined>;
  /** Every key under `prefix` of `bucket`, sorted. */
  list(bucket: string, prefix: string): Promise<string[]>;
  /** The files of the output folder of input key `key` (outputFolder(key)), sorted: not those of folders nested in it. */
  outputsOf(key: string): Promise<string[]>;
  /** Counts what became of every upload and adds it to the run's summary. */
  tally(section: string): Promise<void>;
  close(): Promise<void>;
}

export const promptOf = (call: RecordedCall): string | undefined => {
  const body = call.body as { textToImageParams?: { text?: string }; prompt?: string } | undefined;
  return body?.textToImageParams?.text ?? body?.prompt;
};

/** Requests the model answered successfully more than once (same model, same body: same prompt, picture, seed, size). */
export const duplicateSuccesses = (calls: readonly RecordedCall[]): number => {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const call of calls) {
    if (call.status !== 200 || call.delivered !== true || call.imagesReturned === 0) continue;
    const fingerprint = `${call.modelId}\n${JSON.stringify(call.body)}`;
    if (seen.has(fingerprint)) duplicates++;
    seen.add(fingerprint);
  }
  return duplicates;
};

export const describeOutcomes = (outcomes: readonly InvocationOutcome[]): string =>
  outcomes
    .filter((o) => !o.ok || o.attempt > 1)
    .map((o) => `${o.functionId} attempt ${o.attempt}: ${o.ok ? 'ok' : `${o.error?.name}: ${o.error?.message}`}`)
    .join('\n') || 'all ok on the first attempt';

export const startHarness = async (options: Omit<LocalPipelineOptions, 'root' | 'workDir'> = {}): Promise<Harness> => {
  if (!existsSync(join(ROOT, STACK_JSON))) throw new Error(`${STACK_JSON} is missing: run npm run synth first (npm test does)`);
  await ensureBuilt();
  const workDir = await mkdtemp(join(tmpdir(), 'icp-reliability-'));
  const pipeline = await startLocalPipeline({
    root: ROOT,
    workDir,
    // The stand-in answers models past their announced end of life only when asked to; the stack's model may be one.
    standIn: { answerRetiredModels: true },
    ...options,
    // These tests count outcomes and calls, not time: generate's pacing of model calls is off unless a test sets it.
    variables: { model_call_min_seconds: 0, ...options.variables },
  });
  const { records, waitForRecord: waitFor } = recordLog(pipeline.s3);
  /** Latest ETag per input key, and how many uploads there were. */
  const latest = new Map<string, string>();
  let uploads = 0;
  let redelivered = 0;

  const getJson = async (bucket: string, key: string): Promise<any | undefined> => {
    try {
      const object = await pipeline.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await object.Body!.transformToString());
    } catch (error) {
      if (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404)) return undefined;
      throw error;
    }
  };

  const list = async (bucket: string, prefix: string): Promise<string[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await pipeline.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  };

  const deadLetters = (): DeadLetter[] =>
    pipeline.deadLetters().map((message) => {
      const event = JSON.parse(message.body) as S3Event;
      const bucket = event.Records?.[0]?.s3.bucket.name;
      return {
        at: new Date(message.sentTimestamp).toISOString(),
        functionId: bucket === pipeline.buckets.input ? 'prepare' : 'generate',
        requestId: message.messageId,
        attempts: message.receiveCount - 1,
        event,
      };
    });

  const harness: Harness = {
    pipeline,
    workDir,
    records,
    async upload(key, body, metadata = {}) {
      const answer = await pipeline.client.send(new PutObjectCommand({ Bucket: pipeline.buckets.input, Key: key, Body: body, Metadata: metadata }));
      const eTag = (answer.ETag ?? '').replace(/"/g, '');
      uploads++;
      latest.set(key, eTag);
      return eTag;
    },
    async uploadMultipart(key, body, metadata = {}) {
      const upload = new Upload({
        client: pipeline.client,
        params: { Bucket: pipeline.buckets.input, Key: key, Body: body, Metadata: metadata },
        partSize: 8 * 1024 * 1024,
        queueSize: 2,
      });
      const answer = await upload.done();
      const eTag = (answer.ETag ?? '').replace(/"/g, '');
      uploads++;
      latest.set(key, eTag);
      return eTag;
    },
    async redeliver(_functionId, record) {
      redelivered++;
      await pipeline.notify(record);
    },
    waitForRecord(bucket, key, from = 0, timeoutMs = 30_000) {
      return waitFor(bucket, key, from, timeoutMs);
    },
    deadLetters,
    generateConfig: () => readGenerateConfig(pipeline.wiring.functions.generate!.environment),
    callsFor: (prompt) => (pipeline.standIn?.calls ?? []).filter((call) => promptOf(call) === prompt),
    getJson,
    list,
    async outputsOf(key) {
      const folder = outputFolder(key);
      return (await list(pipeline.buckets.output, folder)).filter((k) => !k.slice(folder.length).includes('/'));
    },
    async tally(section) {
      await pipeline.idle();
      // Which input keys each dead letter stands for: prepare's event names the upload, generate's the job file.
      const deadKeys = new Set<string>();
      for (const letter of deadLetters()) {
        for (const record of letter.event.Records ?? []) {
          const key = decodeS3EventKey(record.s3.object.key);
          if (letter.functionId === 'prepare') deadKeys.add(key);
          else {
            const job = await getJson(record.s3.bucket.name, key);
            if (job?.source?.key) deadKeys.add(job.source.key);
          }
        }
      }
      let results = 0;
      let errorReports = 0;
      let deadLettered = 0;
      let lost = 0;
      let notOneOutcome = 0;
      let staleFiles = 0;
      let olderOverNewer = 0;
      for (const [key, eTag] of latest) {
        const manifest = await getJson(pipeline.buckets.output, outputKeys(key).manifest);
        const files = await harness.outputsOf(key);
        if (manifest) {
          const outputs = manifest.outputs ?? {};
          const listed = new Set<string>([...(outputs.images ?? []), outputs.edges, outputs.contactSheet, outputs.error, outputKeys(key).manifest].filter((k): k is string => typeof k === 'string'));
          staleFiles += files.filter((file) => !listed.has(file)).length;
          if (manifest.source?.eTag !== eTag) olderOverNewer++;
          const complete = [...listed].every((k) => files.includes(k));
          const pictures = (outputs.images ?? []).length > 0;
          const one = complete && manifest.source?.eTag === eTag && (outputs.error ? !pictures : pictures);
          if (!one) notOneOutcome++;
        } else {
          notOneOutcome++;
        }
        if (manifest && manifest.source?.eTag === eTag && manifest.source?.key === key) {
          if (manifest.outcome === 'failed') errorReports++;
          else results++;
        } else if (deadKeys.has(key)) deadLettered++;
        else lost++;
      }
      const calls = pipeline.standIn?.calls ?? [];
      addToSummary(section, {
        inputs: uploads,
        redelivered,
        results,
        errorReports,
        deadLettered,
        lost,
        modelCalls: calls.length,
        duplicateCallsBilled: duplicateSuccesses(calls),
        abandonedAnswers: calls.filter((c) => c.status === 200 && c.delivered === false).length,
        notOneOutcome,
        staleFiles,
        olderOverNewer,
      });
    },
    async close() {
      await pipeline.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
  return harness;
};

/**
 * Starts a harness in a `before` hook of the enclosing describe; in `after`,
 * tallies it into the summary under `section` and closes it.
 */
export const useHarness = (section: string, options: Omit<LocalPipelineOptions, 'root' | 'workDir'> = {}): (() => Harness) => {
  let harness: Harness | undefined;
  before(async function () {
    this.timeout(180_000); // a first build of the bundles included
    harness = await startHarness(options);
  });
  after(async function () {
    this.timeout(60_000);
    if (!harness) return;
    try {
      await harness.tally(section);
    } finally {
      await harness.close();
    }
  });
  return () => {
    if (!harness) throw new Error('The harness is not started yet: call it inside a test or hook');
    return harness;
  };
};
