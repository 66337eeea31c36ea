/**
 * The local event source mapping (scripts/local/event-source-mapping.ts) between a queue of the
 * embedded server (fauxqs's SQS) and a function bundle: batch size, maximum concurrency,
 * visibility timeout, partial batch failures, receive counts, the dead-letter queue after
 * maxReceiveCount (fauxqs's redrive policy), retention, and redrive back from it.
 *
 * A tiny stub bundle stands in for the functions, so these tests do not depend on the
 * handlers: each message body says what to do with it, and the stub logs when each
 * invocation starts and ends. One test at the end runs the real bundles through the whole
 * local pipeline.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../../scripts/build-functions';
import { MappingRunner, type BatchOutcome } from '../../scripts/local/event-source-mapping';
import { defaultWorkerPath, LocalFunction } from '../../scripts/local/lambda-host';
import { STACK_JSON, startLocalPipeline } from '../../scripts/local/pipeline';
import { createQueues, type LocalQueue } from '../../scripts/local/queues';
import { startLocalS3, type LocalS3 } from '../../scripts/local/s3-server';
import type { EventSourceMappingWiring, QueueWiring, Wiring } from '../../scripts/local/wiring';
import { redrive } from '../../scripts/redrive';
import { ensureBuilt } from '../helpers/build';
import { photo } from '../helpers/photos';

/**
 * The stub handler. A body is JSON: `{ "id": "...", "sleepMs": n, "fail": "item" | "throw",
 * "failUntil": n, "failIfExists": "<path>", "throwIfExists": "<path>" }`. `fail: "item"` reports the record in
 * batchItemFailures; `"throw"` fails the invocation; `failUntil: n` fails (item) while the
 * record's ApproximateReceiveCount is below n; `failIfExists` fails (item) while that file
 * exists, `throwIfExists` throws while it does.
 */
const STUB = `
const fs = require('node:fs');
const log = (line) => fs.appendFileSync(process.env.STUB_LOG, JSON.stringify(line) + '\\n');
exports.handler = async (event, context) => {
  const started = Date.now();
  const records = event.Records;
  log({ type: 'start', at: started, request: context.awsRequestId, ids: records.map((r) => JSON.parse(r.body).id) });
  const failures = [];
  let thrown = null;
  for (const record of records) {
    const body = JSON.parse(record.body);
    if (body.sleepMs) await new Promise((resolve) => setTimeout(resolve, body.sleepMs));
    const count = Number(record.attributes.ApproximateReceiveCount);
    log({ type: 'record', id: body.id, count, record });
    const itemFails = body.fail === 'item' || (body.failUntil && count < body.failUntil) || (body.failIfExists && fs.existsSync(body.failIfExists));
    if (body.fail === 'throw' || (body.throwIfExists && fs.existsSync(body.throwIfExists))) thrown = new Error('stub failed ' + body.id);
    else if (itemFails) failures.push({ itemIdentifier: record.messageId });
  }
  log({ type: 'end', at: Date.now(), request: context.awsRequestId });
  if (thrown) throw thrown;
  return { batchItemFailures: failures };
};
`;

interface Logged {
  type: 'start' | 'end' | 'record';
  at: number;
  request: string;
  ids: string[];
  id: string;
  count: number;
  record: any;
}

/** Most invocations running at the same instant, from the stub's own start/end log. */
const peakOverlap = (log: readonly Logged[]): number => {
  const edges = log.filter((l) => l.type !== 'record').map((l) => ({ at: l.at, delta: l.type === 'start' ? 1 : -1 }));
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (now += edge.delta));
  return peak;
};

