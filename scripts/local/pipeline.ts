/**
 * The whole pipeline on this machine, wired as the synthesized stack wires it:
 * the embedded server (fauxqs) as S3 and SQS, with the stack's buckets and
 * queues (visibility timeout, retention, redrive policy to the dead-letter
 * queue); S3 notifications sent to the queues as S3 sends them (one record per
 * message, and a test event per notification at start); one runner per event
 * source mapping (event-source-mapping.ts) that polls its queue and invokes
 * the function's bundle in local execution environments (lambda-host.ts) with
 * the mapping's batch size and maximum concurrency; and the Bedrock stand-in
 * unless AWS_ENDPOINT_URL_BEDROCK_RUNTIME already names an endpoint.
 *
 * `timeScale` (default 1) multiplies SQS's times — visibility timeouts,
 * retention, batching windows — so tests can compress a backlog's hours into
 * seconds; the functions' own timeouts and work run in real time (see
 * event-source-mapping.ts).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { S3EventRecord } from 'aws-lambda';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeS3EventKey } from '../../functions/core/event';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import { startBedrockStandIn, type StandIn, type StandInOptions } from './bedrock-standin';
import { MappingRunner } from './event-source-mapping';
import { defaultWorkerPath, LocalFunction } from './lambda-host';
import { assertInside, localPathInside } from './local-path';
import { createQueues, s3EventMessage, s3TestEventMessage, sendToQueue, type LocalQueue } from './queues';
import { startLocalS3, type LocalS3, type QueuedMessage } from './s3-server';
import { checkPipelineWiring, matches, readWiring, type Wiring } from './wiring';

export const STACK_JSON = join('cdktf.out', 'stacks', 'image-conditioning-pipeline', 'cdk.tf.json');

/**
 * Synthesizes the stack for another model into `outdir` and returns its JSON's
 * path. The model is fixed at synth time (the generate role may invoke only its
 * ARNs), so this is what `cdktf deploy` with ICP_MODEL_ID would produce.
 */
export const synthesizeFor = async (modelId: string, outdir: string): Promise<string> => {
  const { createApp, stackJsonPath } = await import('../../terraform/app');
  const { readSynthConfig, SynthEnv } = await import('../../terraform/synth-config');
  await mkdir(outdir, { recursive: true });
  createApp({ outdir, synth: readSynthConfig({ ...process.env, [SynthEnv.MODEL_ID]: modelId }) }).synth();
  return stackJsonPath(outdir);
};

export interface LocalPipelineOptions {
  /** Repository root (bundles under dist/, stack under cdktf.out/). */
  readonly root: string;
  /** Where logs go. */
  readonly workDir: string;
  /** The synthesized stack to read. @default `<root>/cdktf.out/stacks/image-conditioning-pipeline/cdk.tf.json` */
  readonly stackJson?: string;
  /** Terraform variable values, as `-var` would give them. */
  readonly variables?: Record<string, unknown>;
  /** Options for the stand-in (ignored when an endpoint is given). */
  readonly standIn?: StandInOptions;
  /** An existing Bedrock endpoint; default: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, else a stand-in. */
  readonly bedrockEndpoint?: string;
  /**
   * Multiplies SQS's times: visibility timeouts, retention, batching windows (0.01: a 360 s
   * visibility timeout lasts 3.6 s). Not the functions' timeouts. @default 1
   */
  readonly timeScale?: number;
  /** Send S3's `s3:TestEvent` message to each notified queue at start, as S3 does when a notification is configured. @default true */
  readonly s3TestEvents?: boolean;
  /**
   * Node options for each function's execution environments, by function id (see
   * HostOptions.execArgv). @default with ICP_LOCAL_CPU_PROF=<dir> set, `--cpu-prof` into
   * `<dir>/<function id>/` (written when the pipeline closes), else none
   */
  readonly execArgv?: Readonly<Record<string, readonly string[]>>;
}

export interface Outcome {
  /** The output folder (ends with `/`). */
  readonly prefix: string;
  /** Keys directly in the output folder, once the manifest is there. */
  readonly keys: readonly string[];
  readonly manifest: Record<string, any>;
  readonly error?: Record<string, any>;
}

