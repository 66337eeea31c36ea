import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity/index.js';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { LocalBackend, TerraformOutput, TerraformStack, Token } from 'cdktf';
import type { Construct } from 'constructs';
import { invokeResourceArns } from '../functions/core/models/catalogue.js';
import { locateBuildOutput } from './build-output.js';
import { BucketTrigger } from './constructs/bucket-trigger.js';
import { DeadLetterQueue } from './constructs/dead-letter-queue.js';
import { HardenedBucket } from './constructs/hardened-bucket.js';
import { NodeLayer } from './constructs/node-layer.js';
import { PipelineFunction } from './constructs/pipeline-function.js';
import type { SynthConfig } from './synth-config.js';
import { declareVariables, GENERATE_TIMEOUT_MARGIN_S } from './variables.js';

export const STACK_NAME = 'image-conditioning-pipeline';

/** Where prepare writes a job and what generate listens for: the job file is written last. */
export const JOB_PREFIX = 'jobs/';
export const JOB_FILE_SUFFIX = '/job.json';
/** Folder under `jobs/<jobId>/` where generate keeps its request claims (see functions/core/claim.ts). */
export const CLAIMS_DIR = 'claims';

/** Upload limits passed to prepare: 50 MiB, and 60 megapixels (a decompression-bomb guard). */
export const MAX_INPUT_BYTES = 52_428_800;
export const MAX_INPUT_PIXELS = 60_000_000;

export interface PipelineStackProps extends SynthConfig {
  /**
   * Absolute path of the build output: `functions/prepare`, `functions/generate`
   * and `layer` below it (see `BuildLayout`). A prop rather than a fixed path so
   * tests can synthesize against stub directories.
   */
  readonly distDir: string;
  /**
   * Absolute path of the local state file.
   * @default - cdktf's default, `terraform.<stack>.tfstate` in the working directory at synth time
   */
  readonly stateFile?: string;
}

/**
 * input bucket → prepare → staging bucket (`jobs/<id>/…`, `job.json` last) →
 * generate → output bucket. Three buckets, so that no function is triggered by
 * its own writes.
 */
