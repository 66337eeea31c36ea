/**
 * A backlog through the whole local pipeline, wired as deployed (S3 → SQS → event source
 * mapping → function, read from the synthesized stack), with time compressed by the
 * pipeline's timeScale:
 *
 * 1. Thousands of uploads at once against a model stand-in that answers at a fixed rate (every
 *    call takes DELAY_MS; generate's mapping allows max_model_calls_in_flight executions of one
 *    call each). The backlog waits in the generate queue longer than the old asynchronous
 *    invocation's event-age limit (3,600 s, scaled like the queues' times), and drains at the
 *    configured rate: every upload ends with exactly one outcome, nothing is dead-lettered, the
 *    model never has more calls in flight than the cap, and the drain takes uploads ÷ rate
 *    (within 20%).
 * 2. generate fails every receive (the model answers 503): after max_receive_count receives the
 *    message is in the dead-letter queue and the upload's folder has error.json and its
 *    manifest (the last receive writes them); once the model is back, a redrive processes it.
 *
 * ICP_BACKLOG_UPLOADS overrides the number of uploads of the first test: 2,000 by default, which
 * drain in about 7 minutes (`npm run test:backlog` runs this file alone).
 * To see where the CPU goes, ICP_LOCAL_CPU_PROF=<dir> writes a --cpu-prof profile per function
 * environment (scripts/local/pipeline.ts), and `node --cpu-prof` one for this process.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import { ROOT } from '../../scripts/build-functions';
import { peakCallsInFlight } from '../../scripts/local/bedrock-standin';
import type { BatchOutcome } from '../../scripts/local/event-source-mapping';
import { STACK_JSON, startLocalPipeline, type LocalPipeline, type LocalPipelineOptions } from '../../scripts/local/pipeline';
import { ensureBuilt } from '../helpers/build';
import { duplicateSuccesses } from './support';
import { addToSummary } from './summary';

/** 2,000: 400 s at RATE, with a backlog that outlives the old event-age limit (scaled) several times over. */
const UPLOADS = Number(process.env.ICP_BACKLOG_UPLOADS ?? 2000);
/**
 * The model answers at a fixed rate: RATE calls a second (its quota), each taking at least
 * DELAY_MS, in the order they arrive (the stand-in's `delay` and `quota` faults). With CAP calls
 * in flight, generate could go CAP ÷ (DELAY_MS + its own ~0.6 s per job: S3 requests, the contact
 * sheet, the message's delete and the next receive) ≈ 6.5 a second: above RATE, so the model's
 * rate sets the pace and calls wait their turn at the cap, as a backlog does against a real quota.
 * Earlier versions paced by CAP ÷ DELAY_MS alone, which counts generate's own time per job in the
 * drain: 13–27% slower than that rate depending on the machine.
 *
 * Time compression shortens SQS's times, not the work each upload costs in real CPU: about
 * 0.29 s per upload in all on 2 cores (584 CPU-s for this file at 2,000 uploads; with
 * `--cpu-prof`: prepare ~85 ms for the 1 MP resize, edges and PNGs, generate ~100 ms for its S3
 * requests and the contact sheet, this process ~45–65 ms for the S3/SQS server and the
 * stand-in's picture), so RATE stays where this machine has a core to spare.
 */
const RATE = 5;
const DELAY_MS = 2500;
/** Executions of generate at once (max_model_calls_in_flight), one model call each. */
const CAP = 20;
/**
 * prepare's maximum concurrency (the stack allows 2 and more): fewer environments to start, and
 * prepare takes at most two cores' worth from generate while the uploads are prepared; it still
 * prepares faster than the model's rate, so the backlog waits in the generate queue.
 */
const PREPARE_CONCURRENCY = 2;
/** 1 s of SQS time lasts 10 ms: the old 3,600 s event-age limit is 36 s. */
const TIME_SCALE = 0.01;
const OLD_EVENT_AGE_LIMIT_S = 3600;
const run = promisify(execFile);

