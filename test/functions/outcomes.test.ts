/**
 * "Every upload ends with one consistent outcome, paid for once", tried as a
 * hostile or simply busy user would: the built prepare and generate bundles, the
 * embedded S3 server (with its fault injection for failed writes) and the
 * Bedrock stand-in. Each test reproduces one way the pipeline used to lose
 * results or money.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import sharp from 'sharp';
import type { S3EventRecord } from 'aws-lambda';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import type { LocalFunction } from '../../scripts/local/lambda-host';
import { BUCKETS, describeOutcome, eventOf, generateEnv, prepareEnv, sqsEventOf, stageJob, usePipelineRig, type Staged } from '../helpers/local-functions';
import { photo } from '../helpers/photos';

const SKETCH = 'us.stability.stable-image-control-sketch-v1:0';

describe('consistent outcomes (built bundles, embedded S3, Bedrock stand-in)', function () {
  this.timeout(60_000);
  const { rig, prepare, generate } = usePipelineRig();
  let prepareSketch: LocalFunction;
  let generateSketch: LocalFunction;

  before(() => {
    prepareSketch = rig().startFunction('prepare', prepareEnv({ MODEL_ID: SKETCH, DEFAULT_PROMPT: 'a pencil drawing' }));
    generateSketch = rig().startFunction('generate', generateEnv({ MODEL_ID: SKETCH }));
  });

  const folderOf = (key: string): Promise<string[]> => rig().list(BUCKETS.output, outputFolder(key)).then((keys) => keys.filter((k) => !k.slice(outputFolder(key).length).includes('/')));
  const manifestOf = (key: string): Promise<any> => rig().getJson(BUCKETS.output, outputKeys(key).manifest);
  const modelCalls = (): number => rig().standIn.calls.length;

  /** Invokes generate with a job's record, as its queue delivers it, and expects the message to succeed. */
  const generated = async (fn: LocalFunction, record: S3EventRecord): Promise<void> => {
    const outcome = await fn.invoke(eventOf(record));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(outcome.result).to.deep.equal({ batchItemFailures: [] });
    await rig().s3.idle();
  };

  /** The folder holds exactly what its manifest lists, plus the manifest. */
  const expectFolderMatchesManifest = async (key: string): Promise<any> => {
    const manifest = await manifestOf(key);
    const listed = [...manifest.outputs.images, manifest.outputs.edges, manifest.outputs.contactSheet, manifest.outputs.error].filter((k): k is string => k !== null);
    expect(await folderOf(key)).to.deep.equal([...listed, outputKeys(key).manifest].sort());
    if (manifest.outputs.error) expect(manifest.outputs.images).to.deep.equal([]);
    return manifest;
  };

  describe('one folder per input key', () => {
    it('tiger.jpg and tiger.png, a/b and a/b.png, each get a folder of their own, and neither touches the other', async () => {
      const keys = ['same/tiger.jpg', 'same/tiger.png', 'same/a/b', 'same/a/b.png'];
      for (const key of keys) {
        const staged = await stageJob(rig(), prepare(), key, photo(key.endsWith('.png') ? 'coffee.png' : 'chelsea.png'), { prompt: key });
        await generated(generate(), staged.jobRecord);
      }
      for (const key of keys) {
        const manifest = await expectFolderMatchesManifest(key);
        expect(manifest.source.key, key).to.equal(key);
        expect(manifest.prompt).to.equal(key);
      }
    });

    it('a key near the 1,024-byte limit and a crafted short key named like its folder get different folders', async () => {
      const long = `long/${'x'.repeat(1000)}.jpg`;
      const crafted = outputFolder(long).slice(0, -1);
      for (const key of [long, crafted]) {
        const staged = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: key.slice(0, 40) });
        await generated(generate(), staged.jobRecord);
      }
      expect((await manifestOf(long)).source.key).to.equal(long);
      expect((await manifestOf(crafted)).source.key).to.equal(crafted);
    });
  });

  describe('the folder shows the newest upload of its key', () => {
    it('an older upload whose generation finishes last does not overwrite the newer one', async () => {
      const key = 'race/cat.jpg';
      const older = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'the older upload' });
      const newer = await stageJob(rig(), prepare(), key, photo('coffee.png'), { prompt: 'the newer upload' });

      await generated(generate(), newer.jobRecord);
      const calls = modelCalls();
      await generated(generate(), older.jobRecord);

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.source.eTag).to.equal(newer.job.source.eTag);
      expect(manifest.prompt).to.equal('the newer upload');
      expect(modelCalls(), 'the superseded job was not generated at all').to.equal(calls);
    });

    it('A, then B, then A again under one key shows A: the third upload publishes the kept answer without a model call', async () => {
      const key = 'aba/photo.jpg';
      const first = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'same settings' });
      await generated(generate(), first.jobRecord);
      const second = await stageJob(rig(), prepare(), key, photo('coffee.png'), { prompt: 'same settings' });
      await generated(generate(), second.jobRecord);
      const calls = modelCalls();

      const third = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'same settings' });
      expect(third.jobId).to.equal(first.jobId);
      await generated(generate(), third.jobRecord);

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.source.eTag).to.equal(first.job.source.eTag);
      expect(manifest.source.sequencer).to.equal(third.job.source.sequencer);
      expect(manifest.calls[0].kept).to.equal(true);
      expect(modelCalls()).to.equal(calls);
    });

    it('a duplicate delivery of an older job after a newer one was published changes nothing', async () => {
      const key = 'dup-after/cat.jpg';
      const older = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'older' });
      await generated(generate(), older.jobRecord);
      const newer = await stageJob(rig(), prepare(), key, photo('coffee.png'), { prompt: 'newer' });
      await generated(generate(), newer.jobRecord);

      await generated(generate(), older.jobRecord);
      expect((await manifestOf(key)).prompt).to.equal('newer');
    });
  });

  describe('no stale files beside a manifest', () => {
    it('count=3 then count=1 on one key leaves only 1.png', async () => {
      const key = 'stale/count.jpg';
      const three = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'three', count: '3' });
      await generated(generate(), three.jobRecord);
      expect((await manifestOf(key)).outputs.images).to.have.length(3);

      const one = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'one', count: '1' });
      await generated(generate(), one.jobRecord);

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outputs.images).to.deep.equal([outputKeys(key).image(1)]);
      expect(await folderOf(key)).to.not.include(outputKeys(key).image(2));
    });

    it('a success followed by a rejected re-upload leaves error.json and the manifest only: no pictures, no edge mask', async () => {
      const key = 'stale/rejected.jpg';
      const good = await stageJob(rig(), prepare(), key, photo('chelsea.png'));
      await generated(generate(), good.jobRecord);

      const bad = await stageJob(rig(), prepare(), key, 'this is not a picture');
      expect(bad.job.status).to.equal('rejected');
      await generated(generate(), bad.jobRecord);

      const manifest = await expectFolderMatchesManifest(key);
      expect(await folderOf(key)).to.deep.equal([outputKeys(key).error, outputKeys(key).manifest]);
      expect(manifest.outcome).to.equal('failed');
      const report = await rig().getJson(BUCKETS.output, outputKeys(key).error);
      expect(report).to.include({ reason: 'UNSUPPORTED_FORMAT', stage: 'prepare' });
      expect(report.source.key).to.equal(key);
    });
  });

  describe('paid once: every answer is kept before anything else is written', () => {
    const failsThenPublishes = async (fn: LocalFunction, staged: Staged, fault: () => void): Promise<any> => {
      const calls = modelCalls();
      fault();
      const failed = await fn.invoke(eventOf(staged.jobRecord));
      expect(failed.ok, 'the write failure fails the invocation so it is retried').to.equal(false);
      expect(modelCalls() - calls, 'one paid call').to.equal(1);
      rig().s3.clearFaults();

      const retried = await fn.invoke(eventOf(staged.jobRecord));
      expect(retried.ok, describeOutcome(retried)).to.equal(true);
      await rig().s3.idle();
      expect(modelCalls() - calls, 'the retry published the kept answer instead of calling again').to.equal(1);
      return expectFolderMatchesManifest(staged.job.source.key);
    };

    it('count=1: the output PUT of the picture answers 503 SlowDown on every attempt', async () => {
      const staged = await stageJob(rig(), prepare(), 'paid/slowdown.jpg', photo('chelsea.png'));
      const manifest = await failsThenPublishes(generate(), staged, () => {
        rig().s3.injectFault({ kind: 'SlowDown', operation: 'PutObject', bucket: BUCKETS.output, key: /\/1\.png$/ });
      });
      expect(manifest.outcome).to.equal('succeeded');
      expect(manifest.calls[0].kept).to.equal(true);
    });

    it('count=1: the output bucket does not answer at all (connections reset)', async () => {
      const staged = await stageJob(rig(), prepare(), 'paid/unavailable.jpg', photo('chelsea.png'));
      const manifest = await failsThenPublishes(generate(), staged, () => {
        rig().s3.injectFault({ kind: 'reset', bucket: BUCKETS.output });
      });
      expect(manifest.outcome).to.equal('succeeded');
    });

    it("the claim's final update fails after the outcome was published", async () => {
      const staged = await stageJob(rig(), prepare(), 'paid/claim-done.jpg', photo('chelsea.png'));
      const claimKey = new RegExp(`^claims/${staged.jobId}/[0-9a-f]+\\.json$`);
      await failsThenPublishes(generate(), staged, () => {
        // Let the claim's creation and its metering through, then fail every attempt of the "done" update.
        rig().s3.injectFault({ kind: 'InternalError', operation: 'PutObject', bucket: BUCKETS.staging, key: claimKey, after: 2, times: 3 });
      });
    });

    it('the error.json PUT fails after a content-filter block: the retry reports the kept block', async () => {
      const staged = await stageJob(rig(), prepare(), 'paid/filtered.jpg', photo('chelsea.png'), { prompt: 'standin-blocked tiger' });
      const manifest = await failsThenPublishes(generate(), staged, () => {
        rig().s3.injectFault({ kind: 'SlowDown', operation: 'PutObject', bucket: BUCKETS.output, key: /\/error\.json$/ });
      });
      expect(manifest.outcome).to.equal('failed');
      expect(manifest.failure.reason).to.equal('CONTENT_FILTERED');
    });

    it('count=3 on a one-image model with one "Inference error" keeps the two good pictures and reports the third', async () => {
      const key = 'paid/partial.png';
      const staged = await stageJob(rig(), prepareSketch, key, photo('coffee.png'), { prompt: 'three cups', count: '3' });
      rig().standIn.setFaults([{ kind: 'inference-error', times: 1 }]);
      const calls = modelCalls();

      await generated(generateSketch, staged.jobRecord);

      expect(modelCalls() - calls).to.equal(3);
      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outcome).to.equal('partial');
      expect(manifest.outputs.images).to.have.length(2);
      expect(manifest.imagesMissing).to.equal(1);
      const failed = manifest.calls.filter((c: any) => c.failure);
      expect(failed).to.have.length(1);
      expect(failed[0].failure.reason).to.equal('MODEL_ERROR');
    });

    it('a model call that times out on the client is not retried inside the same invocation', async () => {
      const impatient = rig().startFunction('generate', generateEnv({ REQUEST_TIMEOUT_MS: '1000' }));
      const staged = await stageJob(rig(), prepare(), 'paid/timeout.jpg', photo('chelsea.png'));
      rig().standIn.setFaults([{ kind: 'delay', ms: 2500, times: 5 }]);
      const calls = modelCalls();

      const outcome = await impatient.invoke(eventOf(staged.jobRecord));

      expect(outcome.ok).to.equal(false);
      expect(modelCalls() - calls, 'one attempt, not the SDK default of three').to.equal(1);
    });
  });

  describe('no upload without an outcome', () => {
    it('a key ending in / that has content gets an outcome of its own', async () => {
      const key = 'markers/with-content/';
      const staged = await stageJob(rig(), prepare(), key, photo('chelsea.png'));
      await generated(generate(), staged.jobRecord);
      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.source.key).to.equal(key);
      expect(manifest.outcome).to.equal('succeeded');
    });

    it('a staged edges.png that disappeared still ends with a manifest (and no dead letter)', async () => {
      const key = 'missing/edges.jpg';
      const staged = await stageJob(rig(), prepare(), key, photo('chelsea.png'));
      await rig().client.send(new DeleteObjectCommand({ Bucket: BUCKETS.staging, Key: `jobs/${staged.jobId}/edges.png` }));

      await generated(generate(), staged.jobRecord);

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outcome).to.equal('succeeded');
      expect(manifest.outputs.edges).to.equal(null);
    });

    it('Control Sketch, whose model input is the edge mask: a missing edges.png ends as error.json with its manifest', async () => {
      const key = 'missing/sketch-edges.png';
      const staged = await stageJob(rig(), prepareSketch, key, photo('coffee.png'));
      await rig().client.send(new DeleteObjectCommand({ Bucket: BUCKETS.staging, Key: `jobs/${staged.jobId}/edges.png` }));

      await generated(generateSketch, staged.jobRecord);

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outcome).to.equal('failed');
      expect(manifest.failure.reason).to.equal('SOURCE_MISSING');
    });
  });

  describe('the last receive of a queue message', () => {
    it('generate: a transient failure on the last receive publishes error.json RETRIES_EXHAUSTED with its manifest, and the message still fails (to the dead-letter queue)', async () => {
      const key = 'last/generate.jpg';
      const staged = await stageJob(rig(), prepare(), key, photo('chelsea.png'));
      rig().standIn.setFaults([{ kind: 'status', status: 503, times: Infinity }]);

      const early = await generate().invoke(sqsEventOf([staged.jobRecord], { receiveCount: 4 }));
      expect(early.ok, 'an earlier receive fails and leaves nothing').to.equal(false);
      expect(await folderOf(key)).to.deep.equal([]);

      const last = await generate().invoke(sqsEventOf([staged.jobRecord], { receiveCount: 5 }));
      expect(last.ok, 'the message fails, so SQS moves it to the dead-letter queue').to.equal(false);
      await rig().s3.idle();
      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outcome).to.equal('failed');
      const report = await rig().getJson(BUCKETS.output, outputKeys(key).error);
      expect(report).to.include({ reason: 'RETRIES_EXHAUSTED', stage: 'generate', attempts: 5 });
      expect(report.lastError).to.match(/^SERVICE_UNAVAILABLE: /);
      expect(report.message).to.include('dead-letter queue');

      // Redriven after the fault is gone: the message is received afresh and the pictures replace the report.
      rig().standIn.setFaults([]);
      await generated(generate(), staged.jobRecord);
      const redriven = await expectFolderMatchesManifest(key);
      expect(redriven.outcome).to.equal('succeeded');
    });

    it('prepare: a transient failure on the last receive leaves a rejected job, so the upload gets error.json RETRIES_EXHAUSTED from the prepare stage', async () => {
      const key = 'last/prepare.jpg';
      const upload = await rig().upload(key, photo('chelsea.png'));
      rig().s3.injectFault({ kind: 'InternalError', operation: 'GetObject', bucket: BUCKETS.input, key });
      const from = rig().records.length;

      const last = await prepare().invoke(sqsEventOf([upload], { receiveCount: 5 }));

      expect(last.ok).to.equal(false);
      rig().s3.clearFaults();
      const jobRecord = rig().records.slice(from).find((r) => r.s3.bucket.name === BUCKETS.staging && r.s3.object.key.endsWith('/job.json'))!;
      expect(jobRecord, 'a rejected job.json was staged').to.not.equal(undefined);
      await generated(generate(), jobRecord);
      const report = await rig().getJson(BUCKETS.output, outputKeys(key).error);
      expect(report).to.include({ reason: 'RETRIES_EXHAUSTED', stage: 'prepare', attempts: 5 });
      expect(report.lastError).to.match(/InternalError/);
    });
  });

  it('paces model calls: no execution starts calls faster than one per MIN_MODEL_CALL_MS, which makes the spend ceiling hold', async () => {
    const paced = rig().startFunction('generate', generateEnv({ MODEL_ID: SKETCH, MIN_MODEL_CALL_MS: '1500' }));
    const staged = await stageJob(rig(), prepareSketch, 'paced/two.png', photo('coffee.png'), { count: '3' });
    const started = performance.now();

    await generated(paced, staged.jobRecord);

    expect(performance.now() - started, 'three calls of at least 1.5 s each, one after the other').to.be.at.least(4500);
  });

  it("each job's folder shows itself: a contact sheet of photo, edge mask and results, the estimated cost, and that the stand-in answered", async () => {
    const key = 'shows/itself.png';
    const staged = await stageJob(rig(), prepareSketch, key, photo('coffee.png'), { count: '2' });

    await generated(generateSketch, staged.jobRecord);

    const manifest = await expectFolderMatchesManifest(key);
    expect(manifest.outputs.contactSheet).to.equal(outputKeys(key).contactSheet);
    const sheet = await sharp((await rig().get(BUCKETS.output, outputKeys(key).contactSheet))!).metadata();
    const { width, height } = staged.job.conditioning.size;
    const tile = Math.round((256 * width) / height);
    expect(sheet.height).to.equal(256 + 16);
    // Four tiles (photo, edge mask, two results) with 8 px around each.
    expect(sheet.width).to.be.within(4 * tile + 40 - 4, 4 * tile + 40 + 4);
    expect(manifest.estimatedCostUsd).to.equal(0.14);
    expect(manifest.standIn).to.equal(true);
    expect(manifest.standInNote).to.match(/stand-in, no model was called/);
  });
});
