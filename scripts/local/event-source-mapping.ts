/**
 * A Lambda event source mapping for an SQS queue, run locally: what Lambda's pollers do
 * between a queue (fauxqs, see s3-server.ts) and a function (lambda-host.ts).
 *
 * - Long-polls the queue (ReceiveMessage, `WaitTimeSeconds` 20, `AttributeNames: ['All']`
 *   so `ApproximateReceiveCount` is SQS's own count), up to the mapping's batch size
 *   (several receives when it is above SQS's 10, within the batching window).
 * - Invokes the function synchronously with an SQS event shaped like Lambda's (messageId,
 *   receiptHandle, body, attributes, messageAttributes, md5OfBody, eventSource `aws:sqs`,
 *   eventSourceARN, awsRegion); never more invocations at once than the mapping's
 *   `scaling_config.maximum_concurrency` (a receive waits for a free slot).
 * - Deletes what succeeded: the whole batch, unless the mapping has
 *   `ReportBatchItemFailures` and the response lists `batchItemFailures`, whose messages stay.
 *   A function error or timeout, or a malformed response (an itemIdentifier that is empty or
 *   not in the batch), fails the whole batch, as Lambda does. Failed messages are left alone:
 *   SQS makes them visible again after the visibility timeout, and its redrive policy moves
 *   a message to the dead-letter queue once received more than maxReceiveCount times
 *   (fauxqs does both; the runner does not).
 * - Drops messages older than the queue's retention period, as SQS expires them (fauxqs
 *   keeps messages forever, so the runner does it at receive time).
 *
 * `timeScale` compresses SQS's own times: the visibility timeout (passed as the receive's
 * `VisibilityTimeout`; fauxqs accepts fractions of a second), the retention period and the
 * batching window. It does not compress the functions' time (their timeout, a model call):
 * keep `visibility timeout × timeScale` above a function's real duration, or a message comes
 * back while its first invocation still runs, as on AWS with too short a visibility timeout.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord, SQSMessageAttributes } from 'aws-lambda';
import type { InvocationOutcome, LocalFunction } from './lambda-host';
import type { EventSourceMappingWiring, QueueWiring } from './wiring';

/** SQS's most messages per ReceiveMessage. */
const SQS_RECEIVE_MAX = 10;
/** SQS's longest long poll, which Lambda's pollers use. */
const LONG_POLL_S = 20;

/** One message's part in one invocation. */
export interface Delivery {
  readonly messageId: string;
  /** ApproximateReceiveCount when received for this invocation (1 the first time). */
  readonly receiveCount: number;
  /** ms from SentTimestamp to this receive: how long it waited in the queue (the first time) or since sent. */
  readonly ageMs: number;
  /** Deleted after the invocation (processed); false: left for SQS to make visible again. */
  readonly deleted: boolean;
}

/** One invocation of the function by the mapping. */
export interface BatchOutcome {
  readonly mappingId: string;
  readonly deliveries: readonly Delivery[];
  readonly invocation: InvocationOutcome;
  /** Message ids the function reported failed (or the whole batch when the invocation failed). */
  readonly failed: readonly string[];
}

export interface MappingRunnerOptions {
  readonly mapping: EventSourceMappingWiring;
  readonly queue: QueueWiring & { readonly url: string };
  readonly fn: LocalFunction;
  readonly client: SQSClient;
  readonly region: string;
  /** Multiplies SQS's times (visibility timeout, retention, batching window). @default 1 */
  readonly timeScale?: number;
}

const toMessageAttributes = (message: Message): SQSMessageAttributes => {
  const attributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
      dataType: value.DataType ?? 'String',
    };
  }
  return attributes;
};

/** The record Lambda gives a function for one SQS message. */
export const sqsRecordOf = (message: Message, queueArn: string, region: string): SQSRecord => {
  const system = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
      SentTimestamp: system.SentTimestamp ?? String(Date.now()),
      SenderId: system.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: toMessageAttributes(message),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
};

/**
 * The message ids of a batch that failed, from the invocation's outcome and Lambda's rules for
 * partial batch responses (see the module comment).
 */
export const failedMessageIds = (outcome: InvocationOutcome, batch: readonly string[], reportsItemFailures: boolean): string[] => {
  if (!outcome.ok) return [...batch];
  if (!reportsItemFailures) return [];
  const result = outcome.result as { batchItemFailures?: unknown } | null | undefined;
  if (result === null || result === undefined || typeof result !== 'object') return [];
  const failures = result.batchItemFailures;
  if (failures === null || failures === undefined) return [];
  if (!Array.isArray(failures)) return [...batch];
  const ids: string[] = [];
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !batch.includes(id)) return [...batch];
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
};

export class MappingRunner {
  /** Every invocation the mapping made, in completion order. */
  readonly batches: BatchOutcome[] = [];
  /** Messages dropped because they outlived the queue's retention period. */
  readonly expired: string[] = [];
  private readonly listeners: ((batch: BatchOutcome) => void)[] = [];
  private readonly abort = new AbortController();
  private readonly slotWaiters: (() => void)[] = [];
  private running = 0;
  private peak = 0;
  private receiving = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly timeScale: number;

