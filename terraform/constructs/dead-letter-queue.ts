import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic/index.js';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue/index.js';
import { Fn, Op, Token } from 'cdktf';
import { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /** Queue name; also names the alarm and the topic. */
  readonly queueName: string;
  /**
   * E-mail address told when the alarm fires, or a `var.*` token that may be
   * empty: empty means no SNS topic and no subscription (decided by Terraform).
   * @default '' (no e-mail)
   */
  readonly alarmEmail?: string;
  /**
   * @default 1209600 (14 days, the SQS maximum: time to look at and replay failed events)
   */
  readonly messageRetentionSeconds?: number;
}

/**
 * Where Lambda puts the events it gave up on, and an alarm as soon as one is
 * there. The queue is encrypted with SQS-managed keys, which Lambda can send to
 * without any key policy. The construct id becomes the logical id of the queue,
 * the alarm, and (when an e-mail address is set) the topic and subscription.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: SqsQueue;
  readonly alarm: CloudwatchMetricAlarm;

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

    // Zero or one topic. CloudWatch cannot publish to a topic encrypted with the
    // AWS-managed SNS key, and the messages name only the alarm, so it stays unencrypted.
    // The literal goes first: cdktf renders a falsy right operand as `undefined`.
    const emailCount = Token.asNumber(Fn.conditional(Op.eq('', alarmEmail), 0, 1));
    const topic = new SnsTopic(this, 'topic', { name: `${props.queueName}-alarm`, count: emailCount });
    topic.overrideLogicalId(id);
    const topicArns = Token.asList(`\${${topic.terraformResourceType}.${id}[*].arn}`);

    // Email subscriptions stay pending until the recipient confirms them.
    new SnsTopicSubscription(this, 'subscription', {
      count: emailCount,
      topicArn: `\${${topic.terraformResourceType}.${id}[0].arn}`,
      protocol: 'email',
      endpoint: alarmEmail,
    }).overrideLogicalId(id);

    this.alarm = new CloudwatchMetricAlarm(this, 'alarm', {
      alarmName: `${props.queueName}-not-empty`,
      alarmDescription: `Events that Lambda gave up on are waiting in the ${props.queueName} queue. Each message holds the S3 event and the last error.`,
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
