import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key/index.js';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic/index.js';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue/index.js';
import { Fn, Op, Token } from 'cdktf';
import { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /** Queue name; also names the alarm and the topic. */
  readonly queueName: string;
  /** Account that owns the stack: its IAM policies administer the topic's key (the key policy delegates to them). */
  readonly accountId: string;
  /**
   * E-mail address told when the alarm fires, or a `var.*` token that may be
   * empty: empty means no SNS topic and no subscription (decided by Terraform).
   * @default '' (no e-mail)
   */
  readonly alarmEmail?: string;
  /**
   * @default 1209600 (14 days, the SQS maximum: time to look at and redrive failed messages)
   */
  readonly messageRetentionSeconds?: number;
  /**
   * Days a destroyed topic key waits before KMS deletes it (7 to 30); it can be
   * recovered until then.
   * @default 7
   */
  readonly keyDeletionWindowDays?: number;
}

/** Statement ids of the topic key's policy. */
export const TOPIC_KEY_STATEMENT_SIDS = { account: 'AccountIamPoliciesGrantUse', cloudwatch: 'CloudWatchAlarmsPublish' } as const;

/**
 * Where SQS moves a stage queue's message after its last receive (redrive), and
 * an alarm as soon as one is there. The queue is encrypted with SQS-managed keys
 * like the stage queues. With an e-mail address, the alarm publishes to an SNS
 * topic encrypted with a key of its own, which the stack's other alarms use too. The construct id becomes the logical id
 * of the queue, the alarm, and (when an e-mail address is set) the key, topic
 * and subscription.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: SqsQueue;
  readonly alarm: CloudwatchMetricAlarm;
  /** The alarm topic's ARN, or none without an e-mail address: the actions of every alarm of the stack. */
  readonly topicArns: string[];

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    const alarmEmail = props.alarmEmail ?? '';
    const messageRetentionSeconds = props.messageRetentionSeconds ?? 1_209_600;

    this.queue = new SqsQueue(this, 'queue', {
      name: props.queueName,
      messageRetentionSeconds,
      sqsManagedSseEnabled: true,
    });
    this.queue.overrideLogicalId(id);

    // The literal goes first: cdktf renders a falsy right operand as `undefined`.
    const emailCount = Token.asNumber(Fn.conditional(Op.eq('', alarmEmail), 0, 1));

    // Zero or one topic, encrypted at rest with a customer-managed key of its own. Not the
    // AWS-managed key alias/aws/sns: its key policy cannot be changed and does not let the
    // cloudwatch.amazonaws.com principal use it, so CloudWatch could not publish the alarm to
    // the topic and the e-mail would never come (SNS developer guide, "Key management":
    // CloudWatch and the other AWS event sources need a customer-managed key). One key per
    // stack costs about $1 a month, which is why it exists only while alarm_email is set.
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'topic-key-policy', {
      statement: [
        {
          // The default key policy's delegation: the account's IAM policies decide who may use and
          // administer the key (the deploying role, so Terraform can update and delete it). Without
          // it KMS's lockout safety check refuses the policy: the deployer could not change it again.
          sid: TOPIC_KEY_STATEMENT_SIDS.account,
          effect: 'Allow',
          principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${props.accountId}:root`] }],
          actions: ['kms:*'],
          resources: ['*'],
        },
        {
          // The statement AWS documents for CloudWatch alarms publishing to an encrypted topic. It
          // carries no aws:SourceArn/SourceAccount condition, as documented: a condition the request
          // did not carry would drop every alarm without an error anywhere. The key encrypts this one
          // topic, so the grant reaches nothing else.
          sid: TOPIC_KEY_STATEMENT_SIDS.cloudwatch,
          effect: 'Allow',
          principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
        },
      ],
    });
    keyPolicy.overrideLogicalId(`${id}_topic_key_policy`);
    const key = new KmsKey(this, 'topic-key', {
      count: emailCount,
      description: `Encrypts the ${props.queueName}-alarm SNS topic`,
      enableKeyRotation: true,
      deletionWindowInDays: props.keyDeletionWindowDays ?? 7,
      policy: keyPolicy.json,
    });
    key.overrideLogicalId(id);

    const topic = new SnsTopic(this, 'topic', {
      name: `${props.queueName}-alarm`,
      count: emailCount,
      kmsMasterKeyId: `\${${key.terraformResourceType}.${id}[0].arn}`,
    });
    topic.overrideLogicalId(id);
    const topicArns = Token.asList(`\${${topic.terraformResourceType}.${id}[*].arn}`);
    this.topicArns = topicArns;

    // Email subscriptions stay pending until the recipient confirms them.
    new SnsTopicSubscription(this, 'subscription', {
      count: emailCount,
      topicArn: `\${${topic.terraformResourceType}.${id}[0].arn}`,
      protocol: 'email',
      endpoint: alarmEmail,
    }).overrideLogicalId(id);

    this.alarm = new CloudwatchMetricAlarm(this, 'alarm', {
      alarmName: `${props.queueName}-not-empty`,
      alarmDescription: `Messages received the most times allowed are waiting in the ${props.queueName} queue: each holds the S3 event notification of an upload (or job file) that failed every receive, and the upload's folder holds error.json. Redrive them after a fix: aws sqs start-message-move-task --source-arn <this queue's ARN>.`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: this.queue.name },
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      // SQS sends no data points for an idle queue; that is the good case.
      treatMissingData: 'notBreaching',
      alarmActions: topicArns,
      okActions: topicArns,
    });
    this.alarm.overrideLogicalId(id);
  }
}