  constructor(private readonly options: MappingRunnerOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0)) throw new RangeError(`timeScale must be above 0, got ${this.timeScale}`);
  }

  get id(): string {
    return this.options.mapping.id;
  }

  /** Invocations at once at most: maximum concurrency, else the function's own limit. */
  get maximumConcurrency(): number {
    return this.options.mapping.maximumConcurrency ?? this.options.fn.concurrency;
  }

  /** Invocations running now. */
  get inFlight(): number {
    return this.running;
  }

  /** The most invocations that ever ran at once: never above {@link maximumConcurrency}. */
  get peakConcurrency(): number {
    return this.peak;
  }

  /** True while no invocation runs and no received batch is on its way to one. */
  isIdle(): boolean {
    return this.running === 0 && !this.receiving;
  }

  onBatch(listener: (batch: BatchOutcome) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (!this.options.mapping.enabled) return;
    this.loop ??= this.poll();
  }

  /** Stops receiving, and waits for the invocations running to finish (and their deletions). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    for (const wake of this.slotWaiters.splice(0)) wake();
    await this.loop;
    while (this.running > 0) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      while (this.running >= this.maximumConcurrency && !this.stopped) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      if (this.stopped) return;
      let messages: Message[];
      try {
        messages = await this.receiveBatch();
      } catch (error) {
        if (this.stopped) return;
        console.error(`[event-source-mapping ${this.id}] ReceiveMessage failed:`, error);
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      if (messages.length === 0) continue;
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      void this.process(messages)
        .catch((error: unknown) => console.error(`[event-source-mapping ${this.id}] batch failed:`, error))
        .finally(() => {
          this.running--;
          for (const wake of this.slotWaiters.splice(0)) wake();
        });
    }
  }

  private async receive(max: number, waitS: number): Promise<Message[]> {
    const visibility = this.options.queue.visibilityTimeoutS * this.timeScale;
    const answer = await this.options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queue.url,
        MaxNumberOfMessages: Math.min(SQS_RECEIVE_MAX, max),
        WaitTimeSeconds: waitS,
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        // The queue's own visibility timeout, unless time is compressed.
        ...(this.timeScale !== 1 ? { VisibilityTimeout: visibility } : {}),
      }),
      { abortSignal: this.abort.signal },
    );
    return answer.Messages ?? [];
  }

  private async receiveBatch(): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowS } = this.options.mapping;
    const first = await this.receive(batchSize, LONG_POLL_S);
    if (first.length === 0) return first;
    this.receiving = true;
    try {
      const batch = [...first];
      const windowEnds = Date.now() + maximumBatchingWindowS * 1000 * this.timeScale;
      while (batch.length < batchSize && !this.stopped) {
        const more = await this.receive(batchSize - batch.length, 0);
        batch.push(...more);
        if (more.length === 0) {
          if (Date.now() >= windowEnds) break;
          await new Promise((resolve) => setTimeout(resolve, Math.min(50, windowEnds - Date.now())));
        }
      }
      return batch;
    } finally {
      this.receiving = false;
    }
  }

  private async process(received: Message[]): Promise<void> {
    const { queue, fn, mapping, region } = this.options;
    const now = Date.now();
    const retentionMs = queue.retentionS * 1000 * this.timeScale;
    const sentAt = (message: Message): number => Number(message.Attributes?.SentTimestamp ?? now);
    const expired = received.filter((message) => now - sentAt(message) > retentionMs);
    const batch = received.filter((message) => !expired.includes(message));
    if (expired.length > 0) {
      this.expired.push(...expired.map((message) => message.MessageId!));
      await this.delete(expired);
    }
    if (batch.length === 0) return;
    const records = batch.map((message) => sqsRecordOf(message, queue.arn, region));
    const receiveCounts = records.map((record) => Number(record.attributes.ApproximateReceiveCount));
    const event: SQSEvent = { Records: records };
    const invocation = await fn.invoke(event, { attempt: Math.max(...receiveCounts) });
    const ids = records.map((record) => record.messageId);
    const failed = failedMessageIds(invocation, ids, mapping.functionResponseTypes.includes('ReportBatchItemFailures'));
    const succeeded = batch.filter((message) => !failed.includes(message.MessageId!));
    await this.delete(succeeded);
    const outcome: BatchOutcome = {
      mappingId: mapping.id,
      deliveries: records.map((record, i) => ({
        messageId: record.messageId,
        receiveCount: receiveCounts[i]!,
        ageMs: now - Number(record.attributes.SentTimestamp),
        deleted: !failed.includes(record.messageId),
      })),
      invocation,
      failed,
    };
    this.batches.push(outcome);
    for (const listener of this.listeners) listener(outcome);
  }

  private async delete(messages: readonly Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += SQS_RECEIVE_MAX) {
      const chunk = messages.slice(i, i + SQS_RECEIVE_MAX);
      try {
        const answer = await this.options.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queue.url,
            Entries: chunk.map((message, n) => ({ Id: String(n), ReceiptHandle: message.ReceiptHandle! })),
          }),
        );
        for (const failure of answer.Failed ?? []) console.error(`[event-source-mapping ${this.id}] DeleteMessage failed: ${failure.Code} ${failure.Message}`);
      } catch (error) {
        if (!this.stopped) console.error(`[event-source-mapping ${this.id}] DeleteMessageBatch failed:`, error);
      }
    }
  }
}
