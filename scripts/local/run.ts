/**
 * `npm start`: runs the whole pipeline on this machine and pushes photos through it.
 *
 *   npm start [-- <photos or folders>...] [--prompt "..."] [--model <id>] [--metadata key=value ...] [--watch]
 *
 * Every file named, and every file in the folders named (recursively), is uploaded (keys:
 * scripts/cli/upload-key.ts), with a progress line; at the end a summary and out/index.html,
 * a gallery of the outcomes (scripts/cli/batch.ts). Results land in out/<key>/. With --watch the pipeline keeps running and
 * prints an `aws s3 cp` line for uploads with the real AWS CLI. --faults takes
 * the stand-in's fault list as JSON, e.g. '[{"kind":"throttle","times":2}]';
 * --s3-faults the local S3 server's (see parseS3Faults in s3-server.ts), e.g.
 * '[{"kind":"SlowDown","operation":"PutObject","bucket":"output","times":2}]',
 * where a bucket may be named by its logical id (input, staging, output).
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeS3EventKey } from '../../functions/core/event';
import { isJobFileKey } from '../../functions/core/job';
import { findModel } from '../../functions/core/models/catalogue';
import { Metrics } from '../../functions/core/settings';
import { ROOT } from '../build-functions';
import { awsS3CpCommand, shellQuote } from '../cli/aws-command';
import { describeOutcome, runBatch } from '../cli/batch';
import { parseEmfLog, totalsOf } from '../cli/emf';
import { checkMetadataSize, encodeMetadata, rawMetadata } from '../cli/metadata';
import { findPhotos } from '../cli/photos';
import { formatMetricTotals } from '../cli/summary';
import { START_OPTIONS, START_USAGE } from '../cli/start-options';
import { assignKeys } from '../cli/upload-key';
import type { Fault } from './bedrock-standin';
import { STACK_JSON, startLocalPipeline, synthesizeFor, type LocalPipeline } from './pipeline';
import { parseS3Faults, type S3FaultHandle } from './s3-server';

// The runner runs on the machine's Node 20; the functions run on nodejs22.x in Lambda.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const DEFAULT_PHOTO = join(ROOT, 'assets', 'original.jpg');
const DEFAULT_PROMPT = 'a tiger as a hand drawn sketch';

/**
 * The metrics the functions wrote into their logs (EMF lines) since `since`, summed as CloudWatch
 * would: the log files are appended to run after run, each EMF line carries its time.
 */
const metricsSince = (logDir: string, since: number): string => {
  let files: string[] = [];
  try {
    files = readdirSync(logDir).filter((name) => name.endsWith('.log'));
  } catch {
    return '';
  }
  const metrics = files.flatMap((name) => parseEmfLog(readFileSync(join(logDir, name), 'utf8')));
  const { NAMESPACE, ...names } = Metrics;
  return formatMetricTotals(totalsOf(metrics, { since, namespace: NAMESPACE }), Object.values(names));
};

