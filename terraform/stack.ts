import { BudgetsBudget } from '@cdktf/provider-aws/lib/budgets-budget/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity/index.js';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { SqsQueueRedriveAllowPolicy } from '@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy/index.js';
import { LocalBackend, Op, TerraformOutput, TerraformStack, Token } from 'cdktf';
import type { Construct } from 'constructs';
import { JOB_TRIGGER, Staging } from '../functions/core/layout.js';
import { findModel, invokeResourceArns } from '../functions/core/models/catalogue.js';
import { Stage } from '../functions/core/outcome.js';
import { Env, IntegerSettings, Metrics, Queueing } from '../functions/core/settings.js';
import { awsS3CpCommand } from '../scripts/cli/aws-command.js';
import { locateBuildOutput } from './build-output.js';
import { DeadLetterQueue } from './constructs/dead-letter-queue.js';
import { HardenedBucket } from './constructs/hardened-bucket.js';
import { NodeLayer } from './constructs/node-layer.js';
import { type Grant, PipelineFunction } from './constructs/pipeline-function.js';
import { QUEUE_CONSUMER_ACTIONS, StageQueue } from './constructs/stage-queue.js';
import { Monitoring } from './monitoring.js';
import type { StackOutputName } from './outputs.js';
import { ceilingExpressions, imagesPerCall } from './spend.js';
import type { SynthConfig } from './synth-config.js';
import { declareVariables, GENERATE_TIMEOUT_MARGIN_S } from './variables.js';

export const STACK_NAME = 'image-conditioning-pipeline';

/** The metric generate publishes with each outcome, its model calls (CloudWatch embedded metric format), and its dimension. */
export const MODEL_CALLS_METRIC = { namespace: Metrics.NAMESPACE, name: Metrics.MODEL_CALLS, dimensions: { service: Stage.GENERATE } } as const;

/** The prompt of the upload_command output. */
export const UPLOAD_COMMAND_PROMPT = 'a tiger as a hand drawn sketch';

/** Statement id of each role's grant on the queue its function consumes. */
export const CONSUME_QUEUE_SID = 'ConsumeOwnQueue';

