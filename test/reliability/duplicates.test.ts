/**
 * At-least-once delivery through the whole local pipeline: S3 records
 * delivered again (one after the other, and at once), to prepare and to
 * generate, and the same bytes uploaded again. Exactly one model call and one
 * set of outputs (each output object written once) per upload, and one model
 * call per request (the same bytes and settings uploaded again read the kept
 * answer); a changed upload is processed; a late duplicate of a replaced
 * upload changes nothing.
 */
import { expect } from 'chai';
import type { S3EventRecord } from 'aws-lambda';
import { decodeS3EventKey } from '../../functions/core/event';
import { outputKeys } from '../../functions/core/naming';
import type { JobResult } from '../../functions/generate/handler';
import type { InvocationOutcome } from '../../scripts/local/lambda-host';
import { describeOutcomes, useHarness, type Harness } from './support';
import './summary';
import { jobResultsOf } from '../helpers/local-functions';
import { photo } from '../helpers/photos';


describe('reliability: duplicate events and re-uploads through the local pipeline', function () {
  this.timeout(60_000);
  const harness = useHarness('duplicates');

  /** How many times S3 announced a write of this output object: each write is one record. */
  const writesOf = (h: Harness, key: string): number =>
    h.records.filter((r) => r.s3.bucket.name === h.pipeline.buckets.output && decodeS3EventKey(r.s3.object.key) === key).length;
  const outputsOf = async (h: Harness, key: string): Promise<string[]> => (await h.pipeline.waitForOutcome(key)).keys.slice().sort();
  /** The per-job results of a generate invocation, from its log (its result is a partial batch response). */
  const resultsOf = (outcome: InvocationOutcome): Promise<{ jobId: string; result: JobResult }[]> => jobResultsOf(harness(), outcome);
  const summaryOf = async (outcomes: readonly InvocationOutcome[]): Promise<unknown[]> =>
    Promise.all(outcomes.map(async (o) => [o.ok, o.attempt, (await resultsOf(o)).map((job) => job.result)]));
  const oneSet = (key: string): string[] => {
    const keys = outputKeys(key);
    return [keys.image(1), keys.contactSheet, keys.edges, keys.manifest].sort();
  };

  /** Uploads and waits until the pipeline is quiet; returns the upload's record and its job file's record. */
  const uploadAndSettle = async (key: string, body: Buffer, prompt: string): Promise<{ upload: S3EventRecord; job: S3EventRecord; eTag: string }> => {
    const h = harness();
    const from = h.records.length;
    const eTag = await h.upload(key, body, { prompt });
    const upload = await h.waitForRecord(h.pipeline.buckets.input, key, from);
    await h.pipeline.waitForOutcome(key);
    await h.pipeline.idle();
    const job = h.records.slice(from).find((r) => r.s3.bucket.name === h.pipeline.buckets.staging && r.s3.object.key.endsWith('/job.json'))!;
    return { upload, job, eTag };
  };

  it('the same record delivered again, one after the other, to prepare and to generate: no second call, outputs written once', async () => {
    const h = harness();
    const key = 'dup/sequential.png';
    const prompt = 'a pencil sketch (sequential duplicates)';
    const { upload, job } = await uploadAndSettle(key, photo('chelsea.png'), prompt);
    const manifest = await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest);
    const generateFrom = h.pipeline.functions.generate!.outcomes.length;

    h.redeliver('prepare', upload);
    await h.pipeline.idle();
    h.redeliver('generate', job);
    await h.pipeline.idle();

    expect(h.callsFor(prompt)).to.have.length(1);
    // Prepare's rerun wrote job.json again (one generate delivery), then the job record itself came again:
    // each found the finished claim, read the kept answer and this upload's outcome already published.
    const later = h.pipeline.functions.generate!.outcomes.slice(generateFrom);
    expect(await summaryOf(later)).to.deep.equal([
      [true, 1, ['already-published']],
      [true, 1, ['already-published']],
    ]);
    expect(await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest)).to.deep.equal(manifest);
    expect(await outputsOf(h, key)).to.deep.equal(oneSet(key));
    for (const output of oneSet(key)) expect(writesOf(h, output), output).to.equal(1);
  });

  it('the same record delivered three times at once to prepare, and the job file three times at once to generate: exactly one call', async () => {
    const h = harness();
    const key = 'dup/together.png';
    const prompt = 'a pencil sketch (concurrent duplicates)';
    const from = h.records.length;
    await h.upload(key, photo('coffee.png'), { prompt });
    // S3's own delivery is already queued; two more at once.
    const upload = await h.waitForRecord(h.pipeline.buckets.input, key, from);
    h.redeliver('prepare', upload);
    h.redeliver('prepare', upload);
    // Each prepare run writes job.json, and each write is an event: two more for the first one, at once.
    const jobRecord = await new Promise<S3EventRecord>((resolve) => {
      const poll = (): void => {
        const found = h.records.slice(from).find((r) => r.s3.bucket.name === h.pipeline.buckets.staging && r.s3.object.key.endsWith('/job.json'));
        if (found) resolve(found);
        else setTimeout(poll, 2);
      };
      poll();
    });
    h.redeliver('generate', jobRecord);
    h.redeliver('generate', jobRecord);
    await h.pipeline.waitForOutcome(key);
    await h.pipeline.idle();

    const generate = h.pipeline.functions.generate!;
    const jobId = jobRecord.s3.object.key.split('/')[1]!;
    const results = (await Promise.all(generate.outcomes.map(resultsOf))).flat().filter((job) => job.jobId === jobId).map((job) => job.result);
    expect(h.callsFor(prompt), describeOutcomes(generate.outcomes)).to.have.length(1);
    expect(generate.outcomes.every((o) => o.ok && o.attempt === 1), describeOutcomes(generate.outcomes)).to.equal(true);
    const jobFileWrites = h.records.slice(from).filter((r) => r.s3.bucket.name === h.pipeline.buckets.staging && r.s3.object.key.endsWith('/job.json')).length;
    expect(jobFileWrites, 'three prepare runs, three job files').to.equal(3);
    // Five generate deliveries of this job (three job files, two redeliveries): one published it; every other
    // found it claimed ('duplicate') or, once it was done, already published.
    expect(results, results.join(', ')).to.have.length(5);
    expect(results.filter((r) => r === 'published'), results.join(', ')).to.have.length(1);
    expect(results.filter((r) => r !== 'published').every((r) => r === 'duplicate' || r === 'already-published'), results.join(', ')).to.equal(true);
    expect(await outputsOf(h, key)).to.deep.equal(oneSet(key));
    for (const output of oneSet(key)) expect(writesOf(h, output), output).to.equal(1);
  });

  it('the same bytes uploaded again to the same key with the same settings: recognised by the ETag, not billed again', async () => {
    const h = harness();
    const key = 'dup/again.jpg';
    const prompt = 'a pencil sketch (re-upload)';
    const first = await uploadAndSettle(key, photo('rocket.jpg'), prompt);
    const manifest = await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest);

    const second = await uploadAndSettle(key, photo('rocket.jpg'), prompt);

    expect(second.eTag).to.equal(first.eTag);
    expect(h.callsFor(prompt)).to.have.length(1);
    // The newer upload is what the folder shows now, published from the kept answer: the same pictures, unpaid.
    const republished = await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest);
    expect(republished.source.sequencer).to.equal(second.upload.s3.object.sequencer).and.not.equal(manifest.source.sequencer);
    expect(republished.outputs).to.deep.equal(manifest.outputs);
    expect(republished.parameters).to.deep.equal(manifest.parameters);
    expect(republished.calls.map((c: { kept: boolean }) => c.kept)).to.deep.equal([true]);
    expect(await outputsOf(h, key)).to.deep.equal(oneSet(key));
    // One set of outputs per upload: each object written once for each of the two.
    for (const output of oneSet(key)) expect(writesOf(h, output), output).to.equal(2);
  });

  it('a changed upload under the same key is processed, and so are the same bytes with a new prompt', async () => {
    const h = harness();
    const key = 'dup/changed.png';
    const prompt = 'a pencil sketch (changed)';
    const first = await uploadAndSettle(key, photo('astronaut.png'), prompt);
    const changed = await uploadAndSettle(key, photo('coffee.png'), prompt);
    const reprompted = await uploadAndSettle(key, photo('coffee.png'), `${prompt}, as a woodcut`);

    expect(changed.eTag).to.not.equal(first.eTag);
    expect(reprompted.eTag).to.equal(changed.eTag);
    expect(h.callsFor(prompt)).to.have.length(2);
    expect(h.callsFor(`${prompt}, as a woodcut`)).to.have.length(1);
    const manifest = await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest);
    expect(manifest.source.eTag).to.equal(changed.eTag);
    expect(manifest.prompt).to.equal(`${prompt}, as a woodcut`);
    expect(await outputsOf(h, key)).to.deep.equal(oneSet(key));
  });

  it('a late duplicate of a replaced upload changes nothing: prepare sees the ETag moved on and stops, generate finds it superseded', async () => {
    const h = harness();
    const key = 'dup/late.png';
    const prompt = 'a pencil sketch (late duplicate)';
    const old = await uploadAndSettle(key, photo('chelsea.png'), prompt);
    await uploadAndSettle(key, photo('astronaut.png'), prompt);
    const manifest = await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest);
    const prepareFrom = h.pipeline.functions.prepare!.outcomes.length;
    const generateFrom = h.pipeline.functions.generate!.outcomes.length;
    const outputsFrom = h.records.length;

    h.redeliver('prepare', old.upload);
    await h.pipeline.idle();
    h.redeliver('generate', old.job);
    await h.pipeline.idle();

    expect(h.callsFor(prompt)).to.have.length(2);
    const late = h.pipeline.functions.prepare!.outcomes.slice(prepareFrom);
    expect(late.map((o) => [o.ok, o.attempt, o.result])).to.deep.equal([[true, 1, { batchItemFailures: [] }]]);
    const lateJob = h.pipeline.functions.generate!.outcomes.slice(generateFrom);
    expect(await summaryOf(lateJob)).to.deep.equal([[true, 1, ['superseded']]]);
    expect(await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest)).to.deep.equal(manifest);
    expect(manifest.source.eTag).to.not.equal(old.eTag);
    expect(h.records.slice(outputsFrom).filter((r) => r.s3.bucket.name === h.pipeline.buckets.output), 'output objects written').to.deep.equal([]);
    expect(h.records.slice(outputsFrom).filter((r) => r.s3.bucket.name === h.pipeline.buckets.staging), 'prepare stopped at the moved ETag: no job file, no claim').to.deep.equal([]);
    expect(outputKeys(key).folder).to.equal('dup/late.png/');
  });

  it('nothing was retried or dead-lettered, and no request was billed twice', () => {
    const h = harness();
    const all = [...h.pipeline.functions.prepare!.outcomes, ...h.pipeline.functions.generate!.outcomes];
    expect(all.every((o) => o.ok && o.attempt === 1), describeOutcomes(all)).to.equal(true);
    expect(h.deadLetters()).to.deep.equal([]);
  });
});
