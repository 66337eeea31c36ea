/**
 * `npm run status`: what the pipeline is doing and has done.
 *
 *   npm run status [-- --since 24h] [--endpoint URL] [--failures N]
 *
 * - Jobs in the queues: SQS's approximate counts (GetQueueAttributes
 *   ApproximateNumberOfMessages, …NotVisible, …Delayed) of the prepare and generate queues
 *   (waiting; in progress = received by a function and not yet deleted), and the messages in
 *   the dead-letter queue.
 * - Outcomes published in the window (`--since`: a duration such as 30m, 24h, 7d, or a date):
 *   the output bucket's manifest.json objects last modified since then, counted by outcome and
 *   failure reason, with the model calls and the estimated spend (each manifest's
 *   estimatedCostUsd) and the most recent failures with their messages.
 *
 * Deployed, the queues and buckets come from the Terraform outputs (scripts/cli/target.ts);
 * with `--endpoint`, from a local run (`npm start -- --watch` prints the endpoint). Reading the
 * manifests lists the output bucket: on a bucket of many thousands of folders that takes a
 * while (one ListObjectsV2 page per 1,000 objects).
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OutputFile } from '../functions/core/layout';
import { eachLimited } from './cli/batch';
import { factsOf, type ManifestJson } from './cli/manifest-fields';
import { runAsScript } from './cli/run-as-script';
import { formatStatus, parseSince, type DatedFacts, type QueueDepth } from './cli/status-report';
import { resolveTarget } from './cli/target';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const queueDepth = async (sqs: SQSClient, url: string | undefined): Promise<QueueDepth | undefined> => {
  if (!url) return undefined;
  try {
    const { Attributes: a = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
    );
    return { waiting: Number(a.ApproximateNumberOfMessages ?? 0), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0), delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
};

/** The manifests in `bucket` last modified at or after `since`, read. */
export const manifestsSince = async (s3: S3Client, bucket: string, since: Date): Promise<DatedFacts[]> => {
  const found: { key: string; at: Date }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      if (object.Key?.endsWith(`/${OutputFile.MANIFEST}`) && object.LastModified && object.LastModified >= since) found.push({ key: object.Key, at: object.LastModified });
    }
    token = page.NextContinuationToken;
  } while (token);
  const read: DatedFacts[] = [];
  await eachLimited(found, 16, async ({ key, at }) => {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      read.push({ facts: factsOf(JSON.parse(await object.Body!.transformToString()) as ManifestJson), at });
    } catch {
      // Replaced or removed since the listing: the next status shows its successor.
    }
  });
  return read;
};

export const main = async (argv: readonly string[]): Promise<number> => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      since: { type: 'string', default: '24h' },
      endpoint: { type: 'string' },
      stack: { type: 'string' },
      'output-bucket': { type: 'string' },
      region: { type: 'string' },
      failures: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run status [-- --since 24h|90m|7d|2026-11-26] [--failures N]           (the deployed stack, from terraform output)');
    console.log('       npm run status -- --endpoint URL [--stack cdk.tf.json] [--since …]            (a local run: npm start -- --watch prints the URL)');
    return 0;
  }
  const now = new Date();
  const since = parseSince(values.since, now);
  const target = await resolveTarget({
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    ...(values.stack ? { stack: resolve(values.stack) } : {}),
    ...(values['output-bucket'] ? { outputBucket: values['output-bucket'], inputBucket: '' } : {}),
    ...(values.region ? { region: values.region } : {}),
  });
  try {
    if (!target.buckets.output) throw new Error(`No output bucket in ${target.where}: name it with --output-bucket`);
    const [prepare, generate, deadLetter, outcomes] = await Promise.all([
      queueDepth(target.sqs, target.queues.prepare),
      queueDepth(target.sqs, target.queues.generate),
      queueDepth(target.sqs, target.queues.deadLetter),
      manifestsSince(target.s3, target.buckets.output, since),
    ]);
    console.log(
      formatStatus({
        where: target.where,
        now,
        since,
        queues: { ...(prepare ? { prepare } : {}), ...(generate ? { generate } : {}), ...(deadLetter ? { deadLetter } : {}) },
        outcomes,
        recentFailures: Number(values.failures),
      }),
    );
    return 0;
  } finally {
    target.close();
  }
};

runAsScript(import.meta.url, main);
