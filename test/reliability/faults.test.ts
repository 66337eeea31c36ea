/**
 * The fault matrix through the whole local pipeline: faults injected in the
 * Bedrock stand-in, retried (or not) by the bundles' real SDK client with its
 * configured standard retry strategy, then by the queue: a failed message is
 * received again after its visibility timeout, up to max_receive_count times,
 * then moved to the dead-letter queue.
 *
 * The stack's generate_timeout_s is set to 35 so that REQUEST_TIMEOUT_MS, which
 * the stack derives from it ((35 − 30) · 1000), is 5 s: a stand-in answer
 * delayed 6 s is then slower than the request timeout. The visibility timeout
 * (6 × 35 s) runs at a twentieth of real time, 10.5 s: still longer than any
 * invocation here, as the real one is longer than the function's timeout. The
 * functions' pacing of model calls is off: these tests count calls, not time.
 */
import { expect } from 'chai';
import { jobIdFor } from '../../functions/core/job';
import { outputKeys } from '../../functions/core/naming';
import type { Fault, RecordedCall } from '../../scripts/local/bedrock-standin';
import type { InvocationOutcome } from '../../scripts/local/lambda-host';
import { describeOutcomes, useHarness, type DeadLetter } from './support';
import './summary';
import { photo } from '../helpers/photos';

const PHOTO = photo('chelsea.png');

interface Run {
  readonly key: string;
  /** Pictures asked for: one-image models (Stability) make one call per picture. */
  readonly count: number;
  readonly eTag: string;
  readonly calls: RecordedCall[];
  /** When each call arrived, ms after the upload. */
  readonly arrivals: number[];
  readonly generate: InvocationOutcome[];
  readonly prepare: InvocationOutcome[];
  readonly deadLetters: DeadLetter[];
  readonly manifest?: any;
  readonly error?: any;
  /** The files of the key's output folder. */
  readonly outputs: string[];
  readonly ms: number;
}