export interface LocalPipeline {
  readonly wiring: Wiring;
  /** The embedded server: S3, and SQS on the same endpoint. */
  readonly s3: LocalS3;
  readonly client: S3Client;
  readonly sqs: SQSClient;
  readonly buckets: { readonly input: string; readonly staging: string; readonly output: string };
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** The stack's queues by logical id, with their local URLs. */
  readonly queues: Readonly<Record<string, LocalQueue>>;
  /** The event source mappings' runners, by the id of the function each one feeds. */
  readonly mappings: Readonly<Record<string, MappingRunner>>;
  readonly timeScale: number;
  readonly standIn?: StandIn;
  readonly bedrockEndpoint: string;
  /** The variables a user's shell needs to reach this S3 server with the AWS CLI. */
  readonly cliEnv: Readonly<Record<string, string>>;
  upload(key: string, body: Uint8Array, metadata?: Record<string, string>): Promise<void>;
  /** Sends an S3 event record again to the queues its bucket notifies, as S3's at-least-once delivery may. */
  notify(record: S3EventRecord): Promise<void>;
  /** The messages in the dead-letter queues, without receiving them. */
  deadLetters(): QueuedMessage[];
  /** Waits until the manifest for `key` exists (written last by generate). */
  waitForOutcome(key: string, timeoutMs?: number): Promise<Outcome>;
  /**
   * Copies the files of the output folder of `key` into `dir` (at the path
   * {@link localPathInside} gives each object key); returns the written paths. Whatever the key,
   * nothing outside `dir` is written or deleted.
   */
  download(key: string, dir: string): Promise<string[]>;
  /**
   * Resolves when nothing is left to do: S3 quiet, the source queues empty (no message ready,
   * in flight or waiting out a visibility timeout), no invocation running. The dead-letter
   * queue may hold messages.
   */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The keys directly in a folder (`<prefix>/`); nested folders (`a/b/` in `a/`) are other uploads'. */
const listFolder = async (client: S3Client, bucket: string, folder: string): Promise<string[]> => {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, Delimiter: '/', ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
};

/**
 * Copies the objects directly in `folder` (a key prefix ending with `/`) of `bucket` into `dir`,
 * each at the path {@link localPathInside} gives its key, after deleting the files a previous
 * copy left in that local folder; returns the written paths. Keys are whatever was uploaded
 * (`../x`, `/abs`…): every path is checked to lie inside `dir` before anything is deleted or
 * written there, so nothing outside `dir` ever changes.
 */
export const downloadFolder = async (client: S3Client, bucket: string, folder: string, dir: string): Promise<string[]> => {
  if (!folder.endsWith('/')) throw new Error(`Not a folder: ${JSON.stringify(folder)}`);
  const objectKeys = await listFolder(client, bucket, folder);
  const localFolder = localPathInside(dir, folder.slice(0, -1));
  // A previous run's files (say, an old error.json) must not sit beside this outcome;
  // subdirectories hold other uploads' folders.
  for (const entry of await readdir(localFolder, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) await rm(assertInside(dir, join(localFolder, entry.name)), { force: true });
  }
  const written: string[] = [];
  for (const objectKey of objectKeys) {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
    const path = localPathInside(dir, objectKey);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await object.Body!.transformToByteArray());
    written.push(path);
  }
  return written;
};

const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' } as const;

const bucketIdOf = (wiring: Wiring, name: string): string | undefined =>
  Object.entries(wiring.buckets).find(([, bucket]) => bucket === name)?.[0];

