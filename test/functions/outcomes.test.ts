/**
 * "Every upload ends with one consistent outcome, paid for once", tried as a
 * hostile or simply busy user would: the built prepare and generate bundles, the
 * embedded S3 server (with its fault injection for failed writes) and the
 * Bedrock stand-in. Each test reproduces one way the pipeline used to lose
 * results or money.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import type { S3EventRecord } from 'aws-lambda';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import type { LocalFunction } from '../../scripts/local/lambda-host';
import { BUCKETS, describeOutcome, eventOf, generateEnv, prepareEnv, stageJob, useRig, type Staged } from '../helpers/local-functions';
import { photo } from '../helpers/photos';

const SKETCH = 'us.stability.stable-image-control-sketch-v1:0';

describe('consistent outcomes (built bundles, embedded S3, Bedrock stand-in)', function () {
  this.timeout(60_000);
  const rig = useRig({ standIn: { answerRetiredModels: true } });
  let prepare: LocalFunction;
  let generate: LocalFunction;
  let prepareSketch: LocalFunction;
  let generateSketch: LocalFunction;

  before(() => {
    prepare = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'a pencil drawing' }));
    generate = rig().startFunction('generate', generateEnv());
    prepareSketch = rig().startFunction('prepare', prepareEnv({ MODEL_ID: SKETCH, DEFAULT_PROMPT: 'a pencil drawing' }));
    generateSketch = rig().startFunction('generate', generateEnv({ MODEL_ID: SKETCH }));
  });

  afterEach(() => {
    rig().standIn.setFaults([]);
    rig().s3.clearFaults();
  });

  const folderOf = (key: string): Promise<string[]> => rig().list(BUCKETS.output, outputFolder(key)).then((keys) => keys.filter((k) => !k.slice(outputFolder(key).length).includes('/')));
  const manifestOf = (key: string): Promise<any> => rig().getJson(BUCKETS.output, outputKeys(key).manifest);
  const modelCalls = (): number => rig().standIn.calls.length;

  /** Invokes generate with a job's record and expects it to succeed; returns the job's result. */
  const generated = async (fn: LocalFunction, record: S3EventRecord): Promise<string> => {
    const outcome = await fn.invoke(eventOf(record));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    await rig().s3.idle();
    return (outcome.result as { jobs: { result: string }[] }).jobs[0]!.result;
  };

  /** The folder holds exactly what its manifest lists, plus the manifest. */
  const expectFolderMatchesManifest = async (key: string): Promise<any> => {
    const manifest = await manifestOf(key);
    const listed = [...manifest.outputs.images, manifest.outputs.edges, manifest.outputs.error].filter((k): k is string => k !== null);
    expect(await folderOf(key)).to.deep.equal([...listed, outputKeys(key).manifest].sort());
    if (manifest.outputs.error) expect(manifest.outputs.images).to.deep.equal([]);
    return manifest;
  };

  describe('one folder per input key', () => {
    it('tiger.jpg and tiger.png, a/b and a/b.png, each get a folder of their own, and neither touches the other', async () => {
      const keys = ['same/tiger.jpg', 'same/tiger.png', 'same/a/b', 'same/a/b.png'];
      for (const key of keys) {
        const staged = await stageJob(rig(), prepare, key, photo(key.endsWith('.png') ? 'coffee.png' : 'chelsea.png'), { prompt: key });
        expect(await generated(generate, staged.jobRecord)).to.equal('published');
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
        const staged = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: key.slice(0, 40) });
        expect(await generated(generate, staged.jobRecord)).to.equal('published');
      }
      expect((await manifestOf(long)).source.key).to.equal(long);
      expect((await manifestOf(crafted)).source.key).to.equal(crafted);
    });
  });

  describe('the folder shows the newest upload of its key', () => {
    it('an older upload whose generation finishes last does not overwrite the newer one', async () => {
      const key = 'race/cat.jpg';
      const older = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: 'the older upload' });
      const newer = await stageJob(rig(), prepare, key, photo('coffee.png'), { prompt: 'the newer upload' });

      expect(await generated(generate, newer.jobRecord)).to.equal('published');
      const calls = modelCalls();
      expect(await generated(generate, older.jobRecord)).to.equal('superseded');

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.source.eTag).to.equal(newer.job.source.eTag);
      expect(manifest.prompt).to.equal('the newer upload');
      expect(modelCalls(), 'the superseded job was not generated at all').to.equal(calls);
    });

    it('A, then B, then A again under one key shows A: the third upload publishes the kept answer without a model call', async () => {
      const key = 'aba/photo.jpg';
      const first = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: 'same settings' });
      expect(await generated(generate, first.jobRecord)).to.equal('published');
      const second = await stageJob(rig(), prepare, key, photo('coffee.png'), { prompt: 'same settings' });
      expect(await generated(generate, second.jobRecord)).to.equal('published');
      const calls = modelCalls();

      const third = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: 'same settings' });
      expect(third.jobId).to.equal(first.jobId);
      expect(await generated(generate, third.jobRecord)).to.equal('published');

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.source.eTag).to.equal(first.job.source.eTag);
      expect(manifest.source.sequencer).to.equal(third.job.source.sequencer);
      expect(manifest.calls[0].kept).to.equal(true);
      expect(modelCalls()).to.equal(calls);
    });

    it('a duplicate delivery of an older job after a newer one was published changes nothing', async () => {
      const key = 'dup-after/cat.jpg';
      const older = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: 'older' });
      expect(await generated(generate, older.jobRecord)).to.equal('published');
      const newer = await stageJob(rig(), prepare, key, photo('coffee.png'), { prompt: 'newer' });
      expect(await generated(generate, newer.jobRecord)).to.equal('published');

      expect(await generated(generate, older.jobRecord)).to.equal('superseded');
      expect((await manifestOf(key)).prompt).to.equal('newer');
    });
  });

  describe('no stale files beside a manifest', () => {
    it('count=3 then count=1 on one key leaves only 1.png', async () => {
      const key = 'stale/count.jpg';
      const three = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: 'three', count: '3' });
      expect(await generated(generate, three.jobRecord)).to.equal('published');
      expect((await manifestOf(key)).outputs.images).to.have.length(3);

      const one = await stageJob(rig(), prepare, key, photo('chelsea.png'), { prompt: 'one', count: '1' });
      expect(await generated(generate, one.jobRecord)).to.equal('published');

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outputs.images).to.deep.equal([outputKeys(key).image(1)]);
      expect(await folderOf(key)).to.not.include(outputKeys(key).image(2));
    });

    it('a success followed by a rejected re-upload leaves error.json and the manifest only: no pictures, no edge mask', async () => {
      const key = 'stale/rejected.jpg';
      const good = await stageJob(rig(), prepare, key, photo('chelsea.png'));
      expect(await generated(generate, good.jobRecord)).to.equal('published');

      const bad = await stageJob(rig(), prepare, key, 'this is not a picture');
      expect(bad.job.status).to.equal('rejected');
      expect(await generated(generate, bad.jobRecord)).to.equal('published');

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
      const staged = await stageJob(rig(), prepare, 'paid/slowdown.jpg', photo('chelsea.png'));
      const manifest = await failsThenPublishes(generate, staged, () => {
        rig().s3.injectFault({ kind: 'SlowDown', operation: 'PutObject', bucket: BUCKETS.output, key: /\/1\.png$/ });
      });
      expect(manifest.outcome).to.equal('succeeded');
      expect(manifest.calls[0].kept).to.equal(true);
    });

    it('count=1: the output bucket does not answer at all (connections reset)', async () => {
      const staged = await stageJob(rig(), prepare, 'paid/unavailable.jpg', photo('chelsea.png'));
      const manifest = await failsThenPublishes(generate, staged, () => {
        rig().s3.injectFault({ kind: 'reset', bucket: BUCKETS.output });
      });
      expect(manifest.outcome).to.equal('succeeded');
    });

    it("the claim's final update fails after the outcome was published", async () => {
      const staged = await stageJob(rig(), prepare, 'paid/claim-done.jpg', photo('chelsea.png'));
      const claimKey = new RegExp(`^claims/${staged.jobId}/[0-9a-f]+\\.json$`);
      await failsThenPublishes(generate, staged, () => {
        // Let the claim's creation and its metering through, then fail every attempt of the "done" update.
        rig().s3.injectFault({ kind: 'InternalError', operation: 'PutObject', bucket: BUCKETS.staging, key: claimKey, after: 2, times: 3 });
      });
    });

    it('the error.json PUT fails after a content-filter block: the retry reports the kept block', async () => {
      const staged = await stageJob(rig(), prepare, 'paid/filtered.jpg', photo('chelsea.png'), { prompt: 'standin-blocked tiger' });
      const manifest = await failsThenPublishes(generate, staged, () => {
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

      expect(await generated(generateSketch, staged.jobRecord)).to.equal('published');

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
      const staged = await stageJob(rig(), prepare, 'paid/timeout.jpg', photo('chelsea.png'));
      rig().standIn.setFaults([{ kind: 'delay', ms: 2500, times: 5 }]);
      const calls = modelCalls();

      const outcome = await impatient.invoke(eventOf(staged.jobRecord));

      expect(outcome.ok).to.equal(false);
      expect(outcome.error?.message).to.match(/SERVICE_UNAVAILABLE|TimeoutError|timed out/i);
      expect(modelCalls() - calls, 'one attempt, not the SDK default of three').to.equal(1);
    });
  });

  describe('no upload without an outcome', () => {
    it('a key ending in / that has content gets an outcome of its own', async () => {
      const key = 'markers/with-content/';
      const staged = await stageJob(rig(), prepare, key, photo('chelsea.png'));
      expect(await generated(generate, staged.jobRecord)).to.equal('published');
      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.source.key).to.equal(key);
      expect(manifest.outcome).to.equal('succeeded');
    });

    it('a staged edges.png that disappeared still ends with a manifest (and no dead letter)', async () => {
      const key = 'missing/edges.jpg';
      const staged = await stageJob(rig(), prepare, key, photo('chelsea.png'));
      await rig().client.send(new DeleteObjectCommand({ Bucket: BUCKETS.staging, Key: `jobs/${staged.jobId}/edges.png` }));

      expect(await generated(generate, staged.jobRecord)).to.equal('published');

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outcome).to.equal('succeeded');
      expect(manifest.outputs.edges).to.equal(null);
    });

    it('Control Sketch, whose model input is the edge mask: a missing edges.png ends as error.json with its manifest', async () => {
      const key = 'missing/sketch-edges.png';
      const staged = await stageJob(rig(), prepareSketch, key, photo('coffee.png'));
      await rig().client.send(new DeleteObjectCommand({ Bucket: BUCKETS.staging, Key: `jobs/${staged.jobId}/edges.png` }));

      expect(await generated(generateSketch, staged.jobRecord)).to.equal('published');

      const manifest = await expectFolderMatchesManifest(key);
      expect(manifest.outcome).to.equal('failed');
      expect(manifest.failure.reason).to.equal('SOURCE_MISSING');
    });
  });
});