describe('reliability: faults injected in the model endpoint', function () {
  this.timeout(120_000);
  const harness = useHarness('faults', { variables: { generate_timeout_s: 35, model_call_min_seconds: 0 }, timeScale: 0.05 });
  let config: ReturnType<ReturnType<typeof harness>['generateConfig']>;
  const runs: Run[] = [];

  before(async () => {
    config = harness().generateConfig();
    // S3's test message for each notification is the first thing the queues deliver: let it pass first.
    await harness().pipeline.idle();
  });

  /** Uploads a picture with its own prompt under `faults`, waits until everything is quiet, and collects what happened. */
  const run = async (name: string, faults: Fault[], metadata: Record<string, string> = {}): Promise<Run> => {
    const h = harness();
    const { standIn, functions } = h.pipeline;
    const prompt = `a pencil sketch (${name})`;
    const key = `faults/${name}.png`;
    const from = { generate: functions.generate!.outcomes.length, prepare: functions.prepare!.outcomes.length, dead: h.deadLetters().length, records: h.records.length };
    standIn!.setFaults(faults);
    const started = Date.now();
    // The stand-in records no times: note when each of this job's calls shows up.
    const arrivals: number[] = [];
    const clock = setInterval(() => {
      while (arrivals.length < h.callsFor(prompt).length) arrivals.push(Date.now() - started);
    }, 5);
    try {
      const eTag = await h.upload(key, PHOTO, { ...metadata, prompt });
      await h.waitForRecord(h.pipeline.buckets.input, key, from.records);
      await h.pipeline.idle();
      // An abandoned (timed-out) call is answered only when its delay is over.
      const deadline = Date.now() + 10_000;
      while (h.callsFor(prompt).some((c) => c.status === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const keys = outputKeys(key);
      const result: Run = {
        key,
        count: Number(metadata.count ?? 1),
        eTag,
        calls: h.callsFor(prompt),
        arrivals: [...arrivals],
        generate: functions.generate!.outcomes.slice(from.generate),
        prepare: functions.prepare!.outcomes.slice(from.prepare),
        deadLetters: h.deadLetters().slice(from.dead),
        manifest: await h.getJson(h.pipeline.buckets.output, keys.manifest),
        error: await h.getJson(h.pipeline.buckets.output, keys.error),
        outputs: await h.outputsOf(key),
        ms: Date.now() - started,
      };
      runs.push(result);
      return result;
    } finally {
      clearInterval(clock);
      standIn!.setFaults([]);
    }
  };

  const statuses = (r: Run): (number | null)[] => r.calls.map((c) => c.status);
  const succeededFirstTime = (r: Run): void => {
    expect(r.manifest?.outcome, describeOutcomes(r.generate)).to.equal('succeeded');
    expect(r.error).to.equal(undefined);
    expect(r.generate.map((o) => [o.ok, o.attempt])).to.deep.equal([[true, 1]]);
    expect(r.deadLetters).to.deep.equal([]);
  };
  const failedPermanently = (r: Run, reason: string): void => {
    expect(r.error, describeOutcomes(r.generate)).to.include({ reason, permanent: true, stage: 'generate' });
    expect(r.manifest?.outcome).to.equal('failed');
    // A failed outcome is error.json and the manifest, nothing else: no pictures, and no edge mask any more.
    const keys = outputKeys(r.key);
    expect(r.manifest?.outputs).to.deep.equal({ images: [], edges: null, contactSheet: null, error: keys.error });
    expect(r.outputs).to.deep.equal([keys.error, keys.manifest].sort());
    // Handled, not thrown: one receive, no redelivery, no dead letter.
    expect(r.generate.map((o) => [o.ok, o.attempt])).to.deep.equal([[true, 1]]);
    expect(r.deadLetters).to.deep.equal([]);
  };

  it('reads the configuration under test from the stack', () => {
    console.log(`      model: ${config.modelId} (${config.adapter.family})`);
    expect(config.requestTimeoutMs, 'REQUEST_TIMEOUT_MS = (generate_timeout_s − 30) · 1000').to.equal(5000);
    expect(config.modelMaxAttempts).to.equal(3);
    expect(config.maxModelCallsPerJob).to.equal(15);
    expect(config.maxReceiveCount).to.equal(5);
  });

  it('throttled for the first 2 calls (fewer than the SDK attempts): the SDK retries, the job succeeds with 3 calls', async () => {
    const r = await run('throttle-2', [{ kind: 'throttle', times: 2 }]);
    expect(statuses(r)).to.deep.equal([429, 429, 200]);
    succeededFirstTime(r);
  });

  it('throttled for as many calls as the SDK attempts (3): the message\'s next receive takes the job over and succeeds, 4 calls in all', async () => {
    const r = await run('throttle-3', [{ kind: 'throttle', times: 3 }]);
    expect(statuses(r)).to.deep.equal([429, 429, 429, 200]);
    expect(r.generate.map((o) => [o.ok, o.attempt])).to.deep.equal([
      [false, 1],
      [true, 2],
    ]);
    expect(r.manifest?.outcome).to.equal('succeeded');
    expect(r.deadLetters).to.deep.equal([]);
  });

  it('throttled with Retry-After: 1 — the SDK waits at least that long before its retry', async () => {
    const r = await run('retry-after', [{ kind: 'throttle', times: 1, retryAfterSeconds: 1 }]);
    expect(statuses(r)).to.deep.equal([429, 200]);
    expect(r.arrivals[1]! - r.arrivals[0]!, `arrivals ${r.arrivals}`).to.be.at.least(900);
    succeededFirstTime(r);
  });

  for (const status of [500, 503] as const) {
    it(`${status} twice: transient, retried by the SDK within its ${3} attempts, the job succeeds`, async () => {
      const r = await run(`status-${status}`, [{ kind: 'status', status, times: 2 }]);
      expect(statuses(r)).to.deep.equal([status, status, 200]);
      expect(r.calls.length).to.be.at.most(config.modelMaxAttempts);
      succeededFirstTime(r);
    });
  }

  it('an answer slower than the request timeout: TimeoutError, not retried by the SDK (it may be billed), the next receive makes the call again and succeeds', async () => {
    const r = await run('slow', [{ kind: 'delay', ms: 6000, times: 1 }]);
    expect(r.calls).to.have.length(2);
    expect(r.calls[0]!.delivered, 'the client stopped waiting for the first answer').to.equal(false);
    expect(r.calls[1]).to.include({ status: 200, delivered: true });
    // The SDK gave up on the first call at the 5 s request timeout without a second attempt; the next delivery made it.
    expect(r.generate.map((o) => [o.ok, o.attempt]), describeOutcomes(r.generate)).to.deep.equal([
      [false, 1],
      [true, 2],
    ]);
    expect(r.arrivals[1]!, 'the retry went out after the 5 s request timeout and the (compressed) visibility timeout').to.be.at.least(5000);
    expect(r.manifest?.outcome).to.equal('succeeded');
    expect(r.manifest?.modelCalls, 'both calls are on the meter').to.equal(2);
    expect(r.deadLetters).to.deep.equal([]);
  });

  it('ModelTimeoutException (408), which the SDK does not retry: transient for the pipeline, so the message is received again', async () => {
    const r = await run('model-timeout', [{ kind: 'status', status: 408, times: 1 }]);
    expect(statuses(r)).to.deep.equal([408, 200]);
    expect(r.generate.map((o) => [o.ok, o.attempt])).to.deep.equal([
      [false, 1],
      [true, 2],
    ]);
    expect(r.manifest?.outcome).to.equal('succeeded');
    expect(r.deadLetters).to.deep.equal([]);
  });

  it('content-filter block: permanent — 1 call, no retry, error.json CONTENT_FILTERED', async () => {
    const r = await run('content-filter', [{ kind: 'content-filter', times: Infinity }]);
    // Titan and Nova say it with a 400 ValidationException, Stability with a 200 whose finish reason names the filter.
    expect(statuses(r)).to.deep.equal([config.adapter.family === 'stability' ? 200 : 400]);
    expect(r.calls.map((c) => c.fault)).to.deep.equal(['content-filter']);
    failedPermanently(r, 'CONTENT_FILTERED');
  });

  it('end of life: permanent — 1 call, no retry, error.json MODEL_UNAVAILABLE', async () => {
    const r = await run('end-of-life', [{ kind: 'end-of-life', times: Infinity }]);
    expect(statuses(r)).to.deep.equal([404]);
    failedPermanently(r, 'MODEL_UNAVAILABLE');
  });

  it('the model fails while generating (ModelErrorException, or Stability\'s "Inference error"): permanent — 1 call, error.json MODEL_ERROR', async () => {
    const r = await run('inference-error', [{ kind: 'inference-error', times: Infinity }]);
    // Titan and Nova: 424 ModelErrorException; Stability: a 200 with finish reason "Inference error".
    expect(statuses(r)).to.deep.equal([config.adapter.family === 'stability' ? 200 : 424]);
    expect(r.calls.map((c) => c.fault)).to.deep.equal(['inference-error']);
    failedPermanently(r, 'MODEL_ERROR');
  });

  it('access denied: permanent — 1 call, error.json ACCESS_DENIED; once access is granted, uploading the same file again is processed', async () => {
    const r = await run('access-denied', [{ kind: 'status', status: 403, times: Infinity }]);
    expect(statuses(r)).to.deep.equal([403]);
    failedPermanently(r, 'ACCESS_DENIED');

    // The operator grants model access (no fault any more); the user does what error.json suggests: upload again.
    const h = harness();
    const prompt = `a pencil sketch (access-denied)`;
    const from = { records: h.records.length, generate: h.pipeline.functions.generate!.outcomes.length };
    await h.upload(r.key, PHOTO, { prompt });
    await h.waitForRecord(h.pipeline.buckets.input, r.key, from.records);
    await h.pipeline.idle();
    const manifest = await h.getJson(h.pipeline.buckets.output, outputKeys(r.key).manifest);
    expect(
      manifest?.outcome,
      `the re-upload (same bytes, same settings) was dropped as a duplicate of the failed job: ${JSON.stringify(h.pipeline.functions.generate!.outcomes.slice(from.generate).map((o) => o.result))}`,
    ).to.equal('succeeded');
    expect(h.callsFor(prompt).map((c) => c.status)).to.deep.equal([403, 200]);
  });

  it('a job that keeps failing transiently ends in the dead-letter queue after max_receive_count receives, with error.json RETRIES_EXHAUSTED, within the call budget', async function () {
    const attemptsPerReceive = config.modelMaxAttempts;
    const receives = config.maxReceiveCount;
    // Which comes first with this configuration: the receive count or the per-job call budget?
    const budgetLasts = attemptsPerReceive * receives <= config.maxModelCallsPerJob;
    expect(budgetLasts, '3 SDK attempts × 5 receives = 15 ≤ 15: the dead-letter queue comes first').to.equal(true);

    const r = await run('always-503', [{ kind: 'status', status: 503, times: Infinity }]);

    expect(r.calls).to.have.length(attemptsPerReceive * receives);
    expect(r.calls.length).to.be.at.most(config.maxModelCallsPerJob);
    expect(r.generate.map((o) => [o.ok, o.attempt])).to.deep.equal(Array.from({ length: receives }, (_, i) => [false, i + 1]));
    expect(r.deadLetters).to.have.length(1);
    const letter = r.deadLetters[0]!;
    expect(letter).to.include({ functionId: 'generate', attempts: receives });
    expect(letter.event.Records[0]!.s3.object.key).to.match(/^jobs\/[0-9a-f]{32}\/job\.json$/);
    // The last receive left the upload its outcome before the message went to the dead-letter queue.
    expect(r.error).to.include({ reason: 'RETRIES_EXHAUSTED', stage: 'generate', attempts: receives });
    expect(r.error.lastError).to.match(/^SERVICE_UNAVAILABLE: .*ServiceUnavailableException/);
    expect(r.manifest?.outcome).to.equal('failed');
    const keys = outputKeys(r.key);
    expect(r.outputs).to.deep.equal([keys.error, keys.manifest].sort());

    // The claim (claims/<jobId>/<fingerprint>.json in staging) kept the meter across receives; a transient failure keeps no answer.
    const h = harness();
    const jobId = jobIdFor(h.pipeline.buckets.input, r.key, r.eTag);
    const listed = await h.list(h.pipeline.buckets.staging, `claims/${jobId}/`);
    expect(listed).to.have.length(1);
    expect(listed[0]).to.match(new RegExp(`^claims/${jobId}/[0-9a-f]{24}\\.json$`));
    const claim = await h.getJson(h.pipeline.buckets.staging, listed[0]!);
    expect(claim).to.include({ state: 'released', invocations: receives, modelCalls: r.calls.length });
  });

  it('one of several calls fails transiently (count 2 on a one-image model): the next receive does not pay again for the picture already made', async function () {
    if (config.adapter.calls({ prompt: 'x', controlMode: 'CANNY_EDGE', controlStrength: 0.7, count: 2, quality: 'standard' }, { width: 1024, height: 1024 }, new Uint8Array(), [1, 2]).length < 2) {
      this.skip(); // one call for all pictures (Titan, Nova): nothing to pay twice
    }
    // Two calls of up to 3 attempts each; the first 5 attempts fail: exactly one call succeeds, the other gives up.
    const r = await run('partial-transient', [{ kind: 'status', status: 503, times: 5 }], { count: '2' });
    expect(r.generate.map((o) => [o.ok, o.attempt]), describeOutcomes(r.generate)).to.deep.equal([
      [false, 1],
      [true, 2],
    ]);
    expect(r.manifest?.outcome).to.equal('succeeded');
    const successes = r.calls.filter((c) => c.status === 200).length;
    expect(successes, `model answers paid for: ${r.calls.map((c) => c.status)}; 2 pictures were delivered`).to.equal(2);
  });

  it('one of several calls fails permanently (count 2 on a one-image model, one "Inference error"): the other picture is kept, outcome partial', async function () {
    if (config.adapter.calls({ prompt: 'x', controlMode: 'CANNY_EDGE', controlStrength: 0.7, count: 2, quality: 'standard' }, { width: 1024, height: 1024 }, new Uint8Array(), [1, 2]).length < 2) {
      this.skip(); // one call for all pictures (Titan, Nova): a failure fails them all
    }
    const r = await run('partial-permanent', [{ kind: 'inference-error', times: 1 }], { count: '2' });
    expect(r.calls).to.have.length(2);
    expect(r.generate.map((o) => [o.ok, o.attempt]), describeOutcomes(r.generate)).to.deep.equal([[true, 1]]);
    expect(r.deadLetters).to.deep.equal([]);
    expect(r.manifest?.outcome).to.equal('partial');
    expect(r.error, 'pictures were made: no error.json').to.equal(undefined);
    const keys = outputKeys(r.key);
    expect(r.manifest.outputs).to.deep.equal({ images: [keys.image(1)], edges: keys.edges, contactSheet: keys.contactSheet, error: null });
    expect(r.outputs).to.deep.equal([keys.image(1), keys.contactSheet, keys.edges, keys.manifest].sort());
    expect(r.manifest).to.include({ imagesMissing: 1, modelCalls: 2 });
    const failed = r.manifest.calls.filter((c: { failure?: unknown }) => c.failure);
    expect(failed).to.have.length(1);
    expect(failed[0]).to.deep.include({ requested: 1, received: 0 });
    expect(failed[0].failure).to.include({ reason: 'MODEL_ERROR', permanent: true });
  });

  it('a generate environment that dies mid-call (out of memory, runtime crash): the message received again takes the job over and finishes it', async () => {
    const h = harness();
    const generate = h.pipeline.functions.generate!;
    const prompt = 'a pencil sketch (crash)';
    const key = 'faults/crash.png';
    const from = { generate: generate.outcomes.length, records: h.records.length };
    h.pipeline.standIn!.setFaults([{ kind: 'delay', ms: 3000, times: 1 }]);
    try {
      await h.upload(key, PHOTO, { prompt });
      await h.waitForRecord(h.pipeline.buckets.input, key, from.records);
      // Wait for the model call to be in flight, then kill the one environment running it, as Lambda's OOM killer would.
      const deadline = Date.now() + 20_000;
      while (!h.callsFor(prompt).some((c) => c.status === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // Test-only reach into the host: the busy execution environment's child process, started by this test's pipeline.
      const busy = (generate as unknown as { environments: { busy: boolean; child: { pid?: number } }[] }).environments.filter((e) => e.busy);
      expect(busy).to.have.length(1);
      process.kill(busy[0]!.child.pid!, 'SIGKILL');
      await h.pipeline.idle();
    } finally {
      h.pipeline.standIn!.setFaults([]);
    }
    const outcomes = generate.outcomes.slice(from.generate);
    expect(outcomes[0]!.error?.name).to.equal('Runtime.ExitError');
    const manifest = await h.getJson(h.pipeline.buckets.output, outputKeys(key).manifest);
    expect(
      manifest?.outcome,
      `the next receive found the crashed receive's claim still "running" (lease not over) and gave up as a duplicate: the upload has no outcome and no dead letter.\n${describeOutcomes(outcomes)}\n${JSON.stringify(outcomes.map((o) => o.result))}`,
    ).to.equal('succeeded');
    expect(h.callsFor(prompt)).to.have.length(2);
  });

  it('over the whole matrix: never more calls per job than the cap, nor per invocation than the SDK attempts per model call; prepare never failed', () => {
    for (const r of runs) {
      expect(r.calls.length, r.key).to.be.at.most(config.maxModelCallsPerJob);
      const callsPerJob = config.adapter.calls({ prompt: 'x', controlMode: 'CANNY_EDGE', controlStrength: 0.7, count: r.count, quality: 'standard' }, { width: 1024, height: 1024 }, new Uint8Array(), Array.from({ length: r.count }, (_, i) => i + 1)).length;
      expect(r.calls.length, r.key).to.be.at.most(config.modelMaxAttempts * callsPerJob * r.generate.length);
      expect(r.prepare.map((o) => [o.ok, o.attempt]), r.key).to.deep.equal([[true, 1]]);
    }
    console.log(`      ${runs.map((r) => `${r.key.replace(/^faults\/|\.png$/g, '')}: ${r.calls.map((c) => c.status).join(',')} in ${r.ms} ms`).join('\n      ')}`);
  });
});