export const startLocalPipeline = async (options: LocalPipelineOptions): Promise<LocalPipeline> => {
  const wiring = await readWiring(options.stackJson ?? join(options.root, STACK_JSON), { bucketSuffix: 'local', variableOverrides: options.variables ?? {} });
  checkPipelineWiring(wiring, { buckets: ['input', 'staging', 'output'], functions: ['prepare', 'generate'] });
  const region = wiring.region;
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be above 0, got ${timeScale}`);
  const s3 = await startLocalS3({ region });
  for (const name of Object.values(wiring.buckets)) s3.createBucket(name);
  const credentials = { accessKeyId: CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: CREDENTIALS.AWS_SECRET_ACCESS_KEY };
  // A backlog's notifications and the mappings' long polls go out at once: more than the SDK's 50 sockets.
  const requestHandler = { httpAgent: { keepAlive: true, maxSockets: 512 } };
  const sqs = new SQSClient({ region, endpoint: s3.endpoint, credentials, requestHandler });
  const queues = await createQueues(sqs, wiring);

  const external = options.bedrockEndpoint ?? process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
  const standIn = external ? undefined : await startBedrockStandIn({ region, ...options.standIn });
  const bedrockEndpoint = external ?? standIn!.endpoint;

  const baseEnv = {
    ...CREDENTIALS,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    // The functions need no SQS client (the event source mapping is the runner's job); if one ever does, it finds the queues here.
    AWS_ENDPOINT_URL_SQS: s3.endpoint,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrockEndpoint,
    // The local run must never read the developer's real profile or reach AWS.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    // Lambda runs these bundles on Node 22; the SDK's warning about this machine's Node 20 is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const functions: Record<string, LocalFunction> = {};
  for (const [id, fn] of Object.entries(wiring.functions)) {
    functions[id] = new LocalFunction(fn, {
      bundleDir: join(options.root, 'dist', 'functions', id),
      workerPath: defaultWorkerPath(options.root),
      baseEnv,
      logFile: join(options.workDir, 'logs', `${id}.log`),
      execArgv: options.execArgv?.[id] ?? (process.env.ICP_LOCAL_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.ICP_LOCAL_CPU_PROF, id)}`] : []),
    });
  }
  const mappings: Record<string, MappingRunner> = {};
  for (const mapping of wiring.eventSourceMappings) {
    if (!functions[mapping.functionId]) throw new Error(`aws_lambda_event_source_mapping.${mapping.id} feeds unknown function ${mapping.functionId}`);
    mappings[mapping.functionId] = new MappingRunner({ mapping, queue: queues[mapping.queueId]!, fn: functions[mapping.functionId]!, client: sqs, region, timeScale });
  }

  /** S3's side of the notifications: one message per event record to each queue whose notification matches. */
  const notify = async (record: S3EventRecord): Promise<void> => {
    const bucketId = bucketIdOf(wiring, record.s3.bucket.name);
    if (!bucketId) return;
    const key = decodeS3EventKey(record.s3.object.key);
    const targets = wiring.notifications.filter((notification) => matches(notification, bucketId, record.eventName, key));
    await Promise.all(targets.map((notification) => sendToQueue(sqs, queues[notification.queueId]!.url, s3EventMessage(record))));
  };
  const manifestWaiters = new Map<string, (() => void)[]>();
  s3.onObjectCreated((record) => {
    const key = decodeS3EventKey(record.s3.object.key);
    if (record.s3.bucket.name === wiring.buckets.output) for (const wake of manifestWaiters.get(key) ?? []) wake();
    return notify(record);
  });
  if (options.s3TestEvents ?? true) {
    for (const notification of wiring.notifications) await sendToQueue(sqs, queues[notification.queueId]!.url, s3TestEventMessage(wiring.buckets[notification.bucketId]!));
  }
  for (const runner of Object.values(mappings)) runner.start();

  const client = new S3Client({ region, endpoint: s3.endpoint, forcePathStyle: true, credentials, requestHandler });
  const buckets = { input: wiring.buckets.input!, staging: wiring.buckets.staging!, output: wiring.buckets.output! };
  const sourceQueues = [...new Set(wiring.eventSourceMappings.map((m) => queues[m.queueId]!))];
  const deadLetterQueues = [...new Set(Object.values(wiring.queues).flatMap((q) => (q.redrive ? [queues[q.redrive.deadLetterQueueId]!] : [])))];

  const exists = async (key: string): Promise<boolean> => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: buckets.output, Prefix: key, MaxKeys: 1 }));
    return (listed.Contents ?? []).some((o) => o.Key === key);
  };
  const readJson = async (key: string): Promise<Record<string, any>> => {
    const object = await client.send(new GetObjectCommand({ Bucket: buckets.output, Key: key }));
    return JSON.parse(await object.Body!.transformToString());
  };
  const quiet = (): boolean =>
    Object.values(mappings).every((runner) => runner.isIdle()) &&
    Object.values(functions).every((fn) => fn.isIdle()) &&
    sourceQueues.every((queue) => {
      const snapshot = s3.inspectQueue(queue.name);
      return !snapshot || snapshot.ready.length + snapshot.inflight.length + snapshot.delayed.length === 0;
    });

  return {
    wiring,
    s3,
    client,
    sqs,
    buckets,
    functions,
    queues,
    mappings,
    timeScale,
    ...(standIn ? { standIn } : {}),
    bedrockEndpoint,
    cliEnv: { ...CREDENTIALS, AWS_DEFAULT_REGION: region },
    async upload(key, body, metadata = {}) {
      await client.send(new PutObjectCommand({ Bucket: buckets.input, Key: key, Body: body, Metadata: metadata }));
    },
    notify,
    deadLetters() {
      return deadLetterQueues.flatMap((queue) => {
        const snapshot = s3.inspectQueue(queue.name);
        return snapshot ? [...snapshot.ready, ...snapshot.inflight, ...snapshot.delayed] : [];
      });
    },
    async waitForOutcome(key, timeoutMs = 60_000) {
      const keys = outputKeys(key);
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`No ${keys.manifest} after ${timeoutMs} ms; see ${join(options.workDir, 'logs')}`)), timeoutMs);
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        manifestWaiters.set(keys.manifest, [...(manifestWaiters.get(keys.manifest) ?? []), wake]);
        void exists(keys.manifest).then((found) => found && wake());
      });
      await arrived;
      manifestWaiters.delete(keys.manifest);
      const manifest = await readJson(keys.manifest);
      const prefix = outputFolder(key);
      const all = await listFolder(client, buckets.output, prefix);
      return { prefix, keys: all, manifest, ...(all.includes(keys.error) ? { error: await readJson(keys.error) } : {}) };
    },
    async download(key, dir) {
      return downloadFolder(client, buckets.output, outputFolder(key), dir);
    },
    async idle() {
      // Functions write objects that notify queues that feed functions: wait until all is quiet twice in a row.
      let calm = 0;
      while (calm < 2) {
        await s3.idle();
        calm = quiet() ? calm + 1 : 0;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      // Stop receiving, end the invocations still running (their messages come back later, as
      // after a crash), then let the runners finish.
      const stopping = Promise.all(Object.values(mappings).map((runner) => runner.stop()));
      await Promise.all(Object.values(functions).map((fn) => fn.close()));
      await stopping;
      await standIn?.close();
      client.destroy();
      sqs.destroy();
      await s3.close({ drainTimeoutMs: 2000 });
    },
  };
};