/** A tiny photo per index: two colours split by a slanted edge, so each has edges and its own bytes (and ETag). */
const tinyPhoto = (i: number): Promise<Buffer> => {
  // The smallest the models take is 64 px a side.
  const width = 96;
  const height = 64;
  const data = Buffer.alloc(width * height * 3);
  const a = [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256];
  const b = [255 - a[0]!, 255 - a[1]!, (a[2]! + 128) % 256];
  const slope = 0.5 + (i % 11) / 10;
  const shift = (i % 13) - 6;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x + shift * 2 > y * slope + (i % 5) ? a : b, (y * width + x) * 3);
  }
  // The index in the last pixel too: no two uploads share bytes.
  data.set([i & 0xff, (i >> 8) & 0xff, 7], data.length - 3);
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
};

const startPipeline = async (options: Omit<LocalPipelineOptions, 'root' | 'workDir'>): Promise<{ pipeline: LocalPipeline; workDir: string }> => {
  if (!existsSync(join(ROOT, STACK_JSON))) throw new Error(`${STACK_JSON} is missing: run npm run synth first (npm test does)`);
  await ensureBuilt();
  const workDir = await mkdtemp(join(tmpdir(), 'icp-backlog-'));
  const pipeline = await startLocalPipeline({ root: ROOT, workDir, ...options, standIn: { answerRetiredModels: true, ...options.standIn } });
  // S3's test events (one per notified queue) are handled before the uploads start.
  await pipeline.idle();
  return { pipeline, workDir };
};

const listAll = async (pipeline: LocalPipeline, bucket: string): Promise<string[]> => {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await pipeline.client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
};

