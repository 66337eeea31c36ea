/**
 * Where `npm run upload` and `npm run status` send their requests: the deployed stack, found
 * from its Terraform outputs, or a local run (`--endpoint`, as `npm start -- --watch` prints),
 * whose buckets and queues are the ones the local pipeline makes from the synthesized
 * cdk.tf.json.
 *
 * Deployed: `terraform output -json` in cdktf.out/stacks/image-conditioning-pipeline (as
 * scripts/deploy.ts applied it; the state is the repository's
 * terraform.image-conditioning-pipeline.tfstate), for input_bucket_name,
 * output_bucket_name, staging_bucket_name and the queue URLs; `--input-bucket` /
 * `--output-bucket` name the buckets without Terraform. Credentials and region come from the
 * usual AWS sources (the queue URLs carry their region; S3 follows a bucket's region).
 *
 * @module
 */
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { StackOutputName } from '../../terraform/outputs';
import { ROOT } from '../build-functions';
import { STACK_JSON } from '../local/pipeline';
import { terraformBinary } from '../terraform-cli';

export const STACK_DIR = join(ROOT, 'cdktf.out', 'stacks', 'image-conditioning-pipeline');

export interface TargetOptions {
  /** A local run's S3/SQS endpoint. */
  readonly endpoint?: string;
  /** The synthesized stack a local run was made from. @default cdktf.out/…/cdk.tf.json */
  readonly stack?: string;
  readonly inputBucket?: string;
  readonly outputBucket?: string;
  readonly region?: string;
}

export interface Target {
  /** `the deployed stack (Terraform outputs)`, `the local run at http://…`. */
  readonly where: string;
  readonly local: boolean;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly buckets: { readonly input?: string; readonly staging?: string; readonly output?: string };
  /** Queue URLs, when known. */
  readonly queues: { readonly prepare?: string; readonly generate?: string; readonly deadLetter?: string };
  /** Variables the `aws` CLI needs to reach this target (a local run's dummy credentials). */
  readonly cliEnv: Readonly<Record<string, string>>;
  close(): void;
}

/**
 * The stack's Terraform outputs, name → value.
 * @param otherwise what the command takes instead of a deployed stack, for the error
 * @throws Error saying to deploy first, or `otherwise`.
 */
export const terraformOutputs = (
  stackDir = STACK_DIR,
  otherwise = 'name the buckets with --input-bucket/--output-bucket, or a local run with --endpoint',
): Partial<Record<StackOutputName, string>> => {
  let json: string;
  try {
    json = execFileSync(terraformBinary(), [`-chdir=${stackDir}`, 'output', '-json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' },
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message).trim();
    throw new Error(`Could not read the Terraform outputs in ${stackDir} (${stderr.split('\n').slice(-3).join(' ')}). Deploy first (npm run deploy), or ${otherwise}.`);
  }
  const outputs = JSON.parse(json) as Record<string, { value: unknown }>;
  return Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, String(output.value)]));
};

const regionOfQueueUrl = (url: string | undefined): string | undefined => (url ? /^https:\/\/sqs\.([a-z0-9-]+)\./.exec(url)?.[1] : undefined);

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const localTarget = async (endpoint: string, options: TargetOptions): Promise<Target> => {
  const { readWiring } = await import('../local/wiring');
  const stack = options.stack ?? join(ROOT, STACK_JSON);
  const wiring = await readWiring(stack, { bucketSuffix: 'local' });
  const region = wiring.region;
  const s3 = new S3Client({ region, endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const sqs = new SQSClient({ region, endpoint, credentials: LOCAL_CREDENTIALS });
  const urlOf = async (queueId: string | undefined): Promise<string | undefined> => {
    const name = queueId ? wiring.queues[queueId]?.name : undefined;
    if (!name) return undefined;
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  };
  const queueOf = (functionId: string): string | undefined => wiring.eventSourceMappings.find((m) => m.functionId === functionId)?.queueId;
  const deadLetterId = Object.values(wiring.queues).find((q) => q.redrive)?.redrive?.deadLetterQueueId;
  return {
    where: `the local run at ${endpoint}`,
    local: true,
    s3,
    sqs,
    buckets: { input: options.inputBucket ?? wiring.buckets.input, staging: wiring.buckets.staging, output: options.outputBucket ?? wiring.buckets.output },
    queues: { prepare: await urlOf(queueOf('prepare')), generate: await urlOf(queueOf('generate')), deadLetter: await urlOf(deadLetterId) },
    cliEnv: { AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: region },
    close() {
      s3.destroy();
      sqs.destroy();
    },
  };
};

export const resolveTarget = async (options: TargetOptions): Promise<Target> => {
  if (options.endpoint) return localTarget(options.endpoint, options);
  const named = options.inputBucket !== undefined && options.outputBucket !== undefined;
  const outputs = named ? (() => { try { return terraformOutputs(); } catch { return {}; } })() : terraformOutputs();
  const queues = { prepare: outputs.prepare_queue_url, generate: outputs.generate_queue_url, deadLetter: outputs.dead_letter_queue_url };
  const region = options.region ?? regionOfQueueUrl(queues.deadLetter);
  const s3 = new S3Client({ ...(region ? { region } : {}), followRegionRedirects: true });
  const sqs = new SQSClient({ ...(region ? { region } : {}) });
  return {
    where: named ? 'the buckets named on the command line' : 'the deployed stack (Terraform outputs)',
    local: false,
    s3,
    sqs,
    buckets: { input: options.inputBucket ?? outputs.input_bucket_name, staging: outputs.staging_bucket_name, output: options.outputBucket ?? outputs.output_bucket_name },
    queues,
    cliEnv: {},
    close() {
      s3.destroy();
      sqs.destroy();
    },
  };
};
