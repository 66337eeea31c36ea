import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_TRIGGER, Staging } from '../../functions/core/layout.js';
import { invokeResourceArns } from '../../functions/core/models/catalogue.js';
import { Env, IntegerSettings, Queueing } from '../../functions/core/settings.js';
import { stackJsonPath } from '../../terraform/app.js';
import { TRACE_ENABLED_ENV } from '../../terraform/constructs/pipeline-function.js';
import { byReason, type Dashboard, type MetricWidget, WidgetTitle } from '../../terraform/dashboard.js';
import { SAVED_QUERIES } from '../../terraform/monitoring.js';
import { STACK_OUTPUTS } from '../../terraform/outputs.js';
import type { SynthConfig } from '../../terraform/synth-config.js';
import { DEFAULT_SYNTH, type PolicyDocument, type StackJson, type Statement, synthesize, writeStubDist } from './helpers.js';

// Tests read the synthesized cdk.tf.json, the artefact Terraform and the local runner consume.

interface LambdaFunction {
  function_name: string;
  runtime: string;
  architectures: string[];
  handler: string;
  filename: string;
  source_code_hash: string;
  memory_size: string;
  timeout: string;
  role: string;
  reserved_concurrent_executions?: string | number;
  layers?: string[];
  depends_on?: string[];
  environment: { variables: Record<string, string> };
  logging_config?: Record<string, string>;
  tracing_config?: Record<string, string>;
}

const ACCOUNT_ID = '${data.aws_caller_identity.current.account_id}';
const BUCKETS = ['input', 'staging', 'output'] as const;
const KMS_SET = '("" != var.kms_key_arn)';

