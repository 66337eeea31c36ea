import { TerraformVariable } from 'cdktf';
import type { Construct } from 'constructs';
import { MODELS } from '../functions/core/models/catalogue.js';
import { IntegerSettings, Queueing } from '../functions/core/settings.js';
import type { SynthConfig } from './synth-config.js';

/** Control modes the deploy-time default may take (the Bedrock control-image modes). */
export const CONTROL_MODES = ['CANNY_EDGE', 'SEGMENTATION'] as const;

/** Quality levels the deploy-time default may take. */
export const QUALITIES = ['standard', 'premium'] as const;

/** Every input variable of the stack, by its Terraform name. */
export interface PipelineVariables {
  readonly region: TerraformVariable;
  readonly namePrefix: TerraformVariable;
  readonly modelId: TerraformVariable;
  readonly defaultPrompt: TerraformVariable;
  readonly defaultNegativePrompt: TerraformVariable;
  readonly defaultControlMode: TerraformVariable;
  readonly defaultControlStrength: TerraformVariable;
  readonly defaultCount: TerraformVariable;
  readonly defaultQuality: TerraformVariable;
  readonly prepareMemoryMb: TerraformVariable;
  readonly prepareTimeoutS: TerraformVariable;
  readonly generateMemoryMb: TerraformVariable;
  readonly generateTimeoutS: TerraformVariable;
  readonly forceDestroy: TerraformVariable;
  readonly kmsKeyArn: TerraformVariable;
  readonly stagingExpirationDays: TerraformVariable;
  readonly outputNoncurrentVersionExpirationDays: TerraformVariable;
  readonly prepareMaxConcurrency: TerraformVariable;
  readonly maxModelCallsInFlight: TerraformVariable;
  readonly maxReceiveCount: TerraformVariable;
  readonly modelCallMinSeconds: TerraformVariable;
  readonly modelCallsAlarmPerHour: TerraformVariable;
  readonly queueAgeAlarmS: TerraformVariable;
  readonly monthlyBudgetUsd: TerraformVariable;
  readonly logRetentionDays: TerraformVariable;
  readonly logLevel: TerraformVariable;
  readonly tracingEnabled: TerraformVariable;
  readonly failureRatioAlarm: TerraformVariable;
  readonly failureRatioWindowS: TerraformVariable;
  readonly alarmEmail: TerraformVariable;
}

/** Lambda's ceiling for an event source mapping's maximum concurrency. */
export const MAXIMUM_CONCURRENCY_MAX = 1000;
/** Default of prepare_max_concurrency. */
export const PREPARE_MAX_CONCURRENCY_DEFAULT = 10;
/** Default of max_model_calls_in_flight. */
export const MAX_MODEL_CALLS_IN_FLIGHT_DEFAULT = 4;
/** Calls per hour the defaults allow at most (in flight × 3600 s / shortest call): model_calls_alarm_per_hour's default. */
export const DEFAULT_CEILING_CALLS_PER_HOUR = Math.floor((MAX_MODEL_CALLS_IN_FLIGHT_DEFAULT * 3_600_000) / IntegerSettings.MIN_MODEL_CALL_MS.default);

/** The generate function keeps this much of its timeout to write error.json after the model call gives up. */
export const GENERATE_TIMEOUT_MARGIN_S = 30;

/** The retention periods CloudWatch Logs accepts, in days (0 would mean "never expire" and is left out on purpose). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** The levels of Lambda's application_log_level (advanced logging controls), lowest first. */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

const hcl = (values: readonly string[]): string => `[${values.map((value) => JSON.stringify(value)).join(', ')}]`;

const integerInRangeTest = (name: string, min: number, max: number): string =>
  `var.${name} >= ${min} && var.${name} <= ${max} && floor(var.${name}) == var.${name}`;

const integerInRange = (name: string, min: number, max: number): string => `\${${integerInRangeTest(name, min, max)}}`;

/**
 * Declares the stack's variables. Every one has a type, a description and a
 * default, so `cdktf deploy` needs no input; a validation block is added where
 * the allowed values form a clear set or range, so a bad value fails at plan
 * time with the allowed values instead of inside a Lambda invocation.
 *
 * `model_id` and `region` are special: the generate role's Bedrock permissions
 * are computed at synth time from `synth` (see `SynthConfig`), so these
 * variables default to the synthesized values and refuse any other value. They
 * still exist so the plan shows them and the functions' environment reads them
 * like every other setting; to change them, re-synthesize with `ICP_MODEL_ID`
 * / `ICP_REGION`.
 */
