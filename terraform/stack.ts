import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity/index.js';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { LocalBackend, TerraformOutput, TerraformStack, Token } from 'cdktf';
import type { Construct } from 'constructs';
import { JOB_TRIGGER, Staging } from '../functions/core/layout.js';
import { findModel, invokeResourceArns } from '../functions/core/models/catalogue.js';
import { locateBuildOutput } from './build-output.js';
import { BucketTrigger } from './constructs/bucket-trigger.js';
import { DeadLetterQueue } from './constructs/dead-letter-queue.js';
import { HardenedBucket } from './constructs/hardened-bucket.js';
import { NodeLayer } from './constructs/node-layer.js';
import { type Grant, PipelineFunction } from './constructs/pipeline-function.js';
import type { SynthConfig } from './synth-config.js';
import { declareVariables, GENERATE_TIMEOUT_MARGIN_S } from './variables.js';

export const STACK_NAME = 'image-conditioning-pipeline';

/** Upload limits passed to prepare: 50 MiB, and 60 megapixels (a decompression-bomb guard). */
export const MAX_INPUT_BYTES = 52_428_800;
export const MAX_INPUT_PIXELS = 60_000_000;

/**
 * generate's Bedrock statements. A foundation model it calls directly (Titan,
 * Nova) is one unconditioned grant. For a cross-region inference profile, the
 * profile is granted, and the foundation model in each region the profile routes
 * to only when the request comes through that profile (`bedrock:InferenceProfileArn`),
 * so the role can never call the model directly, in any region.
 */
export const bedrockGrants = (modelId: string, region: string, accountId: string): Grant[] => {
  // Throws when the model is unknown or not offered in the region.
  const arns = invokeResourceArns(modelId, region, accountId);
  if (!findModel(modelId)?.inferenceProfile) {
    return [{ sid: 'InvokeModel', actions: ['bedrock:InvokeModel'], resources: arns }];
  }
  const profiles = arns.filter((arn) => arn.includes(':inference-profile/'));
  const models = arns.filter((arn) => arn.includes(':foundation-model/'));
  return [
    { sid: 'InvokeModel', actions: ['bedrock:InvokeModel'], resources: profiles },
    {
      sid: 'InvokeModelThroughProfile',
      actions: ['bedrock:InvokeModel'],
      resources: models,
      conditions: [{ test: 'StringEquals', variable: 'bedrock:InferenceProfileArn', values: profiles }],
    },
  ];
};

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
    const invokeModel = bedrockGrants(props.modelId, props.region, caller.accountId);

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
    // Versioned: generate replaces an earlier upload's results in a folder (overwrites and deletes),
    // and a replaced result stays recoverable for output_noncurrent_version_expiration_days.
    const output = new HardenedBucket(this, 'output', {
      bucketPrefix: `${namePrefix}-output-`,
      forceDestroy,
      kmsKeyArn,
      versioned: true,
      noncurrentVersionExpirationDays: vars.outputNoncurrentVersionExpirationDays.numberValue,
    });

    const deadLetters = new DeadLetterQueue(this, 'dead_letters', {
      queueName: `${namePrefix}-dead-letters`,
      accountId: caller.accountId,
      alarmEmail: vars.alarmEmail.stringValue,
    });
    // Both functions: bounded retries and age, then the event goes to the queue.
    const asyncInvoke = {
      maximumRetryAttempts: vars.maximumRetryAttempts.numberValue,
      maximumEventAgeInSeconds: vars.maximumEventAgeS.numberValue,
      onFailureDestinationArn: deadLetters.queue.arn,
    };
    const bucketKey = (...buckets: HardenedBucket[]) => ({ keyArn: kmsKeyArn, region: props.region, bucketArns: buckets.map((b) => b.bucket.arn) });
    const stagingArn = staging.bucket.arn;
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
      bucketKey: bucketKey(input, staging),
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
        // Only under jobs/: claims/ and outcomes/, generate's records, stay out of its reach.
        { sid: 'WriteJobs', actions: ['s3:PutObject'], resources: [`${stagingArn}/${Staging.JOBS_PREFIX}*`] },
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
      bucketKey: bucketKey(staging, output),
      environment: {
        OUTPUT_BUCKET: output.bucket.bucket,
        MODEL_ID: vars.modelId.stringValue,
        // A Terraform expression rather than a number computed here, so overriding
        // generate_timeout_s can never leave the request deadline past the function's.
        REQUEST_TIMEOUT_MS: `\${(var.generate_timeout_s - ${GENERATE_TIMEOUT_MARGIN_S}) * 1000}`,
        NODE_OPTIONS: '--enable-source-maps',
      },
      grants: [
        // The job file and the staged pictures; never a write under jobs/, so generate cannot trigger itself.
        { sid: 'ReadJobs', actions: ['s3:GetObject'], resources: [`${stagingArn}/${Staging.JOBS_PREFIX}*`] },
        // One claim per request (conditional PutObject) so a duplicate event never pays for a second
        // model call, and each paid answer kept beside it.
        { sid: 'ClaimRequests', actions: ['s3:GetObject', 's3:PutObject'], resources: [`${stagingArn}/${Staging.CLAIMS_PREFIX}*`] },
        // Per output folder, which upload's outcome it shows (conditional PutObject), so an older
        // upload's late outcome never replaces a newer one's.
        { sid: 'RecordOutcomes', actions: ['s3:GetObject', 's3:PutObject'], resources: [`${stagingArn}/${Staging.OUTCOMES_PREFIX}*`] },
        // Without it S3 answers 403 instead of 404 for a claim or record that does not exist yet.
        { sid: 'TellMissingRecords', actions: ['s3:ListBucket'], resources: [stagingArn] },
        { sid: 'WriteResults', actions: ['s3:PutObject'], resources: [`${output.bucket.arn}/*`] },
        // Before publishing an outcome, generate removes what an earlier upload left in the folder.
        // The bucket is versioned: this adds a delete marker, and the removed files stay recoverable
        // (no s3:DeleteObjectVersion here).
        { sid: 'ReplaceEarlierResults', actions: ['s3:DeleteObject'], resources: [`${output.bucket.arn}/*`] },
        // To find an earlier upload's files in a folder. Generate never reads results (no GetObject).
        { sid: 'ListResults', actions: ['s3:ListBucket'], resources: [output.bucket.arn] },
        ...invokeModel,
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
      filterPrefix: JOB_TRIGGER.prefix,
      filterSuffix: JOB_TRIGGER.suffix,
    });

    const outputs: Record<string, { value: string; description: string }> = {
      input_bucket_name: { value: input.bucket.bucket, description: 'Name of the bucket to upload photos to; each upload starts a job.' },
      staging_bucket_name: {
        value: staging.bucket.bucket,
        description: `Name of the bucket holding each job's intermediate files under ${Staging.JOBS_PREFIX}<jobId>/ and generate's records (${Staging.CLAIMS_PREFIX}, ${Staging.OUTCOMES_PREFIX}), deleted after staging_expiration_days.`,
      },
      output_bucket_name: {
        value: output.bucket.bucket,
        description: 'Name of the (versioned) bucket the generated images (or error.json) are written to; replaced results stay recoverable for output_noncurrent_version_expiration_days.',
      },
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
