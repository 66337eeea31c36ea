/**
 * The whole pipeline on this machine: the embedded S3 server, the functions'
 * bundles in local execution environments, the notifications that connect
 * them — all read from the synthesized stack — and the Bedrock stand-in
 * unless AWS_ENDPOINT_URL_BEDROCK_RUNTIME already names an endpoint.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeS3EventKey } from '../../functions/core/event';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import { startBedrockStandIn, type StandIn, type StandInOptions } from './bedrock-standin';
import { defaultWorkerPath, LocalFunction } from './lambda-host';
import { assertInside, localPathInside } from './local-path';
import { startLocalS3, type LocalS3 } from './s3-server';
import { matches, readWiring, type Wiring } from './wiring';

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
  /** Where logs and the dead-letter file go. */
  readonly workDir: string;
  /** The synthesized stack to read. @default `<root>/cdktf.out/stacks/image-conditioning-pipeline/cdk.tf.json` */
  readonly stackJson?: string;
  /** Terraform variable values, as `-var` would give them. */
  readonly variables?: Record<string, unknown>;
  /** Options for the stand-in (ignored when an endpoint is given). */
  readonly standIn?: StandInOptions;
  /** An existing Bedrock endpoint; default: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, else a stand-in. */
  readonly bedrockEndpoint?: string;
  readonly retryDelayMs?: (attempt: number) => number;
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
  readonly s3: LocalS3;
  readonly client: S3Client;
  readonly buckets: { readonly input: string; readonly staging: string; readonly output: string };
  readonly functions: Readonly<Record<string, LocalFunction>>;
  readonly standIn?: StandIn;
  readonly bedrockEndpoint: string;
  readonly deadLetterFile: string;
  /** The variables a user's shell needs to reach this S3 server with the AWS CLI. */
  readonly cliEnv: Readonly<Record<string, string>>;
  upload(key: string, body: Uint8Array, metadata?: Record<string, string>): Promise<void>;
  /** Waits until the manifest for `key` exists (written last by generate). */
  waitForOutcome(key: string, timeoutMs?: number): Promise<Outcome>;
  /**
   * Copies the files of the output folder of `key` into `dir` (at the path
   * {@link localPathInside} gives each object key); returns the written paths. Whatever the key,
   * nothing outside `dir` is written or deleted.
   */
  download(key: string, dir: string): Promise<string[]>;
  /** Resolves when no function has work queued, running or waiting for a retry. */
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
  const region = String(wiring.variables.region ?? 'us-east-1');
  for (const id of ['input', 'staging', 'output', 'prepare', 'generate']) {
    if (!(id in wiring.buckets) && !(id in wiring.functions)) throw new Error(`The synthesized stack has no resource with logical id "${id}"`);
  }
  const s3 = await startLocalS3({ region });
  for (const name of Object.values(wiring.buckets)) s3.createBucket(name);

  const external = options.bedrockEndpoint ?? process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
  const standIn = external ? undefined : await startBedrockStandIn({ region, ...options.standIn });
  const bedrockEndpoint = external ?? standIn!.endpoint;

  const baseEnv = {
    ...CREDENTIALS,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrockEndpoint,
    // The local run must never read the developer's real profile or reach AWS.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    // Lambda runs these bundles on Node 22; the SDK's warning about this machine's Node 20 is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const deadLetterFile = join(options.workDir, 'dead-letter.jsonl');
  const functions: Record<string, LocalFunction> = {};
  for (const [id, fn] of Object.entries(wiring.functions)) {
    functions[id] = new LocalFunction(fn, {
      bundleDir: join(options.root, 'dist', 'functions', id),
      workerPath: defaultWorkerPath(options.root),
      baseEnv,
      logFile: join(options.workDir, 'logs', `${id}.log`),
      deadLetterFile,
      ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
    });
  }

  const manifestWaiters = new Map<string, (() => void)[]>();
  s3.onObjectCreated((record) => {
    const bucketId = bucketIdOf(wiring, record.s3.bucket.name);
    if (!bucketId) return;
    const key = decodeS3EventKey(record.s3.object.key);
    for (const notification of wiring.notifications) {
      if (matches(notification, bucketId, record.eventName, key)) {
        functions[notification.functionId]!.invokeAsync({ Records: [record] });
      }
    }
    if (bucketId === 'output') for (const wake of manifestWaiters.get(key) ?? []) wake();
  });

  const client = new S3Client({ region, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const buckets = { input: wiring.buckets.input!, staging: wiring.buckets.staging!, output: wiring.buckets.output! };

  const exists = async (key: string): Promise<boolean> => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: buckets.output, Prefix: key, MaxKeys: 1 }));
    return (listed.Contents ?? []).some((o) => o.Key === key);
  };
  const readJson = async (key: string): Promise<Record<string, any>> => {
    const object = await client.send(new GetObjectCommand({ Bucket: buckets.output, Key: key }));
    return JSON.parse(await object.Body!.transformToString());
  };

  return {
    wiring,
    s3,
    client,
    buckets,
    functions,
    ...(standIn ? { standIn } : {}),
    bedrockEndpoint,
    deadLetterFile,
    cliEnv: { ...CREDENTIALS, AWS_DEFAULT_REGION: region },
    async upload(key, body, metadata = {}) {
      await client.send(new PutObjectCommand({ Bucket: buckets.input, Key: key, Body: body, Metadata: metadata }));
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
      // Functions write objects that trigger other functions: loop until everything is quiet.
      for (;;) {
        await s3.idle();
        await Promise.all(Object.values(functions).map((fn) => fn.idle()));
        await s3.idle();
        if (Object.values(functions).every((fn) => fn.isIdle())) return;
      }
    },
    async close() {
      await Promise.all(Object.values(functions).map((fn) => fn.close()));
      await standIn?.close();
      client.destroy();
      await s3.close({ drainTimeoutMs: 2000 });
    },
  };
};