describe(`reliability: a backlog of ${UPLOADS} uploads drains at the model's rate`, function () {
  // Expected drain plus margin for the uploads, the start and the checks.
  this.timeout((UPLOADS / RATE) * 2000 + 180_000);
  let pipeline: LocalPipeline | undefined;
  let workDir: string | undefined;
  after(async function () {
    this.timeout(60_000);
    await pipeline?.close();
    // The closed pipeline's server still holds every object of the backlog in this process: let it go.
    pipeline = undefined;
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('every upload ends with exactly one outcome, none dead-lettered, calls in flight never above the cap, drain time = uploads ÷ rate', async () => {
    ({ pipeline, workDir } = await startPipeline({
      timeScale: TIME_SCALE,
      // The stand-in sets the pace; the functions' own pacing (one call per model_call_min_seconds) is off.
      // timeScale compresses the visibility timeout, not prepare's real work on a busy machine: prepare's
      // timeout (hence its visibility timeout, 6 × 900 s × 0.01 = 54 s) is raised so no batch comes back
      // while it is still being prepared. generate's stays 6 × 300 s × 0.01 = 18 s, four times a call.
      variables: { max_model_calls_in_flight: CAP, model_call_min_seconds: 0, prepare_timeout_s: 900, prepare_max_concurrency: PREPARE_CONCURRENCY },
      standIn: {
        faults: [
          { kind: 'delay', ms: DELAY_MS, times: Infinity },
          { kind: 'quota', callsPerSecond: RATE, times: Infinity },
        ],
      },
    }));
    const p = pipeline;
    const generateMapping = p.wiring.eventSourceMappings.find((m) => m.functionId === 'generate')!;
    expect(generateMapping.maximumConcurrency, 'generate is capped by its mapping').to.equal(CAP);
    const generateBatches: BatchOutcome[] = [];
    p.mappings.generate!.onBatch((batch) => generateBatches.push(batch));
    const keys = Array.from({ length: UPLOADS }, (_, i) => `backlog/${String(i).padStart(5, '0')}.png`);
    const bodies: Buffer[] = [];
    for (let i = 0; i < UPLOADS; i++) bodies.push(await tinyPhoto(i));

    const expectedS = UPLOADS / RATE;
    const started = Date.now();
    // Uploaded 50 at a time, as a bulk copy would.
    for (let i = 0; i < UPLOADS; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key, n) => p.upload(key, bodies[i + n]!, { prompt: 'a pencil sketch of two colours' })));
    }
    const uploadedS = (Date.now() - started) / 1000;
    await p.idle();
    const drainS = (Date.now() - started) / 1000;

    // What became of each upload, counted from the buckets and queues.
    const outputs = await listAll(p, p.buckets.output);
    const manifests = outputs.filter((k) => k.endsWith('/manifest.json'));
    const errors = outputs.filter((k) => k.endsWith('/error.json'));
    let results = 0;
    const missing: string[] = [];
    for (const key of keys) {
      const folder = outputFolder(key);
      const inFolder = outputs.filter((k) => k.startsWith(folder) && !k.slice(folder.length).includes('/'));
      if (inFolder.includes(outputKeys(key).manifest) && inFolder.some((k) => /\/\d+\.png$/.test(k)) && !inFolder.includes(outputKeys(key).error)) results++;
      else missing.push(key);
    }
    const calls = p.standIn!.calls;
    const peak = peakCallsInFlight(calls);
    const deadLettered = p.deadLetters().length;
    const expired = Object.values(p.mappings).reduce((n, m) => n + m.expired.length, 0);
    const waits = generateBatches.flatMap((b) => b.deliveries.filter((d) => d.receiveCount === 1).map((d) => d.ageMs));
    const oldestWaitS = Math.max(...waits) / 1000;
    const drainRate = UPLOADS / drainS;
    console.log(
      `      ${UPLOADS} uploads (in ${uploadedS.toFixed(1)} s) → ${results} results, ${errors.length} error reports, ${deadLettered} dead-lettered, ${expired} expired; ` +
        `${calls.length} model calls, peak in flight ${peak} (cap ${CAP}); drained in ${drainS.toFixed(1)} s vs ${expectedS.toFixed(1)} s expected ` +
        `(${drainRate.toFixed(2)}/s vs ${RATE.toFixed(2)}/s); oldest job waited ${oldestWaitS.toFixed(1)} s in the generate queue ` +
        `= ${(oldestWaitS / TIME_SCALE / 3600).toFixed(2)} h at scale ${TIME_SCALE} (old event-age limit ${OLD_EVENT_AGE_LIMIT_S} s = ${(OLD_EVENT_AGE_LIMIT_S * TIME_SCALE).toFixed(0)} s here)`,
    );
    addToSummary('backlog', {
      inputs: UPLOADS,
      results,
      errorReports: errors.length,
      deadLettered,
      lost: missing.length - errors.length,
      modelCalls: calls.length,
      duplicateCallsBilled: duplicateSuccesses(calls),
      abandonedAnswers: calls.filter((c) => c.status === 200 && c.delivered === false).length,
    });

    expect(missing, `uploads without a result: ${missing.slice(0, 5).join(', ')}…`).to.deep.equal([]);
    expect(results).to.equal(UPLOADS);
    expect(manifests, 'exactly one outcome per upload').to.have.length(UPLOADS);
    expect(errors).to.deep.equal([]);
    expect(deadLettered).to.equal(0);
    expect(expired).to.equal(0);
    expect(calls).to.have.length(UPLOADS);
    expect(calls.every((c) => c.status === 200 && c.delivered === true)).to.equal(true);
    expect(peak, 'model calls in flight').to.be.at.most(CAP);
    expect(peak, 'the cap was reached, so it was tested').to.equal(CAP);
    expect(p.mappings.generate!.peakConcurrency).to.be.at.most(CAP);
    expect(oldestWaitS, 'the backlog outlived the old event-age limit (scaled)').to.be.above(OLD_EVENT_AGE_LIMIT_S * TIME_SCALE);
    expect(drainS, `drain time within 20% of uploads ÷ rate (${expectedS.toFixed(1)} s)`).to.be.within(expectedS * 0.8, expectedS * 1.2);
  });
});

