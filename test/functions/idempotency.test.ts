/**
 * S3 delivers events at least once and Lambda retries failed invocations;
 * every model call costs money. Through the real bundles: one model call and
 * one set of outputs per upload, whatever arrives twice, and a hard cap on
 * model calls per upload across retries.
 */
import type { S3EventRecord } from 'aws-lambda';
import { expect } from 'chai';
import { claimKey, requestFingerprint } from '../../functions/core/claim';
import type { LocalFunction } from '../../scripts/local/lambda-host';
import { BUCKETS, describeOutcome, eventOf, generateEnv, prepareEnv, stageJob, useRig } from '../helpers/local-functions';
import { photo } from '../helpers/photos';


describe('exactly-once generation (claims in the staging bucket)', function () {
  this.timeout(60_000);
  const rig = useRig({ standIn: { answerRetiredModels: true } });
  let prepare: LocalFunction;
  let generate: LocalFunction;

  before(() => {
    prepare = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'a pencil drawing' }));
    generate = rig().startFunction('generate', generateEnv());
  });
  afterEach(() => rig().standIn.setFaults([]));

  /** Upload → prepare → the record S3 emitted for job.json. */
  const stage = async (key: string, body: Uint8Array, metadata: Record<string, string> = {}): Promise<S3EventRecord> =>
    (await stageJob(rig(), prepare, key, body, metadata)).jobRecord;
  const callsSince = (from: number) => rig().standIn.calls.slice(from);

  it('the same job event delivered twice, one after the other: one model call, outputs written once', async () => {
    const record = await stage('dup/seq.png', photo('chelsea.png'));
    const before = rig().standIn.calls.length;

    const first = await generate.invoke(eventOf(record));
    const manifest = await rig().getJson(BUCKETS.output, 'dup/seq/manifest.json');
    const second = await generate.invoke(eventOf(record));

    expect(first.result).to.deep.include({ duplicates: [] });
    expect((second.result as { jobs: string[]; duplicates: string[] }).jobs).to.deep.equal([]);
    expect((second.result as { duplicates: string[] }).duplicates).to.have.length(1);
    expect(callsSince(before)).to.have.length(1);
    expect(await rig().getJson(BUCKETS.output, 'dup/seq/manifest.json')).to.deep.equal(manifest);
  });

  it('the same job event delivered twice at once: exactly one model call', async () => {
    const record = await stage('dup/together.png', photo('coffee.png'));
    const before = rig().standIn.calls.length;

    const outcomes = await Promise.all([generate.invoke(eventOf(record)), generate.invoke(eventOf(record))]);

    expect(outcomes.every((o) => o.ok), outcomes.map(describeOutcome).join('; ')).to.equal(true);
    const handled = outcomes.map((o) => (o.result as { jobs: string[] }).jobs.length);
    expect(handled.sort()).to.deep.equal([0, 1]);
    expect(callsSince(before)).to.have.length(1);
    expect(await rig().list(BUCKETS.output, 'dup/together/')).to.deep.equal(['dup/together/1.png', 'dup/together/edges.png', 'dup/together/manifest.json']);
  });

  it('the same bytes uploaded again to the same key with the same settings: recognised, not billed again', async () => {
    await generate.invoke(eventOf(await stage('again/rocket.jpg', photo('rocket.jpg'), { prompt: 'a rocket' })));
    const before = rig().standIn.calls.length;

    const outcome = await generate.invoke(eventOf(await stage('again/rocket.jpg', photo('rocket.jpg'), { prompt: 'a rocket' })));

    expect((outcome.result as { duplicates: string[] }).duplicates).to.have.length(1);
    expect(callsSince(before)).to.have.length(0);
  });

  it('the same bytes with a new prompt, and new bytes under the same key, are each processed', async () => {
    await generate.invoke(eventOf(await stage('changed/pic.png', photo('astronaut.png'), { prompt: 'an astronaut' })));
    const before = rig().standIn.calls.length;

    await generate.invoke(eventOf(await stage('changed/pic.png', photo('astronaut.png'), { prompt: 'an astronaut as a woodcut' })));
    await generate.invoke(eventOf(await stage('changed/pic.png', photo('coffee.png'), { prompt: 'an astronaut as a woodcut' })));

    const calls = callsSince(before);
    expect(calls).to.have.length(2);
    expect(calls.map((c) => (c.body as { textToImageParams: { text: string } }).textToImageParams.text)).to.deep.equal(['an astronaut as a woodcut', 'an astronaut as a woodcut']);
    const manifest = await rig().getJson(BUCKETS.output, 'changed/pic/manifest.json');
    expect(manifest.sizes.source).to.deep.equal({ width: 600, height: 400 });
  });

  it('reports an unreadable claim as INVALID_JOB without calling the model or retrying', async () => {
    const staged = await stageJob(rig(), prepare, 'claims/garbled.png', photo('chelsea.png'));
    const key = claimKey(staged.jobId, requestFingerprint(staged.job, staged.job.modelId));
    await rig().put(BUCKETS.staging, key, 'not a claim');
    const before = rig().standIn.calls.length;

    const outcome = await generate.invoke(eventOf(staged.jobRecord));

    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(callsSince(before)).to.have.length(0);
    expect(await rig().getJson(BUCKETS.output, 'claims/garbled/error.json')).to.include({ reason: 'INVALID_JOB', message: 'Claim file is not JSON' });
  });

  it('a retry after a transient failure takes the released claim over and finishes the job', async () => {
    const record = await stage('retry/ok.png', photo('chelsea.png'));
    const before = rig().standIn.calls.length;
    rig().standIn.setFaults([{ kind: 'status', status: 503, times: 3 }]);

    const first = await generate.invoke(eventOf(record));
    const retry = await generate.invoke(eventOf(record));

    expect(first.ok, 'the first attempt fails after the SDK retries').to.equal(false);
    expect(first.error?.name).to.equal('PipelineError');
    expect(retry.ok, describeOutcome(retry)).to.equal(true);
    expect((retry.result as { jobs: string[] }).jobs).to.have.length(1);
    expect(callsSince(before).map((c) => c.status)).to.deep.equal([503, 503, 503, 200]);
    expect((await rig().getJson(BUCKETS.output, 'retry/ok/manifest.json')).outcome).to.equal('succeeded');
  });

  it('never spends more model calls on one upload than MAX_MODEL_CALLS_PER_JOB, then reports it', async () => {
    const capped = rig().startFunction('generate', generateEnv({ MODEL_MAX_ATTEMPTS: '3', MAX_MODEL_CALLS_PER_JOB: '7' }));
    const record = await stage('budget/endless.png', photo('coffee.png'));
    const before = rig().standIn.calls.length;
    rig().standIn.setFaults([{ kind: 'throttle', times: Infinity }]);

    // Lambda's first attempt and its two retries, all with the same event.
    const outcomes = [];
    for (let attempt = 0; attempt < 3; attempt++) outcomes.push(await capped.invoke(eventOf(record)));

    expect(outcomes.map((o) => o.ok)).to.deep.equal([false, false, true]);
    expect(callsSince(before).length).to.equal(6).and.to.be.at.most(7);
    const error = await rig().getJson(BUCKETS.output, 'budget/endless/error.json');
    expect(error).to.include({ reason: 'CALL_BUDGET_EXHAUSTED', permanent: true });
    expect(error.message).to.equal('Stopped before another model call: 6 of at most 7 model calls for this upload are used (MAX_MODEL_CALLS_PER_JOB)');
  });
});
