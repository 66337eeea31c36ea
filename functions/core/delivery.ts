import type { S3Event, SQSRecord } from 'aws-lambda';
import { decodeS3Event, type CreatedObject, type SkippedRecord } from './event';
import { plainObject } from './is';

/**
 * One SQS message from a stage's queue: the S3 event notification S3 sent to
 * the queue, and where the message is in its life (which receive this is).
 */
export interface Delivery {
  readonly messageId: string;
  readonly objects: readonly CreatedObject[];
  readonly skipped: readonly SkippedRecord[];
  /** 1 on the first receive. */
  readonly receiveCount: number;
  /**
   * The queue sends the message to its dead-letter queue if this receive fails too: the last
   * chance to leave the upload an outcome that says so.
   */
  readonly lastReceive: boolean;
}

export const decodeDelivery = (record: SQSRecord, maxReceiveCount: number): Delivery => {
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
  const base = { messageId: record.messageId, receiveCount, lastReceive: receiveCount >= maxReceiveCount };
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return { ...base, objects: [], skipped: [{ key: '', why: 'message body is not JSON: not an S3 event notification' }] };
  }
  // S3 sends one of these when a notification to the queue is configured.
  if (plainObject(body) && body.Event === 's3:TestEvent') return { ...base, objects: [], skipped: [{ key: '', why: 's3:TestEvent' }] };
  if (!plainObject(body) || !Array.isArray(body.Records)) {
    return { ...base, objects: [], skipped: [{ key: '', why: 'message body is not an S3 event notification' }] };
  }
  return { ...base, ...decodeS3Event(body as unknown as S3Event) };
};
