/**
 * A burst: 200 uploads at once through the whole local pipeline. Every upload
 * gets an outcome, each costs exactly one model call, and no more generate
 * invocations (hence model calls) run at once than generate's reserved
 * concurrency from the stack: the rest wait in Lambda's queue, not in
 * Bedrock's throttling.
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

  it(`gives ${UPLOADS} outcomes for ${UPLOADS} uploads, one model call each, never more generate invocations at once than its reserved concurrency`, async () => {
    const h = harness();
    const { prepare, generate } = h.pipeline.functions;
    const reserved = h.pipeline.wiring.functions.generate!.reservedConcurrency;
    expect(reserved, 'the stack sets reserved_concurrent_executions on generate').to.be.a('number').and.above(0);
    expect(generate!.concurrency).to.equal(reserved);
    const keys = Array.from({ length: UPLOADS }, (_, i) => `burst/${String(i).padStart(3, '0')}.png`);
    const bodies = await Promise.all(keys.map((_, i) => tile(i)));

    // Sampled independently of the host's own counter: model calls the stand-in is answering right now.
    let peakModelCalls = 0;
    let peakGenerate = 0;
    const sampler = setInterval(() => {
      peakModelCalls = Math.max(peakModelCalls, h.pipeline.standIn!.calls.filter((c) => c.status === null).length);
      peakGenerate = Math.max(peakGenerate, generate!.inFlight);
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
        `generate peak concurrency ${generate!.peakConcurrency} (sampled ${peakGenerate}) of ${reserved} reserved, peak model calls in flight ${peakModelCalls}; prepare peak ${prepare!.peakConcurrency}`,
    );

    expect(outcomes.map((o) => o.manifest.source.key)).to.deep.equal(keys);
    expect(results + errors).to.equal(UPLOADS);
    expect(results, outcomes.filter((o) => o.error).map((o) => `${o.prefix}: ${o.error!.reason} ${o.error!.message}`).join('\n')).to.equal(UPLOADS);
    expect(calls).to.have.length(UPLOADS);
    expect(calls.every((c) => c.status === 200)).to.equal(true);
    expect(duplicateSuccesses(calls)).to.equal(0);

    expect(generate!.peakConcurrency).to.be.at.most(reserved!);
    expect(peakGenerate).to.be.at.most(reserved!);
    expect(peakModelCalls, 'model calls in flight at once (one per job with count 1)').to.be.at.most(reserved!);
    // The bound was reached, so it was actually tested.
    expect(generate!.peakConcurrency).to.equal(reserved);

    const all = [...prepare!.outcomes, ...generate!.outcomes];
    expect(all).to.have.length(2 * UPLOADS);
    expect(all.every((o) => o.ok && o.attempt === 1), describeOutcomes(all)).to.equal(true);
    expect(h.deadLetters()).to.deep.equal([]);
  });
});