describe('reliability: generate fails every receive, then the model is back and a redrive processes the upload', function () {
  this.timeout(120_000);
  const MAX_RECEIVE_COUNT = 2;
  // generate's visibility timeout: 6 × 300 s × 0.01 = 18 s, so the dead letter takes two of them.
  const SCALE = 0.01;
  let pipeline: LocalPipeline | undefined;
  let workDir: string | undefined;
  after(async function () {
    this.timeout(60_000);
    await pipeline?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it(`reaches the dead-letter queue after ${MAX_RECEIVE_COUNT} receives with error.json + manifest in its folder; redriven after the fix, it ends with results`, async () => {
    ({ pipeline, workDir } = await startPipeline({
      timeScale: SCALE,
      // prepare's visibility timeout (6 × 900 s × SCALE = 54 s) stays above its real run time even on a machine still
      // busy with an earlier backlog: a receive counted while prepare still runs could dead-letter the upload itself.
      variables: { max_receive_count: MAX_RECEIVE_COUNT, model_call_min_seconds: 0, generate_timeout_s: 300, prepare_timeout_s: 900 },
      standIn: { faults: [{ kind: 'status', status: 503, times: Infinity }] },
    }));
    const p = pipeline;
    const generateBatches: BatchOutcome[] = [];
    p.mappings.generate!.onBatch((batch) => generateBatches.push(batch));
    const key = 'broken/model.png';
    await p.upload(key, await tinyPhoto(1), { prompt: 'a sketch while the model is down' });
    await p.idle();

    // SQS's side: received MAX_RECEIVE_COUNT times, each a failure, then moved to the dead-letter queue.
    expect(generateBatches.map((b) => b.deliveries.map((d) => [d.receiveCount, d.deleted]))).to.deep.equal(
      Array.from({ length: MAX_RECEIVE_COUNT }, (_, i) => [[i + 1, false]]),
    );
    const dead = p.deadLetters();
    expect(dead, JSON.stringify(dead, null, 1).slice(0, 4000)).to.have.length(1);
    const event = JSON.parse(dead[0]!.body);
    expect(event.Records[0].s3.bucket.name).to.equal(p.buckets.staging);
    expect(p.standIn!.calls.length, 'the model was called on every receive').to.be.at.least(MAX_RECEIVE_COUNT);

    // The user's side: the last receive wrote the failure into the upload's folder.
    const keys = outputKeys(key);
    const folder = (await listAll(p, p.buckets.output)).filter((k) => k.startsWith(outputFolder(key)));
    expect(folder.sort()).to.deep.equal([keys.error, keys.manifest].sort());
    const failed = await p.waitForOutcome(key, 5_000);
    expect(failed.manifest.outcome).to.equal('failed');
    expect(failed.error).to.include({ stage: 'generate' });

    // The fix, then the redrive with the documented command: processed again, the upload ends with its pictures.
    p.standIn!.setFaults([]);
    const { stdout } = await run('npx', ['tsx', 'scripts/redrive.ts', '--endpoint', p.s3.endpoint], { cwd: ROOT, env: { ...process.env, ...p.cliEnv } });
    expect(stdout).to.match(/^moved 1 message\(s\) from .*: 1 to the generate/m);
    expect(p.deadLetters()).to.deep.equal([]);
    await p.idle();
    const outcome = await p.waitForOutcome(key, 10_000);
    expect(outcome.manifest.outcome, JSON.stringify(outcome.error)).to.equal('succeeded');
    expect(outcome.keys.some((k) => /\/\d+\.png$/.test(k))).to.equal(true);
    expect(p.deadLetters()).to.deep.equal([]);
    addToSummary('backlog', { inputs: 1, results: 1, modelCalls: p.standIn!.calls.length, duplicateCallsBilled: duplicateSuccesses(p.standIn!.calls) });
  });
});