const report = async (pipeline: LocalPipeline, key: string, outDir: string, timeoutMs: number): Promise<boolean> => {
  const outcome = await pipeline.waitForOutcome(key, timeoutMs);
  const written = await pipeline.download(key, outDir);
  const show = (path: string): string => relative(process.cwd(), path) || path;
  const manifestPath = written.find((p) => p.endsWith('/manifest.json'));
  if (outcome.error) {
    console.log(`✗ ${key}: ${outcome.error.reason}: ${outcome.error.message}`);
    for (const path of written) console.log(`  ${show(path)}`);
    return false;
  }
  console.log(`✓ ${key} → ${outcome.manifest.outputs.images.length} image(s) from ${outcome.manifest.model.id}${pipeline.standIn ? ' (local Bedrock stand-in: no model was called)' : ''}`);
  for (const path of written.filter((p) => /\/\d+\.png$/.test(p))) console.log(`  image:    ${show(path)}`);
  const edges = written.find((p) => p.endsWith('/edges.png'));
  if (edges) console.log(`  edges:    ${show(edges)}`);
  if (manifestPath) console.log(`  manifest: ${show(manifestPath)}`);
  return true;
};

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: START_OPTIONS });
  if (values.help) {
    console.log(START_USAGE);
    return 0;
  }
  const started = performance.now();
  const startedAt = Date.now();
  const outDir = resolve(values.out ?? join(ROOT, 'out'));
  // Checked before anything starts: a bad pair, or more metadata than S3 takes.
  const raw = rawMetadata(values.prompt ?? DEFAULT_PROMPT, values.metadata ?? []);
  const metadata = encodeMetadata(raw);
  // Checked before anything starts, like --faults.
  const s3Faults = values['s3-faults'] ? parseS3Faults(values['s3-faults']) : [];
  const pipeline = await startLocalPipeline({
    root: ROOT,
    workDir: join(outDir, '.local'),
    stackJson: values.model ? await synthesizeFor(values.model, join(outDir, '.local', 'cdktf.out')) : join(ROOT, STACK_JSON),
    // Checked by the stand-in: a malformed list fails before anything runs.
    standIn: { answerRetiredModels: values['answer-retired'], faults: values.faults ? (JSON.parse(values.faults) as Fault[]) : [] },
  });
  // A bucket named by its logical id (input, staging, output) means that bucket of this run.
  const s3FaultHandles: S3FaultHandle[] = s3Faults.map((fault) =>
    pipeline.s3.injectFault(fault.bucket !== undefined && Object.hasOwn(pipeline.wiring.buckets, fault.bucket) ? { ...fault, bucket: pipeline.wiring.buckets[fault.bucket]! } : fault),
  );
  const stop = async (): Promise<void> => {
    await pipeline.close();
    for (const [i, handle] of s3FaultHandles.entries()) {
      console.log(`S3 fault ${i + 1} (${handle.fault.kind}): matched ${handle.matched} request(s), answered ${handle.fired}`);
    }
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  console.log(`local S3:      ${pipeline.s3.endpoint} (buckets ${Object.values(pipeline.buckets).join(', ')})`);
  console.log(`local SQS:     ${pipeline.s3.endpoint} (queues ${Object.values(pipeline.queues).map((q) => q.name).join(', ')})`);
  console.log(`local Bedrock: ${pipeline.bedrockEndpoint}${pipeline.standIn ? ' (stand-in)' : ''}; model ${pipeline.wiring.functions.generate?.environment.MODEL_ID}`);
  console.log(`function logs: ${relative(process.cwd(), join(outDir, '.local', 'logs'))}/`);

  const model = findModel(pipeline.wiring.functions.generate?.environment.MODEL_ID ?? '');
  if (pipeline.standIn && model?.endOfLife && !values['answer-retired']) {
    console.log(`note: ${model.id} reached end of life on ${model.endOfLife}; the stand-in answers as Bedrock does now. --answer-retired makes it answer as before.`);
  }
  const timeoutMs = Number(values.timeout) * 1000;
  if (values.watch) {
    console.log('\nWatching. Upload with the AWS CLI, e.g.:');
    console.log(`  ${awsS3CpCommand({ file: positionals[0] ?? DEFAULT_PHOTO, bucket: pipeline.buckets.input, metadata: raw, endpoint: pipeline.s3.endpoint, env: pipeline.cliEnv })}`);
    console.log('Or many photos and folders at once, with progress and a gallery:');
    console.log(`  npm run upload -- ${positionals.length > 0 ? positionals.map(shellQuote).join(' ') : 'photos/'} --prompt ${shellQuote(values.prompt ?? DEFAULT_PROMPT)} --endpoint ${pipeline.s3.endpoint} --wait`);
    console.log('Messages that failed every receive wait in the dead-letter queue; after a fix, move them back with:');
    console.log(`  npm run redrive -- --endpoint ${pipeline.s3.endpoint}${values.model ? ` --stack ${shellQuote(join(outDir, '.local', 'cdktf.out', 'stacks', 'image-conditioning-pipeline', 'cdk.tf.json'))}` : ''}`);
    console.log('Ctrl-C stops.\n');
    pipeline.s3.onObjectCreated((record) => {
      if (record.s3.bucket.name !== pipeline.buckets.staging) return;
      const key = decodeS3EventKey(record.s3.object.key);
      if (!isJobFileKey(key)) return;
      void pipeline.client
        .send(new GetObjectCommand({ Bucket: pipeline.buckets.staging, Key: key }))
        .then(async (object) => JSON.parse(await object.Body!.transformToString()))
        .then((job) => report(pipeline, job.source.key, outDir, timeoutMs))
        .catch((error: unknown) => console.error(`! ${String(error)}`));
    });
    await new Promise(() => undefined);
  }

  const found = await findPhotos(positionals.length > 0 ? positionals : [DEFAULT_PHOTO]);
  const { keyed, problems } = assignKeys(found.photos, values.prefix);
  const skipped = [...found.problems, ...problems];
  for (const s of skipped) console.log(`skipped ${relative(process.cwd(), s.path) || s.path}: ${s.reason}`);
  const tooLarge = keyed.map((p) => checkMetadataSize(relative(process.cwd(), p.path) || p.path, metadata)).find((m) => m !== undefined);
  let ok = false;
  try {
    if (tooLarge) throw new Error(tooLarge);
    if (keyed.length === 0) throw new Error('Nothing to upload.');
    console.log(`uploading ${keyed.length} file(s) to s3://${pipeline.buckets.input}/`);
    const result = await runBatch({
      s3: pipeline.client,
      buckets: pipeline.buckets,
      photos: keyed,
      metadata,
      skipped,
      outDir,
      pollMs: 200,
      stallTimeoutMs: timeoutMs,
      // One photo: its files too, as before batches.
      describe: (outcome, written) => describeOutcome(outcome, written, keyed.length === 1),
    });
    console.log(`\n${result.summary}`);
    if (result.gallery) console.log(`\ngallery:  ${relative(process.cwd(), result.gallery) || result.gallery}`);
    ok = result.notProcessed.length === 0 && result.outcomes.every((o) => o.manifest.outcome === 'succeeded');
  } finally {
    await stop();
  }
  // After stop(): the functions' last log lines are written by then.
  const metrics = metricsSince(join(outDir, '.local', 'logs'), startedAt);
  if (metrics) console.log(`\n${metrics}`);
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return ok ? 0 : 1;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