export const declareVariables = (scope: Construct, synth: SynthConfig): PipelineVariables => {
  const variable = (name: string, config: ConstructorParameters<typeof TerraformVariable>[2]): TerraformVariable => {
    const declared = new TerraformVariable(scope, name, config);
    // Variable names are the stack's public interface (`-var name=...`, the local runner).
    declared.overrideLogicalId(name);
    return declared;
  };
  const modelIds = MODELS.map((model) => model.id);

  return {
    region: variable('region', {
      type: 'string',
      default: synth.region,
      description: `AWS region to deploy to and to invoke the model in. Fixed at synth time (ICP_REGION, default us-east-1) because the Bedrock IAM resources name it; only "${synth.region}" is accepted by this synthesized stack.`,
      validation: [
        {
          condition: `\${var.region == ${JSON.stringify(synth.region)}}`,
          errorMessage: `This stack was synthesized for region ${synth.region}; re-synthesize with ICP_REGION set to change the region.`,
        },
      ],
    }),
    namePrefix: variable('name_prefix', {
      type: 'string',
      default: 'icp',
      description:
        'Prefix of every resource name: buckets get "<prefix>-input-", "<prefix>-staging-", "<prefix>-output-" plus a unique suffix; functions are "<prefix>-prepare" and "<prefix>-generate".',
      validation: [
        {
          // 28 characters keeps "<prefix>-staging-" within the 37 characters S3 allows for bucket_prefix.
          condition: '${can(regex("^[a-z0-9]([a-z0-9-]{0,26}[a-z0-9])?$", var.name_prefix))}',
          errorMessage:
            'name_prefix must be 1 to 28 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit.',
        },
      ],
    }),
    modelId: variable('model_id', {
      type: 'string',
      default: synth.modelId,
      description: `Bedrock model id the generate function invokes. Possible values: ${modelIds.join(', ')}. Fixed at synth time (ICP_MODEL_ID) because the IAM policy names the model; only "${synth.modelId}" is accepted by this synthesized stack.`,
      validation: [
        {
          condition: `\${contains(${hcl(modelIds)}, var.model_id)}`,
          errorMessage: `model_id must be one of: ${modelIds.join(', ')}.`,
        },
        {
          condition: `\${var.model_id == ${JSON.stringify(synth.modelId)}}`,
          errorMessage: `This stack was synthesized to invoke ${synth.modelId}; re-synthesize with ICP_MODEL_ID set to change the model.`,
        },
      ],
    }),
    defaultPrompt: variable('default_prompt', {
      type: 'string',
      default: '',
      description: 'Prompt used when an upload carries no prompt in its metadata.',
    }),
    defaultNegativePrompt: variable('default_negative_prompt', {
      type: 'string',
      default: '',
      description: 'Negative prompt (what the image should not show) used when an upload carries none in its metadata. Empty means none.',
    }),
    defaultControlMode: variable('default_control_mode', {
      type: 'string',
      default: 'CANNY_EDGE',
      description: `How the model follows the conditioning image when the upload does not say. Possible values: ${CONTROL_MODES.join(', ')}.`,
      validation: [
        {
          condition: `\${contains(${hcl(CONTROL_MODES)}, var.default_control_mode)}`,
          errorMessage: `default_control_mode must be one of: ${CONTROL_MODES.join(', ')}.`,
        },
      ],
    }),
    defaultControlStrength: variable('default_control_strength', {
      type: 'number',
      default: 0.7,
      description: 'How closely the output follows the edge mask when the upload does not say, from 0 (loosely) to 1 (strictly).',
      validation: [
        {
          condition: '${var.default_control_strength >= 0 && var.default_control_strength <= 1}',
          errorMessage: 'default_control_strength must be a number between 0 and 1.',
        },
      ],
    }),
    defaultCount: variable('default_count', {
      type: 'number',
      default: 1,
      description: 'Images generated per upload when the upload does not say; an integer from 1 to 5. Each image is billed.',
      validation: [
        {
          condition: integerInRange('default_count', 1, 5),
          errorMessage: 'default_count must be an integer between 1 and 5.',
        },
      ],
    }),
    defaultQuality: variable('default_quality', {
      type: 'string',
      default: 'standard',
      description: `Image quality when the upload does not say. Possible values: ${QUALITIES.join(', ')}. Premium costs more where the model distinguishes them.`,
      validation: [
        {
          condition: `\${contains(${hcl(QUALITIES)}, var.default_quality)}`,
          errorMessage: `default_quality must be one of: ${QUALITIES.join(', ')}.`,
        },
      ],
    }),
    prepareMemoryMb: variable('prepare_memory_mb', {
      type: 'number',
      // Lambda allots CPU in proportion to memory and gives exactly one full vCPU at 1769 MB.
      // Decoding, resizing and the Canny pass are CPU-bound, so less memory mostly buys a slower
      // (and not cheaper) function; more adds a second vCPU that libvips only partly uses.
      default: 1769,
      description:
        'Memory of the prepare function in MB, an integer from 128 to 10240. Lambda gives one full vCPU at 1769 MB; image decoding and edge detection are CPU-bound, so less memory mainly makes them slower.',
      validation: [
        {
          condition: integerInRange('prepare_memory_mb', 128, 10240),
          errorMessage: 'prepare_memory_mb must be an integer between 128 and 10240.',
        },
      ],
    }),
    prepareTimeoutS: variable('prepare_timeout_s', {
      type: 'number',
      default: 60,
      description: 'Timeout of the prepare function in seconds, an integer from 10 to 900.',
      validation: [
        {
          condition: integerInRange('prepare_timeout_s', 10, 900),
          errorMessage: 'prepare_timeout_s must be an integer between 10 and 900.',
        },
      ],
    }),
    generateMemoryMb: variable('generate_memory_mb', {
      type: 'number',
      default: 512,
      description: 'Memory of the generate function in MB, an integer from 128 to 10240. It mostly waits on Bedrock, so little is needed.',
      validation: [
        {
          condition: integerInRange('generate_memory_mb', 128, 10240),
          errorMessage: 'generate_memory_mb must be an integer between 128 and 10240.',
        },
      ],
    }),
    generateTimeoutS: variable('generate_timeout_s', {
      type: 'number',
      default: 300,
      description: `Timeout of the generate function in seconds, an integer from 60 to 900. The model request is abandoned ${GENERATE_TIMEOUT_MARGIN_S} s earlier so the function can still record the failure.`,
      validation: [
        {
          condition: integerInRange('generate_timeout_s', 60, 900),
          errorMessage: 'generate_timeout_s must be an integer between 60 and 900.',
        },
      ],
    }),
    forceDestroy: variable('force_destroy', {
      type: 'bool',
      // Unlike a general-purpose bucket module, this pipeline's buckets hold only
      // derived and throwaway objects, and `cdktf destroy` is meant to remove everything.
      default: true,
      description:
        'Whether destroying the stack deletes the buckets even when they still hold objects (uploads and generated images are lost). Set to false to make destroy fail on non-empty buckets instead.',
    }),
    kmsKeyArn: variable('kms_key_arn', {
      type: 'string',
      default: '',
      description:
        'ARN of a customer-managed KMS key to encrypt the three buckets with (SSE-KMS, with S3 Bucket Keys); the functions may then use that key through S3 only. Empty means SSE-S3 (AES256, no key to manage). The key policy must let the account\'s IAM policies grant its use (the default key policy does).',
      validation: [
        {
          condition: '${var.kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))}',
          errorMessage: 'kms_key_arn must be empty or a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias).',
        },
      ],
    }),
    stagingExpirationDays: variable('staging_expiration_days', {
      type: 'number',
      default: 7,
      description:
        'Days after which the staging bucket\'s objects are deleted (a job\'s pictures and job.json, request claims and kept model answers, outcome records), an integer from 1 to 365. Long enough to look into a failed job; a job\'s files are not needed after generate has run.',
      validation: [
        {
          condition: integerInRange('staging_expiration_days', 1, 365),
          errorMessage: 'staging_expiration_days must be an integer between 1 and 365.',
        },
      ],
    }),
    outputNoncurrentVersionExpirationDays: variable('output_noncurrent_version_expiration_days', {
      type: 'number',
      default: 30,
      description:
        'Days an overwritten or deleted result in the output bucket (which is versioned) can still be recovered as an earlier version before it is deleted for good, an integer from 1 to 3650. A new upload of the same name replaces the earlier results, so this is the time to get them back.',
      validation: [
        {
          condition: integerInRange('output_noncurrent_version_expiration_days', 1, 3650),
          errorMessage: 'output_noncurrent_version_expiration_days must be an integer between 1 and 3650.',
        },
      ],
    }),
    prepareMaxConcurrency: variable('prepare_max_concurrency', {
      type: 'number',
      default: PREPARE_MAX_CONCURRENCY_DEFAULT,
      description: `Most prepare executions at once (the input queue's event source mapping's maximum concurrency), an integer from ${Queueing.MIN_MAXIMUM_CONCURRENCY} to ${MAXIMUM_CONCURRENCY_MAX}. A burst of uploads waits in the queue instead of scaling prepare without bound; no account concurrency is reserved.`,
      validation: [
        {
          condition: integerInRange('prepare_max_concurrency', Queueing.MIN_MAXIMUM_CONCURRENCY, MAXIMUM_CONCURRENCY_MAX),
          errorMessage: `prepare_max_concurrency must be an integer between ${Queueing.MIN_MAXIMUM_CONCURRENCY} and ${MAXIMUM_CONCURRENCY_MAX}.`,
        },
      ],
    }),
    maxModelCallsInFlight: variable('max_model_calls_in_flight', {
      type: 'number',
      // Image models have low per-account quotas (a few requests per minute for some);
      // more concurrent calls than that only turn into throttling errors and retries.
      default: MAX_MODEL_CALLS_IN_FLIGHT_DEFAULT,
      description: `The one number that caps model calls in flight: the most generate executions at once (the job queue's event source mapping's maximum concurrency), each making its job's calls one at a time. An integer from ${Queueing.MIN_MAXIMUM_CONCURRENCY} to ${MAXIMUM_CONCURRENCY_MAX}. With model_call_min_seconds it sets the most calls, images and dollars per hour (outputs max_*_per_hour). A backlog waits in the queue (up to 14 days); no account concurrency is reserved.`,
      validation: [
        {
          condition: integerInRange('max_model_calls_in_flight', Queueing.MIN_MAXIMUM_CONCURRENCY, MAXIMUM_CONCURRENCY_MAX),
          errorMessage: `max_model_calls_in_flight must be an integer between ${Queueing.MIN_MAXIMUM_CONCURRENCY} and ${MAXIMUM_CONCURRENCY_MAX}.`,
        },
      ],
    }),
    maxReceiveCount: variable('max_receive_count', {
      type: 'number',
      default: IntegerSettings.MAX_RECEIVE_COUNT.default,
      description: `Receives of a queue message (an upload for prepare, a job for generate) before SQS moves it to the dead-letter queue, an integer from ${IntegerSettings.MAX_RECEIVE_COUNT.min} to ${IntegerSettings.MAX_RECEIVE_COUNT.max}; 1 means no retry. A failure that could pass (throttling, a 5xx, a timeout) is retried on the next receive, after the visibility timeout; on the last receive the function writes the failure outcome (error.json) before the message is dead-lettered.`,
      validation: [
        {
          condition: integerInRange('max_receive_count', IntegerSettings.MAX_RECEIVE_COUNT.min, IntegerSettings.MAX_RECEIVE_COUNT.max),
          errorMessage: `max_receive_count must be an integer between ${IntegerSettings.MAX_RECEIVE_COUNT.min} and ${IntegerSettings.MAX_RECEIVE_COUNT.max}.`,
        },
      ],
    }),
    modelCallMinSeconds: variable('model_call_min_seconds', {
      type: 'number',
      default: IntegerSettings.MIN_MODEL_CALL_MS.default / 1000,
      description: `The shortest time one model call occupies its generate execution, in seconds: a faster answer waits out the rest. It turns max_model_calls_in_flight into a ceiling on calls per hour (in flight × 3600 / this), and so on spend. An integer from ${IntegerSettings.MIN_MODEL_CALL_MS.min / 1000} to ${IntegerSettings.MIN_MODEL_CALL_MS.max / 1000}; 0 means no pacing and no ceiling.`,
      validation: [
        {
          condition: integerInRange('model_call_min_seconds', IntegerSettings.MIN_MODEL_CALL_MS.min / 1000, IntegerSettings.MIN_MODEL_CALL_MS.max / 1000),
          errorMessage: `model_call_min_seconds must be an integer between ${IntegerSettings.MIN_MODEL_CALL_MS.min / 1000} and ${IntegerSettings.MIN_MODEL_CALL_MS.max / 1000}.`,
        },
      ],
    }),
    modelCallsAlarmPerHour: variable('model_calls_alarm_per_hour', {
      type: 'number',
      default: DEFAULT_CEILING_CALLS_PER_HOUR,
      description: `Model calls in one hour (metric ModelCalls, which generate publishes) above which the <name_prefix>-model-calls-per-hour alarm fires, an integer of at least 1. The default is the ceiling for the default settings (${MAX_MODEL_CALLS_IN_FLIGHT_DEFAULT} in flight, ${IntegerSettings.MIN_MODEL_CALL_MS.default / 1000} s per call); set it lower to hear about heavy use before the ceiling.`,
      validation: [
        {
          condition: '${var.model_calls_alarm_per_hour >= 1 && floor(var.model_calls_alarm_per_hour) == var.model_calls_alarm_per_hour}',
          errorMessage: 'model_calls_alarm_per_hour must be an integer of at least 1.',
        },
      ],
    }),
    queueAgeAlarmS: variable('queue_age_alarm_s', {
      type: 'number',
      default: 86_400,
      description: `Age in seconds of the oldest message in a stage's queue (prepare's or generate's) above which that queue's alarm fires: a backlog not draining, an integer from 60 to ${Queueing.RETENTION_S} (the queues keep messages 14 days).`,
      validation: [
        {
          condition: integerInRange('queue_age_alarm_s', 60, Queueing.RETENTION_S),
          errorMessage: `queue_age_alarm_s must be an integer between 60 and ${Queueing.RETENTION_S}.`,
        },
      ],
    }),
    monthlyBudgetUsd: variable('monthly_budget_usd', {
      type: 'number',
      default: 0,
      description:
        'A monthly AWS Budget on the account\'s cost, in US dollars, that e-mails alarm_email at 80 % and 100 % of it (actual cost). 0 means no budget; it is created only when alarm_email is set too.',
      validation: [
        {
          condition: '${var.monthly_budget_usd >= 0}',
          errorMessage: 'monthly_budget_usd must be 0 (no budget) or a positive amount of US dollars.',
        },
      ],
    }),
    logRetentionDays: variable('log_retention_days', {
      type: 'number',
      default: 30,
      description: `Days the functions' logs are kept. Possible values: ${LOG_RETENTION_DAYS.join(', ')}.`,
      validation: [
        {
          condition: `\${contains(${hcl(LOG_RETENTION_DAYS.map(String))}, tostring(var.log_retention_days))}`,
          errorMessage: `log_retention_days must be one of: ${LOG_RETENTION_DAYS.join(', ')}.`,
        },
      ],
    }),
    logLevel: variable('log_level', {
      type: 'string',
      default: 'INFO',
      description: `Lowest level of the functions' log lines that reaches CloudWatch Logs (Lambda's application_log_level, which Powertools Logger follows). Possible values: ${LOG_LEVELS.join(', ')}.`,
      validation: [
        {
          condition: `\${contains(${hcl(LOG_LEVELS)}, var.log_level)}`,
          errorMessage: `log_level must be one of: ${LOG_LEVELS.join(', ')}.`,
        },
      ],
    }),
    tracingEnabled: variable('tracing_enabled', {
      type: 'bool',
      default: false,
      description:
        'Whether both functions send traces to AWS X-Ray (active tracing; Powertools Tracer records each S3 and Bedrock call as a subsegment). Off by default: the tracer adds about 120 ms to a cold start, and traces are billed.',
    }),
    failureRatioAlarm: variable('failure_ratio_alarm', {
      type: 'number',
      default: 0.2,
      description:
        'Share of failed outcomes (metric Outcomes, outcome=failed, over all outcomes) in failure_ratio_window_s above which the <name_prefix>-failure-ratio alarm fires, a number above 0 and at most 1.',
      validation: [
        {
          condition: '${var.failure_ratio_alarm > 0 && var.failure_ratio_alarm <= 1}',
          errorMessage: 'failure_ratio_alarm must be a number above 0 and at most 1.',
        },
      ],
    }),
    failureRatioWindowS: variable('failure_ratio_window_s', {
      type: 'number',
      default: 3600,
      description:
        'The window, in seconds, over which the <name_prefix>-failure-ratio alarm compares failed outcomes with all outcomes: a multiple of 60 from 300 to 86400.',
      validation: [
        {
          condition: '${var.failure_ratio_window_s >= 300 && var.failure_ratio_window_s <= 86400 && floor(var.failure_ratio_window_s / 60) * 60 == var.failure_ratio_window_s}',
          errorMessage: 'failure_ratio_window_s must be a multiple of 60 from 300 to 86400.',
        },
      ],
    }),
    alarmEmail: variable('alarm_email', {
      type: 'string',
      default: '',
      description:
        'E-mail address told (through an SNS topic) when an alarm fires: messages in the dead-letter queue, a stage\'s queue not draining, model calls per hour over model_calls_alarm_per_hour, the failure ratio over failure_ratio_alarm, sustained Bedrock throttling, function errors; also the monthly budget\'s address. AWS sends a confirmation message first, which must be accepted. Empty means no topic, no e-mail and no budget; the CloudWatch alarms exist either way.',
      validation: [
        {
          condition: '${var.alarm_email == "" || can(regex("^[^@ ]+@[^@ ]+[.][^@ ]+$", var.alarm_email))}',
          errorMessage: 'alarm_email must be empty or an e-mail address such as ops@example.com.',
        },
      ],
    }),
  };
};