/** The redrive command's fixed part: with only a source, SQS moves every message back to the queue it came from. */
export const REDRIVE_COMMAND = 'aws sqs start-message-move-task --source-arn';

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
      messageRetentionSeconds: Queueing.RETENTION_S,
    });
    const alarmActions = deadLetters.topicArns;
    const maxReceiveCount = vars.maxReceiveCount.numberValue;
    // AWS's guidance for a queue feeding Lambda: at least six times the function's timeout. A
    // Terraform expression, so overriding a timeout keeps its queue's visibility timeout right.
    const visibilityTimeout = (timeout: number): number => Token.asNumber(Op.mul(timeout, Queueing.VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT));

    // S3 → queue → function, for each stage. A backlog waits in the queue (up to 14 days) and
    // drains at the rate the event source mappings' maximum concurrency allows.
    const prepareQueue = new StageQueue(this, 'prepare_queue', {
      queueName: `${namePrefix}-prepare`,
      bucket: input.bucket,
      sourceAccount: caller.accountId,
      visibilityTimeoutSeconds: visibilityTimeout(vars.prepareTimeoutS.numberValue),
      maxReceiveCount,
      deadLetterQueueArn: deadLetters.queue.arn,
      messageRetentionSeconds: Queueing.RETENTION_S,
      ageAlarmSeconds: vars.queueAgeAlarmS.numberValue,
      alarmActions,
    });
    const generateQueue = new StageQueue(this, 'generate_queue', {
      queueName: `${namePrefix}-generate`,
      bucket: staging.bucket,
      sourceAccount: caller.accountId,
      filterPrefix: JOB_TRIGGER.prefix,
      filterSuffix: JOB_TRIGGER.suffix,
      visibilityTimeoutSeconds: visibilityTimeout(vars.generateTimeoutS.numberValue),
      maxReceiveCount,
      deadLetterQueueArn: deadLetters.queue.arn,
      messageRetentionSeconds: Queueing.RETENTION_S,
      ageAlarmSeconds: vars.queueAgeAlarmS.numberValue,
      alarmActions,
    });
    // Only these two queues may dead-letter here, and a redrive (start-message-move-task) moves
    // messages back to them. A resource of its own: inline, the dead-letter queue and the queues
    // naming it in their redrive policies would refer to each other.
    new SqsQueueRedriveAllowPolicy(this, 'dead_letters_redrive_allow', {
      queueUrl: deadLetters.queue.url,
      redriveAllowPolicy: `{"redrivePermission":"byQueue","sourceQueueArns":["${prepareQueue.queue.arn}","${generateQueue.queue.arn}"]}`,
    }).overrideLogicalId('dead_letters');

    const bucketKey = (...buckets: HardenedBucket[]) => ({ keyArn: kmsKeyArn, region: props.region, bucketArns: buckets.map((b) => b.bucket.arn) });
    const stagingArn = staging.bucket.arn;
    const logRetentionDays = vars.logRetentionDays.numberValue;
    // Both functions: Lambda's JSON log format at log_level, and X-Ray tracing while tracing_enabled.
    const telemetry = { logLevel: vars.logLevel.stringValue, tracingEnabled: vars.tracingEnabled.booleanValue };
    // Each function reads and deletes the messages of its own queue only; SQS itself moves a
    // message to the dead-letter queue, so neither role may send anywhere.
    const consume = (stage: StageQueue): Grant => ({ sid: CONSUME_QUEUE_SID, actions: [...QUEUE_CONSUMER_ACTIONS], resources: [stage.queue.arn] });

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
      ...telemetry,
      bucketKey: bucketKey(input, staging),
      layers: [sharp.layer.arn],
      environment: {
        [Env.STAGING_BUCKET]: staging.bucket.bucket,
        [Env.MODEL_ID]: vars.modelId.stringValue,
        [Env.DEFAULT_PROMPT]: vars.defaultPrompt.stringValue,
        [Env.DEFAULT_NEGATIVE_PROMPT]: vars.defaultNegativePrompt.stringValue,
        [Env.DEFAULT_CONTROL_MODE]: vars.defaultControlMode.stringValue,
        [Env.DEFAULT_CONTROL_STRENGTH]: Token.asString(vars.defaultControlStrength.value),
        [Env.DEFAULT_COUNT]: Token.asString(vars.defaultCount.value),
        [Env.DEFAULT_QUALITY]: vars.defaultQuality.stringValue,
        [Env.MAX_INPUT_BYTES]: String(IntegerSettings.MAX_INPUT_BYTES.default),
        [Env.MAX_INPUT_PIXELS]: String(IntegerSettings.MAX_INPUT_PIXELS.default),
        // So the last receive of an upload writes its failure outcome instead of leaving it to the dead-letter queue.
        [Env.MAX_RECEIVE_COUNT]: Token.asString(vars.maxReceiveCount.value),
        NODE_OPTIONS: '--enable-source-maps',
      },
      grants: [
        consume(prepareQueue),
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
      logRetentionDays,
      ...telemetry,
      bucketKey: bucketKey(staging, output),
      // The contact sheet is drawn with sharp, loaded with the first one.
      layers: [sharp.layer.arn],
      environment: {
        [Env.OUTPUT_BUCKET]: output.bucket.bucket,
        [Env.MODEL_ID]: vars.modelId.stringValue,
        // A Terraform expression rather than a number computed here, so overriding
        // generate_timeout_s can never leave the request deadline past the function's.
        [Env.REQUEST_TIMEOUT_MS]: `\${(var.generate_timeout_s - ${GENERATE_TIMEOUT_MARGIN_S}) * 1000}`,
        // So the last receive of a job writes its failure outcome (error.json) before SQS dead-letters it.
        [Env.MAX_RECEIVE_COUNT]: Token.asString(vars.maxReceiveCount.value),
        // The pacing that turns max_model_calls_in_flight into a ceiling on calls (and dollars) per hour.
        [Env.MIN_MODEL_CALL_MS]: `\${var.model_call_min_seconds * 1000}`,
        NODE_OPTIONS: '--enable-source-maps',
      },
      grants: [
        consume(generateQueue),
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

    prepareQueue.consumeWith({
      target: prepare.function,
      batchSize: Queueing.PREPARE_BATCH_SIZE,
      maximumConcurrency: vars.prepareMaxConcurrency.numberValue,
      consumerReady: [prepare.rolePolicy],
    });
    // One job per execution, and each execution makes its job's calls one at a time: this
    // mapping's maximum concurrency is the cap on model calls in flight. Unlike a reserved
    // concurrency it takes nothing from the account's unreserved executions.
    generateQueue.consumeWith({
      target: generate.function,
      batchSize: Queueing.GENERATE_BATCH_SIZE,
      maximumConcurrency: vars.maxModelCallsInFlight.numberValue,
      consumerReady: [generate.rolePolicy],
    });

    // The spend ceiling: calls in flight × one call per model_call_min_seconds at most.
    const ceiling = ceilingExpressions(props.modelId);
    new CloudwatchMetricAlarm(this, 'model-calls-alarm', {
      alarmName: `${namePrefix}-model-calls-per-hour`,
      alarmDescription:
        'Model calls (each one billed) in the last hour passed model_calls_alarm_per_hour. The ceiling is the max_model_calls_per_hour output; lower max_model_calls_in_flight to spend less per hour.',
      namespace: MODEL_CALLS_METRIC.namespace,
      metricName: MODEL_CALLS_METRIC.name,
      dimensions: { ...MODEL_CALLS_METRIC.dimensions },
      statistic: 'Sum',
      period: 3600,
      evaluationPeriods: 1,
      threshold: vars.modelCallsAlarmPerHour.numberValue,
      comparisonOperator: 'GreaterThanThreshold',
      // No calls, no data points: the good case.
      treatMissingData: 'notBreaching',
      alarmActions,
      okActions: alarmActions,
    }).overrideLogicalId('model_calls');

    new Monitoring(this, 'monitoring', {
      namePrefix,
      region: vars.region.stringValue,
      modelId: vars.modelId.stringValue,
      functions: { prepare, generate },
      queues: { prepare: prepareQueue.queue.name, generate: generateQueue.queue.name, deadLetters: deadLetters.queue.name },
      alarmActions,
      failureRatioAlarm: vars.failureRatioAlarm.numberValue,
      failureRatioWindowS: vars.failureRatioWindowS.numberValue,
    });

    // The whole account's cost, not the Project tag's: Bedrock bills on-demand calls to a foundation
    // model or a system inference profile without any resource tag, so a tag filter would miss
    // almost all of this pipeline's spend (the model is 99.8 % of it, see README "Cost").
    // Written out: cdktf renders a 0 right operand of Op.gt as `undefined`.
    const budgetCount = Token.asNumber('${var.monthly_budget_usd > 0 && var.alarm_email != "" ? 1 : 0}');
    new BudgetsBudget(this, 'budget', {
      count: budgetCount,
      name: `${namePrefix}-monthly-cost`,
      budgetType: 'COST',
      limitAmount: Token.asString(vars.monthlyBudgetUsd.value),
      limitUnit: 'USD',
      timeUnit: 'MONTHLY',
      notification: [80, 100].map((threshold) => ({
        comparisonOperator: 'GREATER_THAN',
        threshold,
        thresholdType: 'PERCENTAGE',
        notificationType: 'ACTUAL',
        subscriberEmailAddresses: [vars.alarmEmail.stringValue],
      })),
    }).overrideLogicalId('monthly');

    const outputs: Record<StackOutputName, { value: string | number; description: string }> = {
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
      prepare_queue_url: { value: prepareQueue.queue.url, description: "URL of prepare's queue: the input bucket's notifications, one per upload, waiting to be prepared." },
      generate_queue_url: { value: generateQueue.queue.url, description: "URL of generate's queue: the staging bucket's notifications, one per job file, waiting for the model." },
      dead_letter_queue_url: {
        value: deadLetters.queue.url,
        description: 'URL of the SQS queue holding the messages either stage failed on max_receive_count times (their uploads have error.json); an alarm fires while it is not empty.',
      },
      dead_letter_queue_arn: { value: deadLetters.queue.arn, description: 'ARN of the dead-letter queue, for the redrive command.' },
      redrive_command: {
        value: `${REDRIVE_COMMAND} ${deadLetters.queue.arn}`,
        description: 'AWS CLI command that moves every dead letter back to the queue it came from, to be processed again (after a fix).',
      },
      max_model_calls_per_hour: {
        value: ceiling.callsPerHour,
        description: 'Most model calls an hour can make: max_model_calls_in_flight × 3600 / model_call_min_seconds (null when model_call_min_seconds is 0: no ceiling).',
      },
      max_images_per_hour: {
        value: ceiling.imagesPerHour,
        description: `Most pictures an hour can be billed for: max_model_calls_per_hour × the pictures one call may return (${imagesPerCall(props.modelId)} for ${props.modelId}).`,
      },
      max_usd_per_hour: {
        value: ceiling.usdPerHour,
        description: `Most an hour of model calls can cost, in US dollars, at $${findModel(props.modelId)?.pricePerImage} per picture (${props.modelId}, list price).`,
      },
      upload_command: {
        // The CLI's JSON form of --metadata: its shorthand (prompt="…") breaks a prompt at commas.
        // Built for a stand-in name, then given the bucket's: a Terraform reference would be quoted as
        // a whole, and a bucket name (a-z, 0-9, '.', '-') needs no quoting in a shell.
        value: awsS3CpCommand({ file: 'photo.jpg', bucket: 'input-bucket', metadata: { prompt: UPLOAD_COMMAND_PROMPT } }).replace('s3://input-bucket/', `s3://${input.bucket.bucket}/`),
        description: 'AWS CLI command that uploads photo.jpg with a prompt (metadata in the CLI\'s JSON form, which takes any prompt) and so starts a job.',
      },
    };
    for (const [name, { value, description }] of Object.entries(outputs)) {
      new TerraformOutput(this, name, { value, description }).overrideLogicalId(name);
    }
  }
}
