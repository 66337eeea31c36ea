/**
 * A burst: 200 uploads at once through the whole local pipeline. Every upload
 * gets an outcome, each costs exactly one model call, and no more generate
 * invocations (hence model calls) run at once than the maximum concurrency of
 * generate's event source mapping from the stack (max_model_calls_in_flight):
 * the rest wait in the generate queue, not in Bedrock's throttling.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { describeOutcomes, duplicateSuccesses, useHarness } from './support';
import './summary';

const UPLOADS = 200;

/** A small 96×64 picture per index: two colours split by a diagonal, so each has edges and its own bytes. */
const tile = (i: number): Promise<Buffer> => {
  const width = 96;
  const height = 64;
  const data = Buffer.alloc(width * height * 3);
  const a = [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256];
  const b = [255 - a[0]!, 255 - a[1]!, (a[2]! + 128) % 256];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = x + ((i % 7) - 3) * 4 > y * 1.5 ? a : b;
      data.set(colour, (y * width + x) * 3);
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
};

describe(`reliability: a burst of ${UPLOADS} uploads at once`, function () {
  this.timeout(120_000);
  const harness = useHarness('burst');

  it(`gives ${UPLOADS} outcomes for ${UPLOADS} uploads, one model call each, never more generate invocations at once than its queue's maximum concurrency`, async () => {
    const h = harness();
    const { prepare, generate } = h.pipeline.functions;
    const mapping = h.pipeline.mappings.generate!;
    const cap = h.pipeline.wiring.eventSourceMappings.find((m) => m.functionId === 'generate')!.maximumConcurrency!;
    expect(cap, "the stack sets scaling_config.maximum_concurrency on generate's mapping").to.be.a('number').and.above(1);
    expect(mapping.maximumConcurrency).to.equal(cap);
    const keys = Array.from({ length: UPLOADS }, (_, i) => `burst/${String(i).padStart(3, '0')}.png`);
    const bodies = await Promise.all(keys.map((_, i) => tile(i)));

    // Sampled independently of the host's own counter: model calls the stand-in is answering right now.
    let peakModelCalls = 0;
    let peakGenerate = 0;
    const sampler = setInterval(() => {
      peakModelCalls = Math.max(peakModelCalls, h.pipeline.standIn!.calls.filter((c) => c.status === null).length);
      peakGenerate = Math.max(peakGenerate, mapping.inFlight);
    }, 2);
    const started = Date.now();
    let outcomes;
    try {
      await Promise.all(keys.map((key, i) => h.upload(key, bodies[i]!, { prompt: 'a pencil sketch of two colours' })));
      outcomes = await Promise.all(keys.map((key) => h.pipeline.waitForOutcome(key, 110_000)));
      await h.pipeline.idle();
    } finally {
      clearInterval(sampler);
    }
    const ms = Date.now() - started;

    const results = outcomes.filter((o) => o.manifest.outcome === 'succeeded' && !o.error).length;
    const errors = outcomes.filter((o) => o.error).length;
    const calls = h.pipeline.standIn!.calls;
    console.log(
      `      ${UPLOADS} uploads → ${results} results + ${errors} error reports in ${ms} ms; ${calls.length} model calls; ` +
        `generate peak concurrency ${mapping.peakConcurrency} (sampled ${peakGenerate}) of ${cap} allowed, peak model calls in flight ${peakModelCalls}; prepare peak ${prepare!.peakConcurrency}`,
    );

    expect(outcomes.map((o) => o.manifest.source.key)).to.deep.equal(keys);
    expect(results + errors).to.equal(UPLOADS);
    expect(results, outcomes.filter((o) => o.error).map((o) => `${o.prefix}: ${o.error!.reason} ${o.error!.message}`).join('\n')).to.equal(UPLOADS);
    expect(calls).to.have.length(UPLOADS);
    expect(calls.every((c) => c.status === 200)).to.equal(true);
    expect(duplicateSuccesses(calls)).to.equal(0);

    expect(mapping.peakConcurrency).to.be.at.most(cap);
    expect(peakGenerate).to.be.at.most(cap);
    expect(peakModelCalls, 'model calls in flight at once (one per job with count 1)').to.be.at.most(cap);
    // The bound was reached, so it was actually tested.
    expect(mapping.peakConcurrency).to.equal(cap);

    // prepare's mapping hands it up to five uploads a batch; generate's one job file (and S3's test message at start).
    const all = [...prepare!.outcomes, ...generate!.outcomes];
    expect(prepare!.outcomes.length).to.be.within(UPLOADS / 5, UPLOADS + 1);
    expect(generate!.outcomes.length).to.be.within(UPLOADS, UPLOADS + 1);
    expect(all.every((o) => o.ok && o.attempt === 1), describeOutcomes(all)).to.equal(true);
    expect(h.deadLetters()).to.deep.equal([]);
  });
});