describe('PipelineStack (synthesized cdk.tf.json)', () => {
  let root: string;
  let stack: StackJson;
  let outdir: string;

  const resource = <T = Record<string, unknown>>(type: string, id: string): T => {
    const found = stack.resource[type]?.[id];
    expect(found, `${type}.${id}`).to.not.equal(undefined);
    return found as T;
  };
  const data = <T = Record<string, unknown>>(type: string, id: string): T => {
    const found = stack.data[type]?.[id];
    expect(found, `data.${type}.${id}`).to.not.equal(undefined);
    return found as T;
  };
  const fn = (id: 'prepare' | 'generate'): LambdaFunction => resource<LambdaFunction>('aws_lambda_function', id);
  /** The statements of the policy document an `${data.aws_iam_policy_document.X.json}` reference points at. */
  const statementsOf = (reference: string): Statement[] => {
    const match = /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(reference);
    expect(match, reference).to.not.equal(null);
    return data<{ statement: Statement[] }>('aws_iam_policy_document', match![1]!).statement;
  };
  const rolePermissions = (id: 'prepare' | 'generate'): Statement[] =>
    statementsOf(resource<{ policy: string }>('aws_iam_role_policy', id).policy);

  before(() => {
    // Arrange
    root = mkdtempSync(join(tmpdir(), 'icp-stack-test-'));
    writeStubDist(root);
    // Act
    ({ json: stack, outdir } = synthesize(root, DEFAULT_SYNTH));
  });

  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe('logical ids', () => {
    it('keeps the addresses the local runner and state depend on', () => {
      const expected: Record<string, string[]> = {
        aws_s3_bucket: ['input', 'staging', 'output'],
        aws_lambda_function: ['prepare', 'generate'],
        aws_s3_bucket_notification: ['input', 'staging'],
        aws_lambda_layer_version: ['sharp'],
        aws_cloudwatch_log_group: ['prepare', 'generate'],
        aws_iam_role: ['prepare', 'generate'],
        aws_iam_role_policy: ['prepare', 'generate'],
        aws_s3_bucket_public_access_block: ['input', 'staging', 'output'],
        aws_s3_bucket_server_side_encryption_configuration: ['input', 'staging', 'output'],
        aws_s3_bucket_ownership_controls: ['input', 'staging', 'output'],
        aws_s3_bucket_policy: ['input', 'staging', 'output'],
        aws_s3_bucket_lifecycle_configuration: ['staging', 'output'],
        aws_s3_bucket_versioning: ['output'],
        aws_sqs_queue: ['prepare_queue', 'generate_queue', 'dead_letters'],
        aws_sqs_queue_policy: ['prepare_queue', 'generate_queue'],
        aws_sqs_queue_redrive_allow_policy: ['dead_letters'],
        aws_lambda_event_source_mapping: ['prepare_queue', 'generate_queue'],
        aws_cloudwatch_metric_alarm: ['dead_letters', 'prepare_queue', 'generate_queue', 'model_calls', 'failure_ratio', 'model_throttles', 'prepare_errors', 'generate_errors'],
        aws_cloudwatch_dashboard: ['pipeline'],
        aws_cloudwatch_query_definition: ['upload_story', 'failures_by_reason', 'slowest_model_calls'],
        aws_budgets_budget: ['monthly'],
        aws_sns_topic: ['dead_letters'],
        aws_sns_topic_subscription: ['dead_letters'],
        aws_kms_key: ['dead_letters'],
      };
      for (const [type, ids] of Object.entries(expected)) {
        expect(Object.keys(stack.resource[type] ?? {}), type).to.have.members(ids);
      }
      expect(Object.keys(stack.resource)).to.have.members(Object.keys(expected));
    });
  });

  describe('functions', () => {
    for (const id of ['prepare', 'generate'] as const) {
      it(`${id} runs index.handler on nodejs22.x, arm64, with its own role and zipped code`, () => {
        const lambda = fn(id);
        expect(lambda.runtime).to.equal('nodejs22.x');
        expect(lambda.architectures).to.deep.equal(['arm64']);
        expect(lambda.handler).to.equal('index.handler');
        expect(lambda.function_name).to.equal(`\${var.name_prefix}-${id}`);
        expect(lambda.role).to.equal(`\${aws_iam_role.${id}.arn}`);
        expect(lambda.memory_size).to.equal(`\${var.${id}_memory_mb}`);
        expect(lambda.timeout).to.equal(`\${var.${id}_timeout_s}`);
        expect(lambda.filename).to.match(/^assets\/.+\/archive\.zip$/);
        expect(existsSync(join(stackJsonPath(outdir), '..', lambda.filename)), 'zip written').to.equal(true);
        expect(lambda.source_code_hash).to.match(/^[0-9a-f]{64}$/);
      });

      it(`${id} waits for its log group and role policy`, () => {
        expect(fn(id).depends_on).to.have.members([`aws_cloudwatch_log_group.${id}`, `aws_iam_role_policy.${id}`]);
        const logGroup = resource<{ name: string; retention_in_days: string }>('aws_cloudwatch_log_group', id);
        expect(logGroup.name).to.equal(`/aws/lambda/\${var.name_prefix}-${id}`);
        expect(logGroup.retention_in_days).to.equal('${var.log_retention_days}');
      });

      it(`${id} is fed by its queue: batches, partial batch failures, and a maximum concurrency instead of a reservation`, () => {
        expect(resource('aws_lambda_event_source_mapping', `${id}_queue`)).to.deep.include({
          event_source_arn: `\${aws_sqs_queue.${id}_queue.arn}`,
          function_name: `\${aws_lambda_function.${id}.arn}`,
          batch_size: id === 'prepare' ? Queueing.PREPARE_BATCH_SIZE : Queueing.GENERATE_BATCH_SIZE,
          function_response_types: ['ReportBatchItemFailures'],
          scaling_config: { maximum_concurrency: id === 'prepare' ? '${var.prepare_max_concurrency}' : '${var.max_model_calls_in_flight}' },
          // Lambda checks on create that the role may read the queue.
          depends_on: [`aws_iam_role_policy.${id}`],
        });
        expect(fn(id).reserved_concurrent_executions).to.equal(-1);
      });
    }

    it('generate takes one job per execution, so its maximum concurrency is the cap on model calls in flight', () => {
      expect(Queueing.GENERATE_BATCH_SIZE).to.equal(1);
    });

    it('gives both functions the sharp layer (prepare decodes with it, generate draws the contact sheet)', () => {
      expect(fn('prepare').layers).to.deep.equal(['${aws_lambda_layer_version.sharp.arn}']);
      expect(fn('generate').layers).to.deep.equal(['${aws_lambda_layer_version.sharp.arn}']);
    });

    for (const id of ['prepare', 'generate'] as const) {
      it(`${id} logs JSON into its own log group at log_level (system logs from WARN)`, () => {
        expect(fn(id).logging_config).to.deep.equal({
          log_format: 'JSON',
          application_log_level: '${var.log_level}',
          system_log_level: 'WARN',
          log_group: `\${aws_cloudwatch_log_group.${id}.name}`,
        });
      });

      it(`${id} traces to X-Ray only with tracing_enabled, and tells Powertools Tracer so`, () => {
        expect(fn(id).tracing_config).to.deep.equal({ mode: '${var.tracing_enabled ? "Active" : "PassThrough"}' });
        expect(fn(id).environment.variables[TRACE_ENABLED_ENV]).to.equal('${tostring(var.tracing_enabled)}');
        // Powertools Logger follows AWS_LAMBDA_LOG_LEVEL (set by Lambda from log_level) before POWERTOOLS_LOG_LEVEL.
        expect(fn(id).environment.variables).to.not.have.any.keys('POWERTOOLS_LOG_LEVEL', 'LOG_LEVEL', 'AWS_LAMBDA_LOG_LEVEL');
      });
    }

    it('builds the sharp layer for nodejs22.x on arm64 from its own zip', () => {
      const layer = resource<Record<string, unknown>>('aws_lambda_layer_version', 'sharp');
      expect(layer.layer_name).to.equal('${var.name_prefix}-sharp');
      expect(layer.compatible_runtimes).to.deep.equal(['nodejs22.x']);
      expect(layer.compatible_architectures).to.deep.equal(['arm64']);
      expect(layer.filename).to.match(/^assets\/.+\/archive\.zip$/);
      expect(layer.filename).to.not.equal(fn('prepare').filename);
    });

    it('passes prepare exactly its environment contract', () => {
      expect(fn('prepare').environment.variables).to.deep.equal({
        STAGING_BUCKET: '${aws_s3_bucket.staging.bucket}',
        MODEL_ID: '${var.model_id}',
        DEFAULT_PROMPT: '${var.default_prompt}',
        DEFAULT_NEGATIVE_PROMPT: '${var.default_negative_prompt}',
        DEFAULT_CONTROL_MODE: '${var.default_control_mode}',
        DEFAULT_CONTROL_STRENGTH: '${var.default_control_strength}',
        DEFAULT_COUNT: '${var.default_count}',
        DEFAULT_QUALITY: '${var.default_quality}',
        MAX_INPUT_BYTES: String(IntegerSettings.MAX_INPUT_BYTES.default),
        MAX_INPUT_PIXELS: String(IntegerSettings.MAX_INPUT_PIXELS.default),
        MAX_RECEIVE_COUNT: '${var.max_receive_count}',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_TRACE_ENABLED: '${tostring(var.tracing_enabled)}',
      });
      expect(IntegerSettings.MAX_INPUT_BYTES.default).to.equal(52_428_800);
      expect(IntegerSettings.MAX_INPUT_PIXELS.default).to.equal(60_000_000);
    });

    it('passes generate exactly its environment contract, with the request deadline 30 s inside the timeout', () => {
      expect(fn('generate').environment.variables).to.deep.equal({
        OUTPUT_BUCKET: '${aws_s3_bucket.output.bucket}',
        MODEL_ID: '${var.model_id}',
        REQUEST_TIMEOUT_MS: '${(var.generate_timeout_s - 30) * 1000}',
        MAX_RECEIVE_COUNT: '${var.max_receive_count}',
        MIN_MODEL_CALL_MS: '${var.model_call_min_seconds * 1000}',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_TRACE_ENABLED: '${tostring(var.tracing_enabled)}',
      });
    });

    it('sets only environment variables the functions read (settings.ts), besides NODE_OPTIONS and Powertools\' tracing switch', () => {
      for (const id of ['prepare', 'generate'] as const) {
        for (const name of Object.keys(fn(id).environment.variables)) {
          if (name !== 'NODE_OPTIONS' && name !== TRACE_ENABLED_ENV) expect(Object.values(Env), `${id} ${name}`).to.include(name);
        }
      }
    });
  });

  describe('queues between the stages', () => {
    for (const [bucket, id, timeout] of [['input', 'prepare', 'prepare_timeout_s'], ['staging', 'generate', 'generate_timeout_s']] as const) {
      const queue = `${id}_queue`;

      it(`keeps ${id}'s messages 14 days, SSE-SQS, invisible for 6× the function's timeout, dead-lettered after max_receive_count receives`, () => {
        const config = resource<Record<string, unknown>>('aws_sqs_queue', queue);
        expect(config).to.include({
          name: `\${var.name_prefix}-${id}`,
          message_retention_seconds: Queueing.RETENTION_S,
          sqs_managed_sse_enabled: true,
          visibility_timeout_seconds: `\${(var.${timeout} * ${Queueing.VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT})}`,
        });
        expect(config).to.not.have.any.keys('kms_master_key_id');
        expect(config.redrive_policy).to.equal('{"deadLetterTargetArn":"${aws_sqs_queue.dead_letters.arn}","maxReceiveCount":${var.max_receive_count}}');
        // What Terraform will send, with the expressions evaluated.
        expect(JSON.parse(String(config.redrive_policy).replace('${var.max_receive_count}', '5'))).to.deep.equal({
          deadLetterTargetArn: '${aws_sqs_queue.dead_letters.arn}',
          maxReceiveCount: 5,
        });
      });

      it(`lets only the ${bucket} bucket of this account send to ${queue}, and only over TLS`, () => {
        const policy = resource<{ queue_url: string; policy: string }>('aws_sqs_queue_policy', queue);
        expect(policy.queue_url).to.equal(`\${aws_sqs_queue.${queue}.url}`);
        expect(statementsOf(policy.policy)).to.deep.equal([
          {
            sid: 'BucketSendsNotifications',
            effect: 'Allow',
            principals: [{ type: 'Service', identifiers: ['s3.amazonaws.com'] }],
            actions: ['sqs:SendMessage'],
            resources: [`\${aws_sqs_queue.${queue}.arn}`],
            condition: [
              { test: 'ArnEquals', variable: 'aws:SourceArn', values: [`\${aws_s3_bucket.${bucket}.arn}`] },
              { test: 'StringEquals', variable: 'aws:SourceAccount', values: [ACCOUNT_ID] },
            ],
          },
          {
            sid: 'DenyInsecureTransport',
            effect: 'Deny',
            principals: [{ type: '*', identifiers: ['*'] }],
            actions: ['sqs:*'],
            resources: [`\${aws_sqs_queue.${queue}.arn}`],
            condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
          },
        ]);
      });

      it(`alarms when the oldest message in ${queue} is older than queue_age_alarm_s`, () => {
        expect(resource('aws_cloudwatch_metric_alarm', queue)).to.deep.include({
          alarm_name: `\${var.name_prefix}-${id}-oldest-message`,
          namespace: 'AWS/SQS',
          metric_name: 'ApproximateAgeOfOldestMessage',
          dimensions: { QueueName: `\${aws_sqs_queue.${queue}.name}` },
          statistic: 'Maximum',
          threshold: '${var.queue_age_alarm_s}',
          comparison_operator: 'GreaterThanThreshold',
          treat_missing_data: 'notBreaching',
          alarm_actions: '${aws_sns_topic.dead_letters[*].arn}',
        });
      });
    }

    it('sends every object created in the input bucket to prepare\'s queue, once the queue policy exists', () => {
      const notification = resource<Record<string, unknown>>('aws_s3_bucket_notification', 'input');
      expect(notification.bucket).to.equal('${aws_s3_bucket.input.id}');
      expect(notification.queue).to.deep.equal([{ events: ['s3:ObjectCreated:*'], queue_arn: '${aws_sqs_queue.prepare_queue.arn}' }]);
      expect(notification).to.not.have.any.keys('lambda_function');
      expect(notification.depends_on).to.deep.equal(['aws_sqs_queue_policy.prepare_queue']);
    });

    it('sends only jobs/…/job.json of the staging bucket to generate\'s queue, once the queue policy exists', () => {
      const notification = resource<Record<string, unknown>>('aws_s3_bucket_notification', 'staging');
      expect(notification.bucket).to.equal('${aws_s3_bucket.staging.id}');
      // The layout module's trigger, and what it means today.
      expect(JOB_TRIGGER).to.deep.equal({ prefix: 'jobs/', suffix: '/job.json' });
      expect(notification.queue).to.deep.equal([
        {
          events: ['s3:ObjectCreated:*'],
          filter_prefix: JOB_TRIGGER.prefix,
          filter_suffix: JOB_TRIGGER.suffix,
          queue_arn: '${aws_sqs_queue.generate_queue.arn}',
        },
      ]);
      expect(notification.depends_on).to.deep.equal(['aws_sqs_queue_policy.generate_queue']);
    });

    it('lets only the two stage queues dead-letter into (and be redriven from) the dead-letter queue', () => {
      const allow = resource<{ queue_url: string; redrive_allow_policy: string }>('aws_sqs_queue_redrive_allow_policy', 'dead_letters');
      expect(allow.queue_url).to.equal('${aws_sqs_queue.dead_letters.url}');
      expect(JSON.parse(allow.redrive_allow_policy)).to.deep.equal({
        redrivePermission: 'byQueue',
        sourceQueueArns: ['${aws_sqs_queue.prepare_queue.arn}', '${aws_sqs_queue.generate_queue.arn}'],
      });
    });

    it('never lets a function trigger itself: prepare cannot write uploads, generate can write no job file', () => {
      const writes = (id: 'prepare' | 'generate'): string[] =>
        rolePermissions(id).filter((s) => s.actions.includes('s3:PutObject')).flatMap((s) => s.resources ?? []);
      expect(writes('prepare').join()).to.not.include('aws_s3_bucket.input.');
      // Its records live in the staging bucket outside jobs/, the trigger's prefix.
      expect(writes('generate').filter((arn) => arn.includes('aws_s3_bucket.staging.'))).to.deep.equal([
        `\${aws_s3_bucket.staging.arn}/${Staging.CLAIMS_PREFIX}*`,
        `\${aws_s3_bucket.staging.arn}/${Staging.OUTCOMES_PREFIX}*`,
      ]);
      expect(writes('generate').some((arn) => arn.includes(`/${JOB_TRIGGER.prefix}`))).to.equal(false);
    });
  });

  describe('buckets', () => {
    for (const id of BUCKETS) {
      it(`hardens the ${id} bucket: unique name, public access blocked, owner enforced, SSE-S3, TLS only`, () => {
        expect(resource('aws_s3_bucket', id)).to.include({
          bucket_prefix: `\${var.name_prefix}-${id}-`,
          force_destroy: '${var.force_destroy}',
        });
        const bucketRef = `\${aws_s3_bucket.${id}.id}`;
        expect(resource('aws_s3_bucket_public_access_block', id)).to.include({
          bucket: bucketRef,
          block_public_acls: true,
          block_public_policy: true,
          ignore_public_acls: true,
          restrict_public_buckets: true,
        });
        expect(resource('aws_s3_bucket_ownership_controls', id)).to.deep.include({
          bucket: bucketRef,
          rule: { object_ownership: 'BucketOwnerEnforced' },
        });
        expect(resource('aws_s3_bucket_server_side_encryption_configuration', id)).to.deep.include({
          bucket: bucketRef,
          rule: [
            {
              apply_server_side_encryption_by_default: {
                sse_algorithm: `\${${KMS_SET} ? "aws:kms" : "AES256"}`,
                kms_master_key_id: `\${${KMS_SET} ? var.kms_key_arn : null}`,
              },
              bucket_key_enabled: `\${${KMS_SET}}`,
            },
          ],
        });
        const policy = resource<{ bucket: string; policy: string }>('aws_s3_bucket_policy', id);
        expect(policy.bucket).to.equal(bucketRef);
        expect(statementsOf(policy.policy)).to.deep.equal([
          {
            sid: 'DenyInsecureTransport',
            effect: 'Deny',
            principals: [{ type: '*', identifiers: ['*'] }],
            actions: ['s3:*'],
            resources: [`\${aws_s3_bucket.${id}.arn}`, `\${aws_s3_bucket.${id}.arn}/*`],
            condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
          },
        ]);
      });
    }

    it('expires staged job files after staging_expiration_days', () => {
      const lifecycle = resource<{ bucket: string; rule: Record<string, unknown>[]; depends_on?: string[] }>('aws_s3_bucket_lifecycle_configuration', 'staging');
      expect(lifecycle.bucket).to.equal('${aws_s3_bucket.staging.id}');
      expect(lifecycle.depends_on).to.equal(undefined);
      expect(lifecycle.rule).to.deep.equal([
        {
          id: 'expire-objects',
          status: 'Enabled',
          expiration: [{ days: '${var.staging_expiration_days}' }],
          filter: [{ prefix: '' }],
          abort_incomplete_multipart_upload: [{ days_after_initiation: 1 }],
        },
      ]);
    });

    it('versions only the output bucket, and expires its earlier versions after output_noncurrent_version_expiration_days', () => {
      expect(Object.keys(stack.resource.aws_s3_bucket_versioning ?? {})).to.deep.equal(['output']);
      expect(resource('aws_s3_bucket_versioning', 'output')).to.deep.include({
        bucket: '${aws_s3_bucket.output.id}',
        versioning_configuration: { status: 'Enabled' },
      });
      const lifecycle = resource<{ bucket: string; rule: Record<string, unknown>[]; depends_on?: string[] }>('aws_s3_bucket_lifecycle_configuration', 'output');
      expect(lifecycle.bucket).to.equal('${aws_s3_bucket.output.id}');
      // S3 refuses noncurrent-version rules on a bucket that is not versioned yet.
      expect(lifecycle.depends_on).to.deep.equal(['aws_s3_bucket_versioning.output']);
      expect(lifecycle.rule).to.deep.equal([
        {
          id: 'expire-noncurrent-versions',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          noncurrent_version_expiration: [{ noncurrent_days: '${var.output_noncurrent_version_expiration_days}' }],
          expiration: [{ expired_object_delete_marker: true }],
          abort_incomplete_multipart_upload: [{ days_after_initiation: 1 }],
        },
      ]);
    });
  });

  describe('dead letters', () => {
    it('keeps failed messages 14 days in an SQS-encrypted queue, which redrives nowhere itself', () => {
      const queue = resource<Record<string, unknown>>('aws_sqs_queue', 'dead_letters');
      expect(queue).to.include({
        name: '${var.name_prefix}-dead-letters',
        message_retention_seconds: Queueing.RETENTION_S,
        sqs_managed_sse_enabled: true,
      });
      expect(queue).to.not.have.any.keys('redrive_policy');
    });

    it('alarms as soon as one message is visible in the queue', () => {
      expect(resource('aws_cloudwatch_metric_alarm', 'dead_letters')).to.deep.include({
        namespace: 'AWS/SQS',
        metric_name: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: '${aws_sqs_queue.dead_letters.name}' },
        statistic: 'Maximum',
        comparison_operator: 'GreaterThanThreshold',
        threshold: 0,
        treat_missing_data: 'notBreaching',
        alarm_actions: '${aws_sns_topic.dead_letters[*].arn}',
        ok_actions: '${aws_sns_topic.dead_letters[*].arn}',
      });
    });

    it('e-mails through a topic only when alarm_email is set', () => {
      const count = '${("" == var.alarm_email) ? 0 : 1}';
      expect(resource('aws_sns_topic', 'dead_letters')).to.include({
        count,
        name: '${var.name_prefix}-dead-letters-alarm',
        kms_master_key_id: '${aws_kms_key.dead_letters[0].arn}',
      });
      expect(resource('aws_sns_topic_subscription', 'dead_letters')).to.include({
        count,
        topic_arn: '${aws_sns_topic.dead_letters[0].arn}',
        protocol: 'email',
        endpoint: '${var.alarm_email}',
      });
    });

    it('encrypts the topic with a key of its own that CloudWatch may use, rotated, and only while the topic exists', () => {
      const key = resource<Record<string, unknown>>('aws_kms_key', 'dead_letters');
      expect(key).to.include({
        count: '${("" == var.alarm_email) ? 0 : 1}',
        enable_key_rotation: true,
        deletion_window_in_days: 7,
        policy: '${data.aws_iam_policy_document.dead_letters_topic_key_policy.json}',
      });
      const statements = statementsOf(String(key.policy));
      expect(statements.map((s) => s.principals)).to.deep.equal([
        [{ type: 'AWS', identifiers: [`arn:aws:iam::${ACCOUNT_ID}:root`] }],
        [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
      ]);
      expect(statements[1]?.actions).to.deep.equal(['kms:Decrypt', 'kms:GenerateDataKey*']);
    });
  });

  describe('spend ceiling', () => {
    it('alarms when model calls in an hour pass model_calls_alarm_per_hour', () => {
      expect(resource('aws_cloudwatch_metric_alarm', 'model_calls')).to.deep.include({
        alarm_name: '${var.name_prefix}-model-calls-per-hour',
        namespace: 'ImageConditioningPipeline',
        metric_name: 'ModelCalls',
        dimensions: { service: 'generate' },
        statistic: 'Sum',
        period: 3600,
        evaluation_periods: 1,
        threshold: '${var.model_calls_alarm_per_hour}',
        comparison_operator: 'GreaterThanThreshold',
        treat_missing_data: 'notBreaching',
        alarm_actions: '${aws_sns_topic.dead_letters[*].arn}',
        ok_actions: '${aws_sns_topic.dead_letters[*].arn}',
      });
    });

    it('creates a monthly cost budget that e-mails at 80 % and 100 % only with monthly_budget_usd and alarm_email', () => {
      const budget = resource<Record<string, unknown>>('aws_budgets_budget', 'monthly');
      expect(budget).to.deep.include({
        count: '${var.monthly_budget_usd > 0 && var.alarm_email != "" ? 1 : 0}',
        name: '${var.name_prefix}-monthly-cost',
        budget_type: 'COST',
        limit_amount: '${var.monthly_budget_usd}',
        limit_unit: 'USD',
        time_unit: 'MONTHLY',
      });
      expect(budget).to.not.have.any.keys('cost_filter');
      expect(budget.notification).to.deep.equal(
        [80, 100].map((threshold) => ({
          comparison_operator: 'GREATER_THAN',
          threshold,
          threshold_type: 'PERCENTAGE',
          notification_type: 'ACTUAL',
          subscriber_email_addresses: ['${var.alarm_email}'],
        })),
      );
    });

    it('outputs the ceiling as expressions on the two variables with the model\'s price and pictures per call', () => {
      // Titan: up to 5 pictures per call at $0.01 (the plan test checks the values against spendCeiling).
      expect(stack.output.max_model_calls_per_hour?.value).to.equal(
        '${var.model_call_min_seconds == 0 ? null : floor(var.max_model_calls_in_flight * 3600 / var.model_call_min_seconds)}',
      );
      expect(stack.output.max_images_per_hour?.value).to.equal(
        '${var.model_call_min_seconds == 0 ? null : floor(var.max_model_calls_in_flight * 3600 / var.model_call_min_seconds) * 5}',
      );
      expect(stack.output.max_usd_per_hour?.value).to.equal(
        '${var.model_call_min_seconds == 0 ? null : floor(floor(var.max_model_calls_in_flight * 3600 / var.model_call_min_seconds) * 5 * 0.01 * 100 + 0.5) / 100}',
      );
    });
  });

  describe('IAM', () => {
    for (const id of ['prepare', 'generate'] as const) {
      it(`lets only Lambda assume the ${id} role`, () => {
        const role = resource<{ name: string; assume_role_policy: string }>('aws_iam_role', id);
        expect(role.name).to.equal(`\${var.name_prefix}-${id}`);
        expect(statementsOf(role.assume_role_policy)).to.deep.equal([
          { effect: 'Allow', actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }] },
        ]);
        expect(resource('aws_iam_role_policy', id)).to.include({ role: `\${aws_iam_role.${id}.id}` });
      });

      // Wildcards and scoping for every policy document: security.test.ts.
    }

    const consume = (queue: string): Statement => ({
      sid: 'ConsumeOwnQueue',
      effect: 'Allow',
      actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
      resources: [`\${aws_sqs_queue.${queue}.arn}`],
    });

    it('lets prepare consume its queue, read uploads (and tell deleted from forbidden), write jobs and write its own logs, nothing else', () => {
      expect(rolePermissions('prepare')).to.deep.equal([
        consume('prepare_queue'),
        { sid: 'ReadUploads', effect: 'Allow', actions: ['s3:GetObject'], resources: ['${aws_s3_bucket.input.arn}/*'] },
        { sid: 'TellDeletedUploads', effect: 'Allow', actions: ['s3:ListBucket'], resources: ['${aws_s3_bucket.input.arn}'] },
        { sid: 'WriteJobs', effect: 'Allow', actions: ['s3:PutObject'], resources: ['${aws_s3_bucket.staging.arn}/jobs/*'] },
        {
          sid: 'WriteOwnLogs',
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: ['${aws_cloudwatch_log_group.prepare.arn}:*'],
        },
      ]);
    });

    it('lets generate consume its queue, read jobs, keep its claims and outcome records, replace and list results, invoke exactly the catalogue ARNs and write its own logs', () => {
      expect(rolePermissions('generate')).to.deep.equal([
        consume('generate_queue'),
        { sid: 'ReadJobs', effect: 'Allow', actions: ['s3:GetObject'], resources: ['${aws_s3_bucket.staging.arn}/jobs/*'] },
        { sid: 'ClaimRequests', effect: 'Allow', actions: ['s3:GetObject', 's3:PutObject'], resources: ['${aws_s3_bucket.staging.arn}/claims/*'] },
        { sid: 'RecordOutcomes', effect: 'Allow', actions: ['s3:GetObject', 's3:PutObject'], resources: ['${aws_s3_bucket.staging.arn}/outcomes/*'] },
        { sid: 'TellMissingRecords', effect: 'Allow', actions: ['s3:ListBucket'], resources: ['${aws_s3_bucket.staging.arn}'] },
        { sid: 'WriteResults', effect: 'Allow', actions: ['s3:PutObject'], resources: ['${aws_s3_bucket.output.arn}/*'] },
        { sid: 'ReplaceEarlierResults', effect: 'Allow', actions: ['s3:DeleteObject'], resources: ['${aws_s3_bucket.output.arn}/*'] },
        { sid: 'ListResults', effect: 'Allow', actions: ['s3:ListBucket'], resources: ['${aws_s3_bucket.output.arn}'] },
        {
          sid: 'InvokeModel',
          effect: 'Allow',
          actions: ['bedrock:InvokeModel'],
          resources: ['arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-image-generator-v2:0'],
        },
        {
          sid: 'WriteOwnLogs',
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: ['${aws_cloudwatch_log_group.generate.arn}:*'],
        },
      ]);
    });

    const bucketsOf = { prepare: ['input', 'staging'], generate: ['staging', 'output'] } as const;
    for (const id of ['prepare', 'generate'] as const) {
      it(`lets ${id} use the bucket key through S3 only, for its own buckets only, and only when kms_key_arn is set`, () => {
        const permissions = resource<{ policy: string }>('aws_iam_role_policy', id).policy;
        const doc = data<PolicyDocument>('aws_iam_policy_document', /aws_iam_policy_document\.(\w+)\.json/.exec(permissions)![1]!);
        const dynamic = [doc.dynamic?.statement ?? []].flat();
        expect(dynamic.find((block) => block.content.sid === 'UseBucketKeyThroughS3')).to.deep.equal({
          for_each: '${("" == var.kms_key_arn) ? [] : [var.kms_key_arn]}',
          content: {
            sid: 'UseBucketKeyThroughS3',
            effect: 'Allow',
            actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
            resources: ['${statement.value}'],
            condition: [
              { test: 'StringEquals', variable: 'kms:ViaService', values: ['s3.us-east-1.amazonaws.com'] },
              {
                test: 'StringLike',
                variable: 'kms:EncryptionContext:aws:s3:arn',
                values: bucketsOf[id].flatMap((bucket) => [`\${aws_s3_bucket.${bucket}.arn}`, `\${aws_s3_bucket.${bucket}.arn}/*`]),
              },
            ],
          },
        });
      });
    }

    for (const id of ['prepare', 'generate'] as const) {
      it(`lets ${id} write traces to X-Ray only while tracing_enabled (X-Ray's write actions take no resource but "*")`, () => {
        const permissions = resource<{ policy: string }>('aws_iam_role_policy', id).policy;
        const doc = data<PolicyDocument>('aws_iam_policy_document', /aws_iam_policy_document\.(\w+)\.json/.exec(permissions)![1]!);
        const dynamic = [doc.dynamic?.statement ?? []].flat();
        expect(dynamic.find((block) => block.content.sid === 'WriteTraces')).to.deep.equal({
          for_each: '${var.tracing_enabled ? ["xray"] : []}',
          content: { sid: 'WriteTraces', effect: 'Allow', actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'] },
        });
        expect((doc.statement ?? []).flatMap((s) => s.actions).filter((a) => a.startsWith('xray:'))).to.deep.equal([]);
      });
    }

    it('for an inference profile, allows the profile in this account, and the model in every region it routes to only through that profile', () => {
      // Arrange
      const synth: SynthConfig = { modelId: 'us.stability.stable-image-control-sketch-v1:0', region: 'us-west-2' };
      // Act
      const { json } = synthesize(root, synth);
      // Assert
      const generatePolicy = json.resource.aws_iam_role_policy?.generate as { policy: string };
      const docId = /aws_iam_policy_document\.(\w+)\.json/.exec(generatePolicy.policy)![1]!;
      const statements = (json.data.aws_iam_policy_document?.[docId] as { statement: Statement[] }).statement;
      const invoking = statements.filter((s) => s.actions.includes('bedrock:InvokeModel'));
      const profile = `arn:aws:bedrock:us-west-2:${ACCOUNT_ID}:inference-profile/us.stability.stable-image-control-sketch-v1:0`;
      expect(invoking).to.deep.equal([
        { sid: 'InvokeModel', effect: 'Allow', actions: ['bedrock:InvokeModel'], resources: [profile] },
        {
          sid: 'InvokeModelThroughProfile',
          effect: 'Allow',
          actions: ['bedrock:InvokeModel'],
          resources: [
            'arn:aws:bedrock:us-east-1::foundation-model/stability.stable-image-control-sketch-v1:0',
            'arn:aws:bedrock:us-east-2::foundation-model/stability.stable-image-control-sketch-v1:0',
            'arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-control-sketch-v1:0',
          ],
          condition: [{ test: 'StringEquals', variable: 'bedrock:InferenceProfileArn', values: [profile] }],
        },
      ]);
      // Together exactly the catalogue's ARNs.
      expect(invoking.flatMap((s) => s.resources)).to.deep.equal(invokeResourceArns(synth.modelId, synth.region, ACCOUNT_ID));
      expect(json.variable.model_id?.default).to.equal(synth.modelId);
      expect(json.variable.region?.default).to.equal(synth.region);
    });
  });

  describe('variables and provider', () => {
    const expected: Record<string, { type: string; default: unknown; validated: boolean }> = {
      region: { type: 'string', default: 'us-east-1', validated: true },
      name_prefix: { type: 'string', default: 'icp', validated: true },
      model_id: { type: 'string', default: 'amazon.titan-image-generator-v2:0', validated: true },
      default_prompt: { type: 'string', default: '', validated: false },
      default_negative_prompt: { type: 'string', default: '', validated: false },
      default_control_mode: { type: 'string', default: 'CANNY_EDGE', validated: true },
      default_control_strength: { type: 'number', default: 0.7, validated: true },
      default_count: { type: 'number', default: 1, validated: true },
      default_quality: { type: 'string', default: 'standard', validated: true },
      prepare_memory_mb: { type: 'number', default: 1769, validated: true },
      prepare_timeout_s: { type: 'number', default: 60, validated: true },
      generate_memory_mb: { type: 'number', default: 512, validated: true },
      generate_timeout_s: { type: 'number', default: 300, validated: true },
      force_destroy: { type: 'bool', default: true, validated: false },
      kms_key_arn: { type: 'string', default: '', validated: true },
      staging_expiration_days: { type: 'number', default: 7, validated: true },
      output_noncurrent_version_expiration_days: { type: 'number', default: 30, validated: true },
      prepare_max_concurrency: { type: 'number', default: 10, validated: true },
      max_model_calls_in_flight: { type: 'number', default: 4, validated: true },
      max_receive_count: { type: 'number', default: IntegerSettings.MAX_RECEIVE_COUNT.default, validated: true },
      model_call_min_seconds: { type: 'number', default: IntegerSettings.MIN_MODEL_CALL_MS.default / 1000, validated: true },
      model_calls_alarm_per_hour: { type: 'number', default: 2880, validated: true },
      queue_age_alarm_s: { type: 'number', default: 86400, validated: true },
      monthly_budget_usd: { type: 'number', default: 0, validated: true },
      log_retention_days: { type: 'number', default: 30, validated: true },
      log_level: { type: 'string', default: 'INFO', validated: true },
      tracing_enabled: { type: 'bool', default: false, validated: false },
      failure_ratio_alarm: { type: 'number', default: 0.2, validated: true },
      failure_ratio_window_s: { type: 'number', default: 3600, validated: true },
      alarm_email: { type: 'string', default: '', validated: true },
    };

    it('declares every variable with a type, a description and a default, and nothing else', () => {
      expect(Object.keys(stack.variable)).to.have.members(Object.keys(expected));
      for (const [name, want] of Object.entries(expected)) {
        const variable = stack.variable[name]!;
        expect(variable.type, name).to.equal(want.type);
        expect(variable.default, name).to.deep.equal(want.default);
        expect(variable.description, name).to.be.a('string').with.length.above(20);
        expect(variable.validation !== undefined, `${name} validation`).to.equal(want.validated);
      }
    });

    it('takes the provider region from var.region', () => {
      expect(stack.provider.aws[0]?.region).to.equal('${var.region}');
    });

    it('keeps state in the file it was given', () => {
      expect(stack.terraform.backend.local.path).to.equal(join(root, 'test.tfstate'));
    });
  });

  describe('outputs', () => {
    it('names the buckets and functions and gives a ready upload command, each described', () => {
      expect(stack.output).to.have.all.keys(Object.keys(STACK_OUTPUTS));
      for (const [name, output] of Object.entries(stack.output)) {
        expect(output.description, name).to.be.a('string').and.not.equal('');
      }
      expect(stack.output.input_bucket_name?.value).to.equal('${aws_s3_bucket.input.bucket}');
      expect(stack.output.staging_bucket_name?.value).to.equal('${aws_s3_bucket.staging.bucket}');
      expect(stack.output.output_bucket_name?.value).to.equal('${aws_s3_bucket.output.bucket}');
      expect(stack.output.prepare_function_name?.value).to.equal('${aws_lambda_function.prepare.function_name}');
      expect(stack.output.generate_function_name?.value).to.equal('${aws_lambda_function.generate.function_name}');
      expect(stack.output.dead_letter_queue_url?.value).to.equal('${aws_sqs_queue.dead_letters.url}');
      expect(stack.output.prepare_queue_url?.value).to.equal('${aws_sqs_queue.prepare_queue.url}');
      expect(stack.output.generate_queue_url?.value).to.equal('${aws_sqs_queue.generate_queue.url}');
      expect(stack.output.dead_letter_queue_arn?.value).to.equal('${aws_sqs_queue.dead_letters.arn}');
      expect(stack.output.redrive_command?.value).to.equal('aws sqs start-message-move-task --source-arn ${aws_sqs_queue.dead_letters.arn}');
      expect(stack.output.upload_command?.value).to.equal(
        `aws s3 cp photo.jpg s3://\${aws_s3_bucket.input.bucket}/ --metadata '{"prompt":"a tiger as a hand drawn sketch"}'`,
      );
    });
  });

  describe('operating it: dashboard, alarms, saved queries', () => {
    const ACTIONS = '${aws_sns_topic.dead_letters[*].arn}';
    const dashboardOf = (): Dashboard => {
      const config = resource<{ dashboard_name: string; dashboard_body: string }>('aws_cloudwatch_dashboard', 'pipeline');
      expect(config.dashboard_name).to.equal('${var.name_prefix}-pipeline');
      // The body is JSON with Terraform references in strings, filled in by Terraform (terraform.test.ts validates it).
      return JSON.parse(config.dashboard_body) as Dashboard;
    };
    const widget = (title: string): MetricWidget => {
      const found = dashboardOf().widgets.find((w): w is MetricWidget => w.type === 'metric' && w.properties.title === title);
      expect(found, title).to.not.equal(undefined);
      return found!;
    };
    /** Each line as "namespace metric dim=value … [stat]" or the expression. */
    const lines = (title: string): string[] =>
      widget(title).properties.metrics.map((row) => {
        const options = row.find((part) => typeof part === 'object') as { expression?: string; stat?: string } | undefined;
        if (options?.expression) return options.expression;
        const names = row.filter((part): part is string => typeof part === 'string');
        const dims = [];
        for (let i = 2; i < names.length; i += 2) dims.push(`${names[i]}=${names[i + 1]}`);
        return [names[0], names[1], ...dims, ...(options?.stat ? [`[${options.stat}]`] : [])].join(' ');
      });

    it('draws the dashboard on a 24-column grid, every widget in the stack region, with no overlap', () => {
      const widgets = dashboardOf().widgets;
      expect(widgets.filter((w) => w.type === 'metric').map((w) => (w as MetricWidget).properties.title)).to.have.members(Object.values(WidgetTitle));
      const cells = new Set<string>();
      for (const w of widgets) {
        expect(w.x + w.width, JSON.stringify(w)).to.be.at.most(24);
        if (w.type === 'metric') expect(w.properties.region).to.equal('${var.region}');
        for (let x = w.x; x < w.x + w.width; x++) {
          for (let y = w.y; y < w.y + w.height; y++) {
            expect(cells.has(`${x},${y}`), `overlap at ${x},${y}`).to.equal(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    });

    it('shows uploads prepared and rejected and the outcomes by outcome, per hour', () => {
      expect(widget(WidgetTitle.UPLOADS).properties).to.include({ period: 3600, stat: 'Sum' });
      expect(lines(WidgetTitle.UPLOADS)).to.deep.equal([
        'ImageConditioningPipeline UploadsPrepared service=prepare',
        `SUM(${byReason('UploadsRejected', 3600)})`,
        'ImageConditioningPipeline Outcomes service=generate outcome=succeeded',
        'ImageConditioningPipeline Outcomes service=generate outcome=partial',
        'ImageConditioningPipeline Outcomes service=generate outcome=failed',
      ]);
      expect(byReason('UploadsRejected', 3600)).to.equal(`SEARCH('{ImageConditioningPipeline,reason,service} MetricName="UploadsRejected"', 'Sum', 3600)`);
    });

    it('shows images and model calls per hour, model latency p50/p90, failures by reason and the estimated spend per hour and day', () => {
      expect(widget(WidgetTitle.IMAGES).properties).to.include({ period: 3600, stat: 'Sum' });
      expect(lines(WidgetTitle.IMAGES)).to.include.members([
        'ImageConditioningPipeline ImagesGenerated service=generate',
        'ImageConditioningPipeline ModelCalls service=generate',
      ]);
      expect(lines(WidgetTitle.LATENCY)).to.deep.equal([
        'ImageConditioningPipeline ModelLatency service=generate [p50]',
        'ImageConditioningPipeline ModelLatency service=generate [p90]',
      ]);
      expect(lines(WidgetTitle.FAILURES)).to.deep.equal([byReason('Failures', 3600)]);
      expect(widget(WidgetTitle.SPEND_HOUR).properties).to.include({ period: 3600, stat: 'Sum' });
      expect(widget(WidgetTitle.SPEND_DAY).properties).to.include({ period: 86400, stat: 'Sum' });
      for (const title of [WidgetTitle.SPEND_HOUR, WidgetTitle.SPEND_DAY]) {
        expect(lines(title)).to.deep.equal(['ImageConditioningPipeline EstimatedCostUsd service=generate']);
      }
    });

    it('shows each stage queue\'s depth and oldest message, and the dead-letter queue\'s depth', () => {
      for (const [title, queue] of [[WidgetTitle.PREPARE_QUEUE, 'prepare_queue'], [WidgetTitle.GENERATE_QUEUE, 'generate_queue']] as const) {
        expect(lines(title)).to.deep.equal(
          ['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateAgeOfOldestMessage'].map(
            (metric) => `AWS/SQS ${metric} QueueName=\${aws_sqs_queue.${queue}.name}`,
          ),
        );
      }
      expect(lines(WidgetTitle.DEAD_LETTERS)).to.deep.equal(['AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${aws_sqs_queue.dead_letters.name}']);
    });

    it('shows each function\'s errors, throttles and duration p50, p90 and max', () => {
      for (const [title, id] of [[WidgetTitle.PREPARE_FUNCTION, 'prepare'], [WidgetTitle.GENERATE_FUNCTION, 'generate']] as const) {
        const name = `FunctionName=\${aws_lambda_function.${id}.function_name}`;
        expect(lines(title)).to.deep.equal([
          `AWS/Lambda Errors ${name}`,
          `AWS/Lambda Throttles ${name}`,
          `AWS/Lambda Duration ${name} [p50]`,
          `AWS/Lambda Duration ${name} [p90]`,
          `AWS/Lambda Duration ${name} [Maximum]`,
        ]);
      }
    });

    it('alarms when the failed share of the outcomes in failure_ratio_window_s passes failure_ratio_alarm', () => {
      const alarm = resource<Record<string, unknown>>('aws_cloudwatch_metric_alarm', 'failure_ratio');
      expect(alarm).to.deep.include({
        alarm_name: '${var.name_prefix}-failure-ratio',
        threshold: '${var.failure_ratio_alarm}',
        comparison_operator: 'GreaterThanThreshold',
        evaluation_periods: 1,
        treat_missing_data: 'notBreaching',
        alarm_actions: ACTIONS,
        ok_actions: ACTIONS,
      });
      const queries = alarm.metric_query as { id: string; expression?: string; return_data: boolean; metric?: Record<string, unknown> }[];
      expect(queries.filter((q) => q.metric).map((q) => [q.id, q.metric])).to.deep.equal(
        ['succeeded', 'partial', 'failed'].map((outcome) => [
          outcome,
          { namespace: 'ImageConditioningPipeline', metric_name: 'Outcomes', dimensions: { service: 'generate', outcome }, stat: 'Sum', period: '${var.failure_ratio_window_s}' },
        ]),
      );
      expect(queries.filter((q) => q.return_data).map((q) => q.expression)).to.deep.equal(['IF(total > 0, FILL(failed, 0) / total, 0)']);
      expect(queries.find((q) => q.id === 'total')?.expression).to.equal('FILL(succeeded, 0) + FILL(partial, 0) + FILL(failed, 0)');
    });

    it('alarms on Bedrock throttling of the model in each of three five-minute periods', () => {
      expect(resource('aws_cloudwatch_metric_alarm', 'model_throttles')).to.deep.include({
        alarm_name: '${var.name_prefix}-model-throttled',
        namespace: 'AWS/Bedrock',
        metric_name: 'InvocationThrottles',
        dimensions: { ModelId: '${var.model_id}' },
        statistic: 'Sum',
        period: 300,
        evaluation_periods: 3,
        datapoints_to_alarm: 3,
        threshold: 0,
        comparison_operator: 'GreaterThanThreshold',
        treat_missing_data: 'notBreaching',
        alarm_actions: ACTIONS,
        ok_actions: ACTIONS,
      });
    });

    for (const id of ['prepare', 'generate'] as const) {
      it(`alarms on ${id}'s errors in 3 of 5 minutes`, () => {
        expect(resource('aws_cloudwatch_metric_alarm', `${id}_errors`)).to.deep.include({
          alarm_name: `\${var.name_prefix}-${id}-errors`,
          namespace: 'AWS/Lambda',
          metric_name: 'Errors',
          dimensions: { FunctionName: `\${aws_lambda_function.${id}.function_name}` },
          statistic: 'Sum',
          period: 60,
          evaluation_periods: 5,
          datapoints_to_alarm: 3,
          threshold: 0,
          comparison_operator: 'GreaterThanThreshold',
          treat_missing_data: 'notBreaching',
          alarm_actions: ACTIONS,
          ok_actions: ACTIONS,
        });
      });
    }

    it('saves the three Logs Insights queries over the functions\' log groups, on the fields the functions log', () => {
      const definitions = stack.resource.aws_cloudwatch_query_definition as Record<string, { name: string; query_string: string; log_group_names: string[] }>;
      const groups = (...ids: string[]): string[] => ids.map((id) => `\${aws_cloudwatch_log_group.${id}.name}`);
      expect(definitions.upload_story).to.deep.include({ name: '${var.name_prefix}/story of one upload', log_group_names: groups('prepare', 'generate') });
      expect(definitions.upload_story!.query_string).to.match(/^\| filter key = "<upload key>"$/m).and.match(/^\| sort @timestamp asc$/m);
      expect(definitions.failures_by_reason).to.deep.include({ name: '${var.name_prefix}/failures by reason', log_group_names: groups('prepare', 'generate') });
      expect(definitions.failures_by_reason!.query_string).to.include('filter ispresent(reason) and level in ["WARN", "ERROR"]').and.include('by service, reason');
      expect(definitions.slowest_model_calls).to.deep.include({ name: '${var.name_prefix}/slowest model calls', log_group_names: groups('generate') });
      expect(definitions.slowest_model_calls!.query_string).to.include('| sort slowestCallMs desc\n| limit 20').and.include('coalesce(ModelLatency, 0)');
      for (const [id, saved] of Object.entries(SAVED_QUERIES)) {
        // Terraform would read "${" as an interpolation.
        expect(saved.query, id).to.not.match(/[$%]\{/);
      }
    });
  });

  describe('refusing to synthesize', () => {
    it('fails with the catalogue message when the model is not offered in the region', () => {
      // Arrange
      const synth: SynthConfig = { modelId: 'amazon.nova-canvas-v1:0', region: 'us-west-2' };
      // Act / Assert
      expect(() => synthesize(root, synth)).to.throw(
        Error,
        'Model amazon.nova-canvas-v1:0 is not offered in us-west-2; it is offered in: us-east-1, eu-west-1, ap-northeast-1',
      );
    });

    it('fails listing every missing build output and saying to run the build', () => {
      // Arrange
      const emptyDist = mkdtempSync(join(root, 'empty-dist-'));
      mkdirSync(join(emptyDist, 'functions', 'prepare'), { recursive: true });
      // Act / Assert
      expect(() => synthesize(root, DEFAULT_SYNTH, emptyDist)).to.throw(
        Error,
        `Build output in ${emptyDist} is incomplete: ` +
          `${join(emptyDist, 'functions/prepare')} holds none of index.mjs, index.js, index.cjs; ` +
          `${join(emptyDist, 'functions/generate')} does not exist; ` +
          `${join(emptyDist, 'layer')} does not exist. Run npm run build first.`,
      );
    });
  });
});
