import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { LambdaEventSourceMapping } from '@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification/index.js';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue/index.js';
import { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';

/** Statement ids of a stage queue's resource policy. */
export const QUEUE_POLICY_SIDS = { bucket: 'BucketSendsNotifications', tls: 'DenyInsecureTransport' } as const;

/** The actions an event source mapping needs on its queue (with the function's role). */
export const QUEUE_CONSUMER_ACTIONS = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'] as const;

export interface StageQueueProps {
  /** Queue name; also names the age alarm (`<name>-oldest-message`). */
  readonly queueName: string;
  /** The bucket whose notifications fill the queue. A bucket has one notification configuration: one stage queue per bucket. */
  readonly bucket: S3Bucket;
  /** Account that owns the bucket: only its bucket of that name may send (`aws:SourceAccount`). */
  readonly sourceAccount: string;
  /**
   * Only keys starting with this are sent.
   * @default - every key
   */
  readonly filterPrefix?: string;
  /**
   * Only keys ending with this are sent.
   * @default - every key
   */
  readonly filterSuffix?: string;
  /** Seconds a received message stays invisible (a number or a Terraform expression). */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before SQS moves a message to the dead-letter queue (a number or a `var.*` token). */
  readonly maxReceiveCount: number;
  /** ARN of the dead-letter queue. */
  readonly deadLetterQueueArn: string;
  /** Age of the oldest message, in seconds, above which the alarm fires (a number or a `var.*` token). */
  readonly ageAlarmSeconds: number;
  /** Topics the alarm notifies (a list token that may be empty). */
  readonly alarmActions: string[];
  /**
   * @default 1209600 (14 days, the SQS maximum: a backlog may wait that long)
   */
  readonly messageRetentionSeconds?: number;
}

export interface QueueConsumerProps {
  /** The function that consumes the queue. */
  readonly target: LambdaFunction;
  /** Messages per invocation. */
  readonly batchSize: number;
  /** Most executions the mapping runs at once (a number or a `var.*` token), 2 to 1000. */
  readonly maximumConcurrency: number;
  /** What the mapping must wait for: the role policy that lets the function read the queue. */
  readonly consumerReady: ITerraformDependable[];
}

/**
 * One stage's queue: S3 notification → SQS queue → Lambda event source mapping.
 *
 * - The queue is encrypted with SQS-managed keys (SSE-SQS). Not the AWS-managed
 *   KMS key alias/aws/sqs: its key policy cannot be changed and does not let
 *   s3.amazonaws.com use it, so S3 could not send a single notification to the
 *   queue (S3 user guide, "Configuring event notifications": SSE-KMS queues need
 *   a customer-managed key).
 * - Its resource policy lets S3 send only for this bucket of this account, and
 *   refuses requests without TLS.
 * - A message received `maxReceiveCount` times goes to the dead-letter queue
 *   (redrive policy); the visibility timeout is what AWS advises for a queue
 *   feeding Lambda (six times the function's timeout).
 * - The event source mapping reports partial batch failures
 *   (`ReportBatchItemFailures`) and caps the function's executions with
 *   `maximum_concurrency`, which reserves nothing of the account's concurrency.
 * - An alarm fires when the oldest message is older than `ageAlarmSeconds`.
 *
 * The construct id is the logical id of the queue, its policy, the mapping and
 * the alarm (`aws_sqs_queue.<id>`, …); the notification takes the bucket's
 * (`aws_s3_bucket_notification.<bucket>`).
 */
export class StageQueue extends Construct {
  readonly queue: SqsQueue;
  readonly policy: SqsQueuePolicy;
  readonly notification: S3BucketNotification;
  readonly ageAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: StageQueueProps) {
    super(scope, id);

    this.queue = new SqsQueue(this, 'queue', {
      name: props.queueName,
      messageRetentionSeconds: props.messageRetentionSeconds ?? 1_209_600,
      visibilityTimeoutSeconds: props.visibilityTimeoutSeconds,
      // SSE-SQS: S3 cannot send to a queue encrypted with the AWS-managed KMS key (see above).
      sqsManagedSseEnabled: true,
      // A JSON string with interpolations rather than jsonencode(), so the local runner reads it like the rest.
      redrivePolicy: `{"deadLetterTargetArn":"${props.deadLetterQueueArn}","maxReceiveCount":${props.maxReceiveCount}}`,
    });
    this.queue.overrideLogicalId(id);

    const policyDocument = new DataAwsIamPolicyDocument(this, 'policy-document', {
      statement: [
        {
          // The statement the S3 user guide gives for notifications to SQS: this bucket, this account.
          sid: QUEUE_POLICY_SIDS.bucket,
          effect: 'Allow',
          principals: [{ type: 'Service', identifiers: ['s3.amazonaws.com'] }],
          actions: ['sqs:SendMessage'],
          resources: [this.queue.arn],
          condition: [
            { test: 'ArnEquals', variable: 'aws:SourceArn', values: [props.bucket.arn] },
            { test: 'StringEquals', variable: 'aws:SourceAccount', values: [props.sourceAccount] },
          ],
        },
        {
          sid: QUEUE_POLICY_SIDS.tls,
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['sqs:*'],
          resources: [this.queue.arn],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
      ],
    });
    policyDocument.overrideLogicalId(`${id}_policy`);

    this.policy = new SqsQueuePolicy(this, 'policy', { queueUrl: this.queue.url, policy: policyDocument.json });
    this.policy.overrideLogicalId(id);

    const logicalBucketId = props.bucket.friendlyUniqueId;
    this.notification = new S3BucketNotification(this, 'notification', {
      bucket: props.bucket.id,
      queue: [
        {
          queueArn: this.queue.arn,
          events: ['s3:ObjectCreated:*'],
          filterPrefix: props.filterPrefix,
          filterSuffix: props.filterSuffix,
        },
      ],
      // S3 checks that it may send to the queue when the configuration is saved (and sends a test event).
      dependsOn: [this.policy],
    });
    this.notification.overrideLogicalId(logicalBucketId);

    this.ageAlarm = new CloudwatchMetricAlarm(this, 'age-alarm', {
      alarmName: `${props.queueName}-oldest-message`,
      alarmDescription: `The oldest message in the ${props.queueName} queue is older than the threshold: the stage is not keeping up, or not draining at all (look at the function's errors and throttles).`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: this.queue.name },
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 1,
      threshold: props.ageAlarmSeconds,
      comparisonOperator: 'GreaterThanThreshold',
      // An idle queue sends no data points; that is the good case.
      treatMissingData: 'notBreaching',
      alarmActions: props.alarmActions,
      okActions: props.alarmActions,
    });
    this.ageAlarm.overrideLogicalId(id);
  }

  /** The function's event source mapping on this queue (`aws_lambda_event_source_mapping.<id>`). */
  consumeWith(consumer: QueueConsumerProps): LambdaEventSourceMapping {
    const mapping = new LambdaEventSourceMapping(this, 'mapping', {
      eventSourceArn: this.queue.arn,
      functionName: consumer.target.arn,
      batchSize: consumer.batchSize,
      // The handler returns the messages it could not process; the others are deleted.
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: { maximumConcurrency: consumer.maximumConcurrency },
      // Lambda checks on create that the function's role may read the queue.
      dependsOn: consumer.consumerReady,
    });
    mapping.overrideLogicalId(this.node.id);
    return mapping;
  }
}
