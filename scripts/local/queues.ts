/**
 * The queues of the stack, created in the local server's SQS (fauxqs) as the stack declares
 * them, and S3's side of a bucket notification to a queue: the message S3 sends.
 */
import { CreateQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3EventRecord } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import type { QueueWiring, Wiring } from './wiring';

export type LocalQueue = QueueWiring & { readonly url: string };

/**
 * Creates every queue of `wiring` (dead-letter queues first, since a redrive policy names one)
 * with its visibility timeout, retention, delay, receive wait and redrive policy; returns them
 * by logical id with their URLs.
 */
export const createQueues = async (client: SQSClient, wiring: Wiring): Promise<Record<string, LocalQueue>> => {
  const ordered = Object.values(wiring.queues).sort((a, b) => Number(a.redrive !== undefined) - Number(b.redrive !== undefined));
  const created: Record<string, LocalQueue> = {};
  for (const queue of ordered) {
    const redrive = queue.redrive;
    const answer = await client.send(
      new CreateQueueCommand({
        QueueName: queue.name,
        Attributes: {
          VisibilityTimeout: String(queue.visibilityTimeoutS),
          MessageRetentionPeriod: String(queue.retentionS),
          DelaySeconds: String(queue.delayS),
          ReceiveMessageWaitTimeSeconds: String(queue.receiveWaitTimeS),
          ...(redrive
            ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: wiring.queues[redrive.deadLetterQueueId]!.arn, maxReceiveCount: redrive.maxReceiveCount }) }
            : {}),
        },
      }),
    );
    created[queue.id] = { ...queue, url: answer.QueueUrl! };
  }
  return created;
};

/** The body S3 sends to a queue for one event: the notification JSON with that one record. */
export const s3EventMessage = (record: S3EventRecord): string => JSON.stringify({ Records: [record] });

/** The message S3 sends to a queue when a notification to it is configured. */
export const s3TestEventMessage = (bucket: string, at = new Date()): string =>
  JSON.stringify({
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: at.toISOString(),
    Bucket: bucket,
    RequestId: randomBytes(8).toString('hex').toUpperCase(),
    HostId: randomBytes(32).toString('base64'),
  });

export const sendToQueue = async (client: SQSClient, queueUrl: string, body: string): Promise<string> =>
  (await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }))).MessageId!;