export class PipelineStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id);
    const build = locateBuildOutput(props.distDir);
    const vars = declareVariables(this, props);
    if (props.stateFile !== undefined) {
      new LocalBackend(this, { path: props.stateFile });
    }

    new AwsProvider(this, 'aws', {
      region: vars.region.stringValue,
      defaultTags: [{ tags: { Project: STACK_NAME } }],
    });
    const caller = new DataAwsCallerIdentity(this, 'current');
    caller.overrideLogicalId('current');

    // Computed here, not in Terraform, from the synthesized model and region (see SynthConfig);
    // throws when the model is not offered in the region, so such a stack is never written.
    const bedrockResources = invokeResourceArns(props.modelId, props.region, caller.accountId);

    const namePrefix = vars.namePrefix.stringValue;
    const forceDestroy = vars.forceDestroy.booleanValue;
    const kmsKeyArn = vars.kmsKeyArn.stringValue;
    const input = new HardenedBucket(this, 'input', { bucketPrefix: `${namePrefix}-input-`, forceDestroy, kmsKeyArn });
    const staging = new HardenedBucket(this, 'staging', {
      bucketPrefix: `${namePrefix}-staging-`,
      forceDestroy,
      kmsKeyArn,
      expireObjectsAfterDays: vars.stagingExpirationDays.numberValue,
    });
    const output = new HardenedBucket(this, 'output', { bucketPrefix: `${namePrefix}-output-`, forceDestroy, kmsKeyArn });

    const deadLetters = new DeadLetterQueue(this, 'dead_letters', {
      queueName: `${namePrefix}-dead-letters`,
      alarmEmail: vars.alarmEmail.stringValue,
    });
    // Both functions: bounded retries and age, then the event goes to the queue.
    const asyncInvoke = {
      maximumRetryAttempts: vars.maximumRetryAttempts.numberValue,
      maximumEventAgeInSeconds: vars.maximumEventAgeS.numberValue,
      onFailureDestinationArn: deadLetters.queue.arn,
    };
    const bucketKey = { keyArn: kmsKeyArn, region: props.region };
    const logRetentionDays = vars.logRetentionDays.numberValue;

    const sharp = new NodeLayer(this, 'sharp', {
      layerName: `${namePrefix}-sharp`,
      contentDir: build.layer,
      description: 'sharp with libvips for linux-arm64 (glibc)',
    });

    const prepare = new PipelineFunction(this, 'prepare', {
      functionName: `${namePrefix}-prepare`,
      codeDir: build.prepare,
      memorySize: vars.prepareMemoryMb.numberValue,
      timeout: vars.prepareTimeoutS.numberValue,
      logRetentionDays,
      asyncInvoke,
      bucketKey,
      layers: [sharp.layer.arn],
      environment: {
        STAGING_BUCKET: staging.bucket.bucket,
        MODEL_ID: vars.modelId.stringValue,
        DEFAULT_PROMPT: vars.defaultPrompt.stringValue,
        DEFAULT_NEGATIVE_PROMPT: vars.defaultNegativePrompt.stringValue,
        DEFAULT_CONTROL_MODE: vars.defaultControlMode.stringValue,
        DEFAULT_CONTROL_STRENGTH: Token.asString(vars.defaultControlStrength.value),
        DEFAULT_COUNT: Token.asString(vars.defaultCount.value),
        DEFAULT_QUALITY: vars.defaultQuality.stringValue,
        MAX_INPUT_BYTES: String(MAX_INPUT_BYTES),
        MAX_INPUT_PIXELS: String(MAX_INPUT_PIXELS),
        NODE_OPTIONS: '--enable-source-maps',
      },
      grants: [
        { sid: 'ReadUploads', actions: ['s3:GetObject'], resources: [`${input.bucket.arn}/*`] },
        // Without it S3 answers 403 instead of 404 for an upload deleted before prepare ran,
        // and prepare could not tell "gone" (report it) from "forbidden" (retry).
        { sid: 'TellDeletedUploads', actions: ['s3:ListBucket'], resources: [input.bucket.arn] },
        { sid: 'WriteJobs', actions: ['s3:PutObject'], resources: [`${staging.bucket.arn}/${JOB_PREFIX}*`] },
      ],
    });

    const generate = new PipelineFunction(this, 'generate', {
      functionName: `${namePrefix}-generate`,
      codeDir: build.generate,
      memorySize: vars.generateMemoryMb.numberValue,
      timeout: vars.generateTimeoutS.numberValue,
      // Caps concurrent model calls so a burst of uploads waits in Lambda's queue instead of being throttled by Bedrock.
      reservedConcurrentExecutions: vars.generateReservedConcurrency.numberValue,
      logRetentionDays,
      asyncInvoke,
      bucketKey,
      environment: {
        OUTPUT_BUCKET: output.bucket.bucket,
        MODEL_ID: vars.modelId.stringValue,
        // A Terraform expression rather than a number computed here, so overriding
        // generate_timeout_s can never leave the request deadline past the function's.
        REQUEST_TIMEOUT_MS: `\${(var.generate_timeout_s - ${GENERATE_TIMEOUT_MARGIN_S}) * 1000}`,
        NODE_OPTIONS: '--enable-source-maps',
      },
      grants: [
        // The job file, the staged pictures, and the request claims beside them.
        { sid: 'ReadJobs', actions: ['s3:GetObject'], resources: [`${staging.bucket.arn}/${JOB_PREFIX}*`] },
        // One claim per request (conditional PutObject) so a duplicate event never pays for a second model call.
        // Claim keys end in "<fingerprint>.json", never in the staging trigger's "/job.json" suffix.
        { sid: 'ClaimRequests', actions: ['s3:PutObject'], resources: [`${staging.bucket.arn}/${JOB_PREFIX}*/${CLAIMS_DIR}/*`] },
        // Write-only: generate never reads the output bucket.
        { sid: 'WriteResults', actions: ['s3:PutObject'], resources: [`${output.bucket.arn}/*`] },
        // A success removes the error.json of an earlier failed upload of the same name, and nothing else.
        { sid: 'ClearStaleReports', actions: ['s3:DeleteObject'], resources: [`${output.bucket.arn}/*/error.json`] },
        { sid: 'InvokeModel', actions: ['bedrock:InvokeModel'], resources: bedrockResources },
      ],
    });

    new BucketTrigger(this, 'input-trigger', {
      bucket: input.bucket,
      target: prepare.function,
      sourceAccount: caller.accountId,
    });
    new BucketTrigger(this, 'staging-trigger', {
      bucket: staging.bucket,
      target: generate.function,
      sourceAccount: caller.accountId,
      filterPrefix: JOB_PREFIX,
      filterSuffix: JOB_FILE_SUFFIX,
    });

    const outputs: Record<string, { value: string; description: string }> = {
      input_bucket_name: { value: input.bucket.bucket, description: 'Name of the bucket to upload photos to; each upload starts a job.' },
      staging_bucket_name: {
        value: staging.bucket.bucket,
        description: `Name of the bucket holding each job's intermediate files under ${JOB_PREFIX}<jobId>/, deleted after staging_expiration_days.`,
      },
      output_bucket_name: { value: output.bucket.bucket, description: 'Name of the bucket the generated images (or error.json) are written to.' },
      prepare_function_name: { value: prepare.function.functionName, description: 'Name of the Lambda function that validates uploads and computes the edge mask.' },
      generate_function_name: { value: generate.function.functionName, description: 'Name of the Lambda function that calls the Bedrock model.' },
      dead_letter_queue_url: {
        value: deadLetters.queue.url,
        description: 'URL of the SQS queue holding the events either function gave up on (after its retries or maximum event age); an alarm fires while it is not empty.',
      },
      upload_command: {
        value: `aws s3 cp photo.jpg s3://${input.bucket.bucket}/ --metadata prompt="a tiger as a hand drawn sketch"`,
        description: 'AWS CLI command that uploads photo.jpg with a prompt and so starts a job.',
      },
    };
    for (const [name, { value, description }] of Object.entries(outputs)) {
      new TerraformOutput(this, name, { value, description }).overrideLogicalId(name);
    }
  }
}
