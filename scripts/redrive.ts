/**
 * `npm run redrive`: moves every message of the dead-letter queue back to the queue it came
 * from, so the uploads it stands for are processed again (after the fix of whatever made
 * them fail every receive).
 *
 *   npm run redrive                                     the deployed stack: Terraform outputs
 *   npm run redrive -- --endpoint http://127.0.0.1:PORT a local run (`npm start -- --watch` prints this line)
 *
 * Each message is an S3 event notification; it goes back to the queue its bucket notifies:
 * the input bucket's events to the prepare queue, the staging bucket's to the generate queue.
 * It is sent again (SendMessage, same body and attributes) and then deleted from the
 * dead-letter queue, so a message is never lost (at worst, after an interruption, it is in
 * both queues: the pipeline is idempotent). Messages that are not S3 events of a known bucket
 * are left in the dead-letter queue and listed.
 *
 * Deployed, the queue URLs and bucket names come from `terraform output -json` in the
 * synthesized stack directory (dead_letter_queue_url, prepare_queue_url, generate_queue_url,
 * input_bucket_name, staging_bucket_name), as scripts/deploy.ts applied it; credentials and
 * region from the usual AWS sources. On AWS, `aws sqs start-message-move-task --source-arn
 * <dead-letter queue ARN>` does the same move server-side (to each message's original
 * queue); this script exists because fauxqs, the local SQS, has no StartMessageMoveTask, and
 * it works the same way in both places.
 *
 * Locally, the queues and buckets are the ones the local pipeline creates from
 * cdktf.out/…/cdk.tf.json (or `--stack <cdk.tf.json>`), found on the given endpoint.
 */
import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAsScript } from './cli/run-as-script';
import { STACK_DIR, terraformOutputs } from './cli/target';
import type { StackOutputName } from '../terraform/outputs';

/** Where the messages of one bucket's events go back to. */
export interface Route {
  readonly bucket: string;
  /** Key filter of the notification, when it has one (events of other keys do not match). */
  readonly prefix?: string;
  readonly suffix?: string;
  readonly queueUrl: string;
}

export interface RedriveResult {
  readonly moved: number;
  /** Messages left in the dead-letter queue, and why. */
  readonly left: readonly { readonly messageId: string; readonly reason: string }[];
  /** Messages moved, per destination queue URL. */
  readonly byQueue?: Readonly<Record<string, number>>;
}

export interface RedriveOptions {
  readonly client: SQSClient;
  readonly deadLetterQueueUrl: string;
  readonly routes: readonly Route[];
  /** Long poll of each receive; the move ends at the first receive that finds nothing. @default 2 */
  readonly waitTimeS?: number;
  /** How long a message being moved stays invisible in the dead-letter queue. @default 60 */
  readonly visibilityTimeoutS?: number;
}

const decodeKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

/** The route of a message body (an S3 event notification or S3's test event), or why there is none. */
export const routeOf = (body: string, routes: readonly Route[]): Route | string => {
  let event: { Records?: { s3?: { bucket?: { name?: string }; object?: { key?: string } } }[]; Event?: string; Bucket?: string };
  try {
    event = JSON.parse(body);
  } catch {
    return 'the body is not JSON';
  }
  if (event.Event === 's3:TestEvent' && typeof event.Bucket === 'string') {
    return routes.find((route) => route.bucket === event.Bucket) ?? `no queue for bucket ${event.Bucket}`;
  }
  const s3 = event.Records?.[0]?.s3;
  const bucket = s3?.bucket?.name;
  if (!bucket || typeof s3?.object?.key !== 'string') return 'not an S3 event notification';
  let key: string;
  try {
    key = decodeKey(s3.object.key);
  } catch {
    return `undecodable key ${s3.object.key}`;
  }
  const matching = routes.filter((route) => route.bucket === bucket && key.startsWith(route.prefix ?? '') && key.endsWith(route.suffix ?? ''));
  if (matching.length === 0) return `no queue for s3://${bucket}/${key}`;
  if (new Set(matching.map((route) => route.queueUrl)).size > 1) return `several queues for s3://${bucket}/${key}`;
  return matching[0]!;
};

