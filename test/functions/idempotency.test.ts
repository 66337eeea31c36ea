/**
 * S3 delivers events at least once and Lambda retries failed invocations;
 * every model call costs money. Through the real bundles: one model call and
 * one set of outputs per upload, whatever arrives twice, every paid answer kept
 * beside its claim, and a hard cap on model calls per upload across retries.
 */
import type { S3EventRecord } from 'aws-lambda';
import { expect } from 'chai';
import { answerKey, claimKey, requestFingerprint } from '../../functions/core/claim';
import { decodeS3EventKey } from '../../functions/core/event';
import { outputKeys } from '../../functions/core/naming';
import { CONTENT_FILTER_TRIGGER } from '../../scripts/local/bedrock-standin';
import type { InvocationOutcome } from '../../scripts/local/lambda-host';
import { BUCKETS, describeOutcome, eventOf, generateEnv, jobResultsOf, transientErrorOf, resultsOf as loggedResults, stageJob, usePipelineRig, type Staged } from '../helpers/local-functions';
import { photo } from '../helpers/photos';


describe('exactly-once generation (claims in the staging bucket)', function () {
  this.timeout(60_000);
  const { rig, prepare, generate } = usePipelineRig();

  /** Upload → prepare → the record S3 emitted for job.json. */
  const stage = async (key: string, body: Uint8Array, metadata: Record<string, string> = {}): Promise<S3EventRecord> =>
    (await stageJob(rig(), prepare(), key, body, metadata)).jobRecord;
  const callsSince = (from: number) => rig().standIn.calls.slice(from);
  /** What generate did with the one job of an invocation, from its log. */
  const resultsOf = (outcome: InvocationOutcome) => loggedResults(rig(), outcome);
  const manifestOf = (key: string): Promise<any> => rig().getJson(BUCKETS.output, outputKeys(key).manifest);
  /** The claim of a staged job's request (model, picture, parameters). */
  const claimOf = (staged: Staged): string => claimKey(staged.jobId, requestFingerprint(staged.job, staged.job.modelId));
  /** How many times S3 announced a write of this output object since record `from`. */
  const writesSince = (from: number, key: string): number =>
    rig().records.slice(from).filter((r) => r.s3.bucket.name === BUCKETS.output && decodeS3EventKey(r.s3.object.key) === key).length;

  it('the same job event delivered twice, one after the other: one model call, outputs written once', async () => {
    const key = 'dup/seq.png';
    const staged = await stageJob(rig(), prepare(), key, photo('chelsea.png'));
    const before = rig().standIn.calls.length;
    const from = rig().records.length;

    const first = await generate().invoke(eventOf(staged.jobRecord));
    const manifest = await manifestOf(key);
    const second = await generate().invoke(eventOf(staged.jobRecord));
    await rig().s3.idle();

    expect(await resultsOf(first), describeOutcome(first)).to.deep.equal(['published']);
    // The duplicate takes the finished claim over, reads the kept answer and finds this outcome already published.
    expect(second.result, describeOutcome(second)).to.deep.equal({ batchItemFailures: [] });
    expect(await jobResultsOf(rig(), second)).to.deep.equal([{ jobId: staged.jobId, key, result: 'already-published' }]);
    expect(callsSince(before)).to.have.length(1);
    expect(await manifestOf(key)).to.deep.equal(manifest);
    const keys = outputKeys(key);
    for (const output of [keys.image(1), keys.contactSheet, keys.edges, keys.manifest]) expect(writesSince(from, output), output).to.equal(1);
    // The one answer (count 1 too) is kept beside the claim, which is done; both under claims/<jobId>/.
    const fingerprint = requestFingerprint(staged.job, staged.job.modelId);
    const claim = claimOf(staged);
    expect(await rig().list(BUCKETS.staging, `claims/${staged.jobId}/`)).to.deep.equal([
      `claims/${staged.jobId}/${fingerprint}.json`,
      `claims/${staged.jobId}/${fingerprint}/answer-0.json`,
    ]);
    expect(answerKey(claim, 0)).to.equal(`claims/${staged.jobId}/${fingerprint}/answer-0.json`);
    expect(await rig().getJson(BUCKETS.staging, claim)).to.include({ state: 'done', invocations: 2, modelCalls: 1 });
  });

  it('the same job event delivered twice at once: exactly one model call', async () => {
    const record = await stage('dup/together.png', photo('coffee.png'));
    const before = rig().standIn.calls.length;

    const from = rig().records.length;
    const outcomes = await Promise.all([generate().invoke(eventOf(record)), generate().invoke(eventOf(record))]);
    await rig().s3.idle();

    expect(outcomes.every((o) => o.ok), outcomes.map(describeOutcome).join('; ')).to.equal(true);
    const results = (await Promise.all(outcomes.map(resultsOf))).flat();
    expect(results.filter((r) => r === 'published'), results.join(', ')).to.have.length(1);
    // The other found the claim held ('duplicate'), or, if it came late, the outcome already published.
    expect(results.filter((r) => r !== 'published'), results.join(', ')).to.have.length(1).and.satisfy((rest: string[]) => ['duplicate', 'already-published'].includes(rest[0]!));
    expect(callsSince(before)).to.have.length(1);
    const keys = outputKeys('dup/together.png');
    expect(await rig().outputsOf('dup/together.png')).to.deep.equal([keys.image(1), keys.contactSheet, keys.edges, keys.manifest].sort());
    for (const output of [keys.image(1), keys.contactSheet, keys.edges, keys.manifest]) expect(writesSince(from, output), output).to.equal(1);
  });

  it('the same job event delivered again, several times at once, after its outcome was published: no model call, and no delivery fails', async () => {
    const key = 'dup/late-together.png';
    const staged = await stageJob(rig(), prepare(), key, photo('coffee.png'));
    const first = await generate().invoke(eventOf(staged.jobRecord));
    expect(await resultsOf(first), describeOutcome(first)).to.deep.equal(['published']);
    const manifest = await manifestOf(key);
    const before = rig().standIn.calls.length;

    // Warm environments first, so that the deliveries below really run at the same time.
    await Promise.all([1, 2, 3, 4].map(() => generate().invoke(eventOf(staged.jobRecord))));
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => generate().invoke(eventOf(staged.jobRecord))));

    // A duplicate is not an error: failing it would only make Lambda deliver it again.
    expect(outcomes.map((o) => o.ok), outcomes.map(describeOutcome).join('; ')).to.deep.equal([true, true, true, true]);
    const results = (await Promise.all(outcomes.map(resultsOf))).flat();
    expect(results.every((r) => r === 'duplicate' || r === 'already-published'), results.join(', ')).to.equal(true);
    expect(callsSince(before)).to.have.length(0);
    expect(await manifestOf(key)).to.deep.equal(manifest);
  });

  it('the same bytes uploaded again to the same key with the same settings: recognised, not billed again', async () => {
    const key = 'again/rocket.jpg';
    const first = await stageJob(rig(), prepare(), key, photo('rocket.jpg'), { prompt: 'a rocket' });
    expect(await resultsOf(await generate().invoke(eventOf(first.jobRecord)))).to.deep.equal(['published']);
    const picture = await rig().get(BUCKETS.output, outputKeys(key).image(1));
    const before = rig().standIn.calls.length;

    const again = await stageJob(rig(), prepare(), key, photo('rocket.jpg'), { prompt: 'a rocket' });
    const outcome = await generate().invoke(eventOf(again.jobRecord));

    // Same bytes, same settings: the same request, so the same claim…
    expect(again.jobId).to.equal(first.jobId);
    expect(claimOf(again)).to.equal(claimOf(first));
    expect(callsSince(before)).to.have.length(0);
    // …but a newer upload, which the folder now shows: published again from the kept answer.
    expect(await resultsOf(outcome), describeOutcome(outcome)).to.deep.equal(['published']);
    const manifest = await manifestOf(key);
    expect(manifest.source.sequencer).to.equal(again.upload.s3.object.sequencer).and.not.equal(first.upload.s3.object.sequencer);
    expect(manifest.calls.map((c: { kept: boolean }) => c.kept)).to.deep.equal([true]);
    expect(manifest.modelCalls).to.equal(1);
    expect((await rig().get(BUCKETS.output, outputKeys(key).image(1)))!.equals(picture!), 'the kept picture').to.equal(true);
  });

  it('the same bytes with a new prompt, and new bytes under the same key, are each processed', async () => {
    await generate().invoke(eventOf(await stage('changed/pic.png', photo('astronaut.png'), { prompt: 'an astronaut' })));
    const before = rig().standIn.calls.length;

    await generate().invoke(eventOf(await stage('changed/pic.png', photo('astronaut.png'), { prompt: 'an astronaut as a woodcut' })));
    await generate().invoke(eventOf(await stage('changed/pic.png', photo('coffee.png'), { prompt: 'an astronaut as a woodcut' })));

    const calls = callsSince(before);
    expect(calls).to.have.length(2);
    expect(calls.map((c) => (c.body as { textToImageParams: { text: string } }).textToImageParams.text)).to.deep.equal(['an astronaut as a woodcut', 'an astronaut as a woodcut']);
    const manifest = await manifestOf('changed/pic.png');
    expect(manifest.sizes.source).to.deep.equal({ width: 600, height: 400 });
  });

  it('reports an unreadable claim as INVALID_JOB without calling the model or retrying', async () => {
    const staged = await stageJob(rig(), prepare(), 'claims/garbled.png', photo('chelsea.png'));
    const key = claimKey(staged.jobId, requestFingerprint(staged.job, staged.job.modelId));
    await rig().put(BUCKETS.staging, key, 'not a claim');
    const before = rig().standIn.calls.length;

    const outcome = await generate().invoke(eventOf(staged.jobRecord));

    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(callsSince(before)).to.have.length(0);
    expect(await resultsOf(outcome)).to.deep.equal(['published']);
    expect(await rig().getJson(BUCKETS.output, outputKeys('claims/garbled.png').error)).to.include({ reason: 'INVALID_JOB', message: 'Claim file is not JSON', stage: 'generate' });
    expect((await manifestOf('claims/garbled.png')).outcome).to.equal('failed');
  });

  it('a retry after a transient failure takes the released claim over and finishes the job', async () => {
    const staged = await stageJob(rig(), prepare(), 'retry/ok.png', photo('chelsea.png'));
    const before = rig().standIn.calls.length;
    rig().standIn.setFaults([{ kind: 'status', status: 503, times: 3 }]);

    const first = await generate().invoke(eventOf(staged.jobRecord));
    const released = await rig().getJson(BUCKETS.staging, claimOf(staged));
    const retry = await generate().invoke(eventOf(staged.jobRecord));

    expect(first.ok, 'the first attempt fails after the SDK retries').to.equal(false);
    expect(first.error?.name, 'the message is handed back to the queue').to.equal('FullBatchFailureError');
    expect(await transientErrorOf(rig(), first)).to.match(/^PipelineError: .*ServiceUnavailableException/);
    expect(released).to.include({ state: 'released', invocations: 1, modelCalls: 3 });
    expect(retry.ok, describeOutcome(retry)).to.equal(true);
    expect(await resultsOf(retry)).to.deep.equal(['published']);
    expect(callsSince(before).map((c) => c.status)).to.deep.equal([503, 503, 503, 200]);
    const manifest = await manifestOf('retry/ok.png');
    expect(manifest.outcome).to.equal('succeeded');
    expect(manifest.modelCalls, 'the meter carried across invocations').to.equal(4);
    expect(await rig().getJson(BUCKETS.staging, claimOf(staged))).to.include({ state: 'done', invocations: 2, modelCalls: 4 });
  });

  it('a kept model failure: a Lambda retry of the same upload reads it (not billed twice), a re-upload of the same file calls the model again', async () => {
    const key = 'policy/model-error.png';
    const first = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'a cat (model error)' });
    const before = rig().standIn.calls.length;
    rig().standIn.setFaults([{ kind: 'inference-error', times: 1 }]);
    // The report cannot be written, so the invocation fails after the failed (paid) call was kept.
    const blocked = rig().s3.injectFault({ kind: 'SlowDown', operation: 'PutObject', bucket: BUCKETS.output, key: outputKeys(key).error });
    const failed = await generate().invoke(eventOf(first.jobRecord));
    blocked.remove();
    const retry = await generate().invoke(eventOf(first.jobRecord));

    expect(failed.ok, 'the error.json write failed').to.equal(false);
    expect(retry.ok, describeOutcome(retry)).to.equal(true);
    expect(callsSince(before).map((c) => c.status), 'the retry read the kept failure').to.deep.equal([424]);
    const reported = await manifestOf(key);
    expect(reported.outcome).to.equal('failed');
    expect(reported.failure.reason).to.equal('MODEL_ERROR');
    expect(reported.calls.map((c: { kept: boolean }) => c.kept)).to.deep.equal([true]);

    // The model's failure was not the upload's doing: the same file uploaded again is generated again.
    const again = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt: 'a cat (model error)' });
    expect(claimOf(again)).to.equal(claimOf(first));
    expect(await resultsOf(await generate().invoke(eventOf(again.jobRecord)))).to.deep.equal(['published']);
    expect(callsSince(before).map((c) => c.status)).to.deep.equal([424, 200]);
    const manifest = await manifestOf(key);
    expect(manifest.outcome).to.equal('succeeded');
    expect(manifest.calls.map((c: { kept: boolean }) => c.kept)).to.deep.equal([false]);
    expect(await rig().outputsOf(key)).to.deep.equal([outputKeys(key).image(1), outputKeys(key).contactSheet, outputKeys(key).edges, outputKeys(key).manifest].sort());
  });

  it('a kept content-filter block, which the upload caused: the same file uploaded again reads it instead of calling the model', async () => {
    const key = 'policy/filtered.png';
    const prompt = `a cat ${CONTENT_FILTER_TRIGGER}`;
    const first = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt });
    const before = rig().standIn.calls.length;
    expect(await resultsOf(await generate().invoke(eventOf(first.jobRecord)))).to.deep.equal(['published']);
    expect(callsSince(before)).to.have.length(1);

    const again = await stageJob(rig(), prepare(), key, photo('chelsea.png'), { prompt });
    expect(await resultsOf(await generate().invoke(eventOf(again.jobRecord)))).to.deep.equal(['published']);

    expect(callsSince(before), 'the same request would be blocked again').to.have.length(1);
    const manifest = await manifestOf(key);
    expect(manifest.source.sequencer).to.equal(again.upload.s3.object.sequencer);
    expect(manifest.failure.reason).to.equal('CONTENT_FILTERED');
    expect(manifest.calls.map((c: { kept: boolean }) => c.kept)).to.deep.equal([true]);
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
    expect(await resultsOf(outcomes[2]!)).to.deep.equal(['published']);
    expect(callsSince(before).length).to.equal(6).and.to.be.at.most(7);
    const error = await rig().getJson(BUCKETS.output, outputKeys('budget/endless.png').error);
    expect(error).to.include({ reason: 'CALL_BUDGET_EXHAUSTED', permanent: true });
    expect(error.message).to.equal('Stopped before another model call: 6 of at most 7 model calls for this upload are used (MAX_MODEL_CALLS_PER_JOB)');
  });
});