const until = async (condition: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('local event source mapping: SQS queue → function', function () {
  this.timeout(60_000);
  const REGION = 'us-east-1';
  let dir: string;
  let s3: LocalS3;
  let sqs: SQSClient;
  let logFile: string;
  let fns: LocalFunction[] = [];
  let runners: MappingRunner[] = [];
  let counter = 0;

  before(async function () {
    this.timeout(180_000);
    await ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'icp-queue-runner-'));
    await mkdir(join(dir, 'stub'));
    await writeFile(join(dir, 'stub', 'index.js'), STUB);
    s3 = await startLocalS3({ region: REGION });
    sqs = new SQSClient({ region: REGION, endpoint: s3.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  });
  after(async () => {
    sqs?.destroy();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await Promise.all(fns.map((f) => f.close()));
    runners = [];
    fns = [];
  });

  /** A source queue and its dead-letter queue, a stub function, and a runner between them (not started). */
  const rig = async (options: { batchSize?: number; maximumConcurrency?: number; visibilityTimeoutS?: number; maxReceiveCount?: number; retentionS?: number; timeScale?: number; timeoutS?: number } = {}) => {
    const n = ++counter;
    logFile = join(dir, `log-${n}.jsonl`);
    const queue = (id: string, extra: Partial<QueueWiring> = {}): QueueWiring => ({
      id,
      name: `${id}-${n}`,
      arn: `arn:aws:sqs:${REGION}:000000000000:${id}-${n}`,
      visibilityTimeoutS: options.visibilityTimeoutS ?? 30,
      retentionS: options.retentionS ?? 1_209_600,
      delayS: 0,
      receiveWaitTimeS: 0,
      ...extra,
    });
    const wiring = {
      queues: {
        dlq: queue('dlq'),
        source: queue('source', { redrive: { deadLetterQueueId: 'dlq', maxReceiveCount: options.maxReceiveCount ?? 3 } }),
      },
    } as unknown as Wiring;
    const queues = await createQueues(sqs, wiring);
    const fn = new LocalFunction(
      { id: `stub-${n}`, handler: 'index.handler', environment: { STUB_LOG: logFile }, memoryMb: 256, timeoutS: options.timeoutS ?? 10 },
      { bundleDir: join(dir, 'stub'), workerPath: defaultWorkerPath(ROOT), baseEnv: {}, logFile: join(dir, 'logs', `stub-${n}.log`) },
    );
    fns.push(fn);
    const mapping: EventSourceMappingWiring = {
      id: `mapping-${n}`,
      functionId: fn.wiring.id,
      queueId: 'source',
      batchSize: options.batchSize ?? 1,
      ...(options.maximumConcurrency ? { maximumConcurrency: options.maximumConcurrency } : {}),
      maximumBatchingWindowS: 0,
      functionResponseTypes: ['ReportBatchItemFailures'],
      enabled: true,
    };
    const runner = new MappingRunner({ mapping, queue: queues.source!, fn, client: sqs, region: REGION, timeScale: options.timeScale ?? 1 });
    runners.push(runner);
    const send = async (body: Record<string, unknown>): Promise<string> =>
      (await sqs.send(new SendMessageCommand({ QueueUrl: queues.source!.url, MessageBody: JSON.stringify(body) }))).MessageId!;
    const log = (): Logged[] =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as Logged)
        : [];
    const depth = (q: LocalQueue) => {
      const snapshot = s3.inspectQueue(q.name)!;
      return snapshot.ready.length + snapshot.inflight.length + snapshot.delayed.length;
    };
    return { queues, fn, runner, send, log, depth };
  };

  it('invokes with at most batch-size records, a real-shaped SQS event, and deletes what succeeded', async () => {
    const r = await rig({ batchSize: 5, maximumConcurrency: 2 });
    for (let i = 0; i < 12; i++) await r.send({ id: `m${i}` });
    r.runner.start();
    await until(() => r.depth(r.queues.source!) === 0 && r.runner.isIdle(), 20_000, 'the queue to drain');

    const starts = r.log().filter((l) => l.type === 'start');
    expect(starts.every((s) => s.ids.length <= 5)).to.equal(true);
    expect(starts.some((s) => s.ids.length === 5), 'a full batch was formed from the waiting messages').to.equal(true);
    expect(starts.flatMap((s) => s.ids).sort()).to.deep.equal(Array.from({ length: 12 }, (_, i) => `m${i}`).sort());
    const record = r.log().find((l) => l.type === 'record')!.record;
    expect(record).to.include({ eventSource: 'aws:sqs', eventSourceARN: r.queues.source!.arn, awsRegion: REGION });
    expect(record.messageId).to.be.a('string');
    expect(record.receiptHandle).to.be.a('string');
    expect(record.md5OfBody).to.match(/^[0-9a-f]{32}$/);
    expect(record.messageAttributes).to.deep.equal({});
    expect(record.attributes).to.include({ ApproximateReceiveCount: '1' });
    expect(Number(record.attributes.SentTimestamp)).to.be.at.most(Number(record.attributes.ApproximateFirstReceiveTimestamp));
    expect(r.runner.batches.every((b) => b.failed.length === 0 && b.deliveries.every((d) => d.deleted))).to.equal(true);
  });

  it('never runs more invocations at once than the maximum concurrency, and reaches it', async () => {
    const r = await rig({ batchSize: 1, maximumConcurrency: 3 });
    for (let i = 0; i < 15; i++) await r.send({ id: `c${i}`, sleepMs: 150 });
    r.runner.start();
    await until(() => r.depth(r.queues.source!) === 0 && r.runner.isIdle(), 20_000, 'the queue to drain');
    expect(peakOverlap(r.log()), 'invocations overlapping, from the function side').to.equal(3);
    expect(r.runner.peakConcurrency).to.equal(3);
  });

  it('partial batch failure: only the reported message comes back, after the visibility timeout, with its receive count raised', async () => {
    // 20 s visibility × 0.02 = 400 ms.
    const r = await rig({ batchSize: 3, maximumConcurrency: 2, visibilityTimeoutS: 20, timeScale: 0.02, maxReceiveCount: 5 });
    await r.send({ id: 'ok1' });
    const twice = await r.send({ id: 'twice', failUntil: 2 });
    await r.send({ id: 'ok2' });
    r.runner.start();
    await until(() => r.depth(r.queues.source!) === 0 && r.runner.isIdle(), 20_000, 'the queue to drain');

    const records = r.log().filter((l) => l.type === 'record');
    expect(records.map((l) => [l.id, l.count])).to.have.deep.members([
      ['ok1', 1],
      ['twice', 1],
      ['ok2', 1],
      ['twice', 2],
    ]);
    const [first, second] = records.filter((l) => l.id === 'twice').map((l) => l.record);
    const gap = Number(second.attributes.ApproximateFirstReceiveTimestamp) === Number(first.attributes.ApproximateFirstReceiveTimestamp);
    expect(gap, 'ApproximateFirstReceiveTimestamp stays the first receive').to.equal(true);
    // The visibility timeout runs from the first receive: measured between the receives, as the
    // invocations' starts also hold an environment's cold start.
    const receives = r.runner.batches.flatMap((b) => b.deliveries).filter((d) => d.messageId === twice);
    expect(receives.map((d) => d.receiveCount)).to.deep.equal([1, 2]);
    expect(receives[1]!.ageMs - receives[0]!.ageMs, 'after the scaled visibility timeout (400 ms), not before').to.be.within(400 - 50, 4000);
    expect(r.depth(r.queues.dlq!)).to.equal(0);
  });

  it('a thrown error fails the whole batch: every message of it comes back', async () => {
    const flag = join(dir, 'throwing');
    await writeFile(flag, '');
    const r = await rig({ batchSize: 2, maximumConcurrency: 2, visibilityTimeoutS: 10, timeScale: 0.02 });
    await r.send({ id: 'fine' });
    await r.send({ id: 'boom', throwIfExists: flag });
    r.runner.start();
    await until(() => r.runner.batches.length >= 1, 10_000, 'a first batch');
    await rm(flag);
    const first = r.runner.batches[0]!;
    expect(first.invocation.ok).to.equal(false);
    expect(first.deliveries.map((d) => d.deleted)).to.deep.equal([false, false]);
    await until(() => r.depth(r.queues.source!) === 0 && r.runner.isIdle(), 20_000, 'the queue to drain');
    expect(r.log().filter((l) => l.type === 'record').map((l) => [l.id, l.count])).to.have.deep.members([
      ['fine', 1],
      ['boom', 1],
      ['fine', 2],
      ['boom', 2],
    ]);
  });

  it('a message that fails every receive goes to the dead-letter queue after maxReceiveCount receives, and redrive brings it back', async () => {
    const flag = join(dir, 'broken');
    await writeFile(flag, '');
    const r = await rig({ batchSize: 1, maximumConcurrency: 2, visibilityTimeoutS: 10, timeScale: 0.02, maxReceiveCount: 3 });
    const id = await r.send({ id: 'doomed', failIfExists: flag });
    r.runner.start();
    await until(() => r.depth(r.queues.dlq!) === 1 && r.runner.isIdle(), 20_000, 'the dead-letter queue');
    expect(r.log().filter((l) => l.type === 'record').map((l) => l.count)).to.deep.equal([1, 2, 3]);
    expect(r.depth(r.queues.source!)).to.equal(0);
    expect(s3.inspectQueue(r.queues.dlq!.name)!.ready.map((m) => m.messageId)).to.deep.equal([id]);

    // The fix, then the redrive: the message goes back to the source queue and is processed.
    await rm(flag);
    const moved = await redrive({ client: sqs, deadLetterQueueUrl: r.queues.dlq!.url, routes: [], waitTimeS: 0 });
    expect(moved).to.deep.include({ moved: 0 });
    expect(moved.left.map((l) => l.reason)).to.deep.equal(['not an S3 event notification']);
    expect(r.depth(r.queues.dlq!), 'what cannot be routed stays').to.equal(1);
  });

  it('redrive moves S3 event messages back to the queue of their bucket, where they are processed', async () => {
    const flag = join(dir, 'broken-s3');
    await writeFile(flag, '');
    const r = await rig({ batchSize: 1, maximumConcurrency: 2, visibilityTimeoutS: 10, timeScale: 0.02, maxReceiveCount: 2 });
    // An S3 event notification body, with the stub's instructions beside the record.
    const body = { id: 'upload', failIfExists: flag, Records: [{ s3: { bucket: { name: 'in-bucket' }, object: { key: 'a+photo.png' } } }] };
    await r.send(body);
    r.runner.start();
    await until(() => r.depth(r.queues.dlq!) === 1 && r.runner.isIdle(), 20_000, 'the dead-letter queue');
    await rm(flag);
    const result = await redrive({ client: sqs, deadLetterQueueUrl: r.queues.dlq!.url, routes: [{ bucket: 'in-bucket', queueUrl: r.queues.source!.url }], waitTimeS: 0 });
    expect(result).to.deep.include({ moved: 1, left: [] });
    await until(() => r.depth(r.queues.source!) === 0 && r.depth(r.queues.dlq!) === 0 && r.runner.isIdle(), 20_000, 'the redriven message to be processed');
    const records = r.log().filter((l) => l.type === 'record');
    expect(records.map((l) => l.count), 'the redriven message starts counting afresh').to.deep.equal([1, 2, 1]);
    expect(r.runner.batches.at(-1)!.deliveries[0]!.deleted).to.equal(true);
  });

  it('drops messages older than the retention period without invoking', async () => {
    const r = await rig({ retentionS: 60, timeScale: 0.002 }); // 120 ms
    await r.send({ id: 'stale' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    r.runner.start();
    await until(() => r.runner.expired.length === 1 && r.depth(r.queues.source!) === 0, 5_000, 'the expiry');
    expect(r.log()).to.deep.equal([]);
  });
});

describe('local pipeline on queues, with the real function bundles', function () {
  this.timeout(120_000);

  it('an upload goes S3 → prepare queue → prepare → staging → generate queue → generate, and ends with its manifest', async function () {
    // The handlers take SQS events once their change has landed (a commit about SQS / Powertools batch in functions/).
    const log = execFileSync('git', ['log', '--format=%s', '--', 'functions/'], { cwd: ROOT, encoding: 'utf8' });
    if (!/sqs|powertools|batch/i.test(log) || !existsSync(join(ROOT, STACK_JSON))) this.skip();
    await ensureBuilt();
    const workDir = await mkdtemp(join(tmpdir(), 'icp-queue-pipeline-'));
    const pipeline = await startLocalPipeline({ root: ROOT, workDir, standIn: { answerRetiredModels: true } });
    try {
      const batches: BatchOutcome[] = [];
      for (const runner of Object.values(pipeline.mappings)) runner.onBatch((b) => batches.push(b));
      await pipeline.upload('queued/photo.jpg', await photo('rocket.jpg'), { prompt: 'a rocket as a pencil sketch' });
      const outcome = await pipeline.waitForOutcome('queued/photo.jpg', 60_000);
      await pipeline.idle();
      expect(outcome.error).to.equal(undefined);
      expect(outcome.manifest.outcome).to.equal('succeeded');
      expect(new Set(batches.map((b) => b.mappingId))).to.deep.equal(new Set(['prepare_queue', 'generate_queue']));
      expect(batches.every((b) => b.invocation.ok && b.failed.length === 0), JSON.stringify(batches.filter((b) => !b.invocation.ok || b.failed.length))).to.equal(true);
      expect(pipeline.deadLetters()).to.deep.equal([]);
    } finally {
      await pipeline.close();
      await rm(workDir, { recursive: true, force: true });
    }
  });
});