/** Moves every routable message from the dead-letter queue back to its queue. */
export const redrive = async (options: RedriveOptions): Promise<RedriveResult> => {
  const { client, deadLetterQueueUrl } = options;
  const left: { messageId: string; reason: string; receiptHandle: string }[] = [];
  const byQueue: Record<string, number> = {};
  let moved = 0;
  for (;;) {
    const { Messages: messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: options.waitTimeS ?? 2,
        VisibilityTimeout: options.visibilityTimeoutS ?? 60,
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (messages.length === 0) break;
    let fresh = 0;
    for (const message of messages) {
      if (left.some((l) => l.messageId === message.MessageId)) continue;
      fresh++;
      const route = routeOf(message.Body ?? '', options.routes);
      if (typeof route === 'string') {
        left.push({ messageId: message.MessageId!, reason: route, receiptHandle: message.ReceiptHandle! });
        continue;
      }
      await client.send(
        new SendMessageCommand({
          QueueUrl: route.queueUrl,
          MessageBody: message.Body!,
          ...(message.MessageAttributes && Object.keys(message.MessageAttributes).length > 0 ? { MessageAttributes: message.MessageAttributes } : {}),
        }),
      );
      await client.send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
      moved++;
      byQueue[route.queueUrl] = (byQueue[route.queueUrl] ?? 0) + 1;
    }
    if (fresh === 0) break;
  }
  // What stays is visible again at once, for whoever looks next.
  for (let i = 0; i < left.length; i += 10) {
    await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: deadLetterQueueUrl,
        Entries: left.slice(i, i + 10).map((l, n) => ({ Id: String(n), ReceiptHandle: l.receiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
  return { moved, left: left.map(({ messageId, reason }) => ({ messageId, reason })), byQueue };
};

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

interface Target {
  readonly client: SQSClient;
  readonly deadLetterQueueUrl: string;
  readonly routes: Route[];
  readonly names: Readonly<Record<string, string>>;
}

const deployedTarget = (outputs: Partial<Record<StackOutputName, string>>, region: string | undefined): Target => {
  const need = (name: StackOutputName): string => outputs[name] ?? (() => { throw new Error(`terraform output ${name} is missing: deploy the stack (npm run deploy) first`); })();
  const dlq = need('dead_letter_queue_url');
  const prepare = need('prepare_queue_url');
  const generate = need('generate_queue_url');
  // https://sqs.<region>.amazonaws.com/<account>/<name>
  const fromUrl = /^https:\/\/sqs\.([a-z0-9-]+)\./.exec(dlq)?.[1];
  const client = new SQSClient({ ...((region ?? fromUrl) ? { region: region ?? fromUrl } : {}) });
  return {
    client,
    deadLetterQueueUrl: dlq,
    routes: [
      { bucket: need('input_bucket_name'), queueUrl: prepare },
      { bucket: need('staging_bucket_name'), queueUrl: generate },
    ],
    names: { [prepare]: 'prepare queue', [generate]: 'generate queue' },
  };
};

const localTarget = async (endpoint: string, stackJson: string): Promise<Target> => {
  const { readWiring } = await import('./local/wiring.js');
  const wiring = await readWiring(stackJson, { bucketSuffix: 'local' });
  const client = new SQSClient({ region: wiring.region, endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const urlOf = async (queueId: string): Promise<string> => (await client.send(new GetQueueUrlCommand({ QueueName: wiring.queues[queueId]!.name }))).QueueUrl!;
  const deadLetterIds = [...new Set(Object.values(wiring.queues).flatMap((q) => (q.redrive ? [q.redrive.deadLetterQueueId] : [])))];
  if (deadLetterIds.length !== 1) throw new Error(`${stackJson}: expected one dead-letter queue, found ${deadLetterIds.length}`);
  const routes: Route[] = [];
  const names: Record<string, string> = {};
  for (const n of wiring.notifications) {
    const queueUrl = await urlOf(n.queueId);
    routes.push({ bucket: wiring.buckets[n.bucketId]!, prefix: n.prefix, suffix: n.suffix, queueUrl });
    names[queueUrl] = n.queueId;
  }
  return { client, deadLetterQueueUrl: await urlOf(deadLetterIds[0]!), routes, names };
};

const main = async (argv: readonly string[]): Promise<number> => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      endpoint: { type: 'string' },
      stack: { type: 'string', default: join(STACK_DIR, 'cdk.tf.json') },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run redrive [-- --region REGION]            (the deployed stack, from terraform output)');
    console.log('       npm run redrive -- --endpoint URL [--stack cdk.tf.json] (a local run: npm start -- --watch prints the URL)');
    return 0;
  }
  const target = values.endpoint ? await localTarget(values.endpoint, values.stack) : deployedTarget(terraformOutputs(STACK_DIR, 'a local run with --endpoint'), values.region);
  try {
    const result = await redrive({ client: target.client, deadLetterQueueUrl: target.deadLetterQueueUrl, routes: target.routes });
    const per = Object.entries(result.byQueue ?? {}).map(([url, n]) => `${n} to the ${target.names[url] ?? url}`);
    console.log(`moved ${result.moved} message(s) from ${target.deadLetterQueueUrl}${per.length > 0 ? `: ${per.join(', ')}` : ''}`);
    if (result.left.length > 0) {
      console.log(`left ${result.left.length} message(s) in the dead-letter queue:`);
      for (const l of result.left) console.log(`  ${l.messageId}: ${l.reason}`);
    }
    return result.left.length > 0 ? 2 : 0;
  } finally {
    target.client.destroy();
  }
};

runAsScript(import.meta.url, main);
