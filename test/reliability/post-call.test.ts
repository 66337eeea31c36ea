/**
 * Failures after the model answered, through the whole local pipeline on its
 * queues: an S3 write that fails after a paid answer fails the receive, the
 * message comes back after its visibility timeout, and the next receive must
 * publish the answer kept beside the claim instead of buying it again.
 * The visibility timeout (6 × generate's 300 s) runs at 1/200 of real time: 9 s.
 */
import { expect } from 'chai';
import { outputKeys } from '../../functions/core/naming';
import type { S3Fault } from '../../scripts/local/s3-server';
import { photo } from '../helpers/photos';
import { describeOutcomes, useHarness } from './support';
import { addToSummary } from './summary';

const PHOTO = photo('chelsea.png');

describe('reliability: failures after the model answered (queued pipeline)', function () {
  this.timeout(120_000);
  const harness = useHarness('post-call', { timeScale: 0.005 });
  let failures = 0;
  let duplicates = 0;

  before(async () => {
    await harness().pipeline.idle();
  });

  after(() => {
    addToSummary('post-call', { postCallFailures: failures, postCallDuplicateCalls: duplicates });
  });

  /** Uploads under `name` with `fault` armed for the output folder or the staging bucket; returns the manifest and the model's answers. */
  const run = async (name: string, fault: (key: string) => S3Fault, metadata: Record<string, string> = {}) => {
    const h = harness();
    const key = `post-call/${name}.png`;
    const prompt = metadata.prompt ?? `a pencil sketch (${name})`;
    const handle = h.pipeline.s3.injectFault(fault(key));
    const from = h.pipeline.functions.generate!.outcomes.length;
    try {
      const eTag = await h.upload(key, PHOTO, { ...metadata, prompt });
      await h.pipeline.idle();
      const answered = h.callsFor(prompt).filter((c) => c.status === 200 || c.status === 400);
      failures += handle.fired;
      duplicates += Math.max(0, answered.length - 1);
      const generate = h.pipeline.functions.generate!.outcomes.slice(from);
      return { key, eTag, handle, answered, generate, manifest: await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest), files: await h.outputsOf(key) };
    } finally {
      handle.remove();
    }
  };

  const expectOnePaidAnswerPublished = (r: Awaited<ReturnType<typeof run>>): void => {
    expect(r.handle.fired, 'the fault fired').to.be.greaterThan(0);
    expect(r.generate.map((o) => o.ok), describeOutcomes(r.generate)).to.deep.equal([false, true]);
    expect(r.answered, 'one answer from the model, published on the next receive').to.have.length(1);
    expect(r.manifest?.source.eTag).to.equal(r.eTag);
    const outputs = r.manifest.outputs;
    const listed = [...outputs.images, outputs.edges, outputs.contactSheet, outputs.error, outputKeys(r.key).manifest].filter((k: string | null) => k !== null).sort();
    expect(r.files).to.deep.equal(listed);
  };

  it("the picture's output PUT answers 503 SlowDown on every SDK attempt", async () => {
    const r = await run('slowdown', (key) => ({ kind: 'SlowDown', operation: 'PutObject', bucket: harness().pipeline.buckets.output, key: outputKeys(key).image(1), times: 3 }));
    expectOnePaidAnswerPublished(r);
    expect(r.manifest.outcome).to.equal('succeeded');
    expect(r.manifest.calls[0].kept).to.equal(true);
  });

  it('the output bucket does not answer (connections reset) for a while', async () => {
    const r = await run('unreachable', () => ({ kind: 'reset', bucket: harness().pipeline.buckets.output, times: 4 }));
    expectOnePaidAnswerPublished(r);
    expect(r.manifest.outcome).to.equal('succeeded');
  });

  it("the claim's last update fails after the folder was published", async () => {
    // The claim is written three times before the outcome (create, meter before the call) and once after ("done").
    const r = await run('claim-done', () => ({ kind: 'InternalError', operation: 'PutObject', bucket: harness().pipeline.buckets.staging, key: /^claims\/[0-9a-f]{32}\/[0-9a-f]{24}\.json$/, after: 2, times: 3 }));
    expectOnePaidAnswerPublished(r);
  });

  it("error.json's PUT fails after a content-filter block: the kept block is reported, the model is not asked again", async () => {
    const r = await run('filtered', (key) => ({ kind: 'SlowDown', operation: 'PutObject', bucket: harness().pipeline.buckets.output, key: outputKeys(key).error, times: 3 }), {
      prompt: 'standin-blocked (post-call)',
    });
    expectOnePaidAnswerPublished(r);
    expect(r.manifest.outcome).to.equal('failed');
    expect(r.manifest.failure.reason).to.equal('CONTENT_FILTERED');
  });
});
