import { expect } from 'chai';
import { planOutcome, type CallResult, type Generation, type PlannedOutcome } from '../../functions/core/outcome';
import { failureReport, jobParameters, MODEL_ID, readyJob, rejectedJob } from '../helpers/factories';

const NOW = new Date('2026-10-01T12:00:30.000Z');
const PNG = Uint8Array.from([137, 80, 78, 71]);
const EDGES = Uint8Array.from([137, 80, 78, 71, 1]);

const call = (overrides: Partial<CallResult> = {}): CallResult => ({ seed: 1234, requested: 1, images: [PNG], blocked: 0, kept: false, attempts: 1, ms: 9000, ...overrides });
const generation = (calls: CallResult[]): Generation => ({ modelId: MODEL_ID, family: 'titan', unusedParameters: [], calls, modelCalls: calls.length, timings: { totalMs: 9100 } });
const manifestOf = (plan: PlannedOutcome) => JSON.parse(plan.manifest.body as string);
const keysOf = (plan: PlannedOutcome) => plan.files.map((file) => file.key);

describe('core/outcome', () => {
  it('a delivered job: its pictures, the edge mask and a manifest listing exactly those', () => {
    const job = readyJob({ parameters: jobParameters({ count: 2, negativePrompt: 'blurry' }), ignoredMetadata: ['promt'] });

    const plan = planOutcome({ job, generation: generation([call({ requested: 2, images: [PNG, PNG] })]), edges: EDGES, now: NOW });
    const manifest = manifestOf(plan);

    expect(plan.outcome).to.equal('succeeded');
    expect(plan.folder).to.equal('photos/tiger.jpg/');
    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/1.png', 'photos/tiger.jpg/2.png', 'photos/tiger.jpg/edges.png']);
    expect(plan.manifest.key).to.equal('photos/tiger.jpg/manifest.json');
    expect(manifest.outputs).to.deep.equal({ images: ['photos/tiger.jpg/1.png', 'photos/tiger.jpg/2.png'], edges: 'photos/tiger.jpg/edges.png', contactSheet: null, error: null });
    expect(manifest.source).to.deep.equal(job.source);
    expect(manifest.source.sequencer).to.equal('0055AED6DCD90281E5');
    expect(manifest.prompt).to.equal('a tiger as a pencil sketch');
    expect(manifest.negativePrompt).to.equal('blurry');
    expect(manifest.parameters.seeds).to.deep.equal([1234, 1234]);
    expect(manifest.ignoredMetadata).to.deep.equal(['promt']);
    expect(manifest.calls).to.deep.equal([{ seed: 1234, requested: 2, received: 2, blocked: 0, ms: 9000, kept: false }]);
    expect(manifest.imagesMissing).to.equal(0);
    expect(manifest.completedAt).to.equal(NOW.toISOString());
  });

  it('writes and lists the contact sheet beside the pictures, and prices the pictures received', () => {
    const plan = planOutcome({ job: readyJob(), generation: generation([call(), call({ images: [], failure: { reason: 'MODEL_ERROR', message: 'x', permanent: true } })]), contactSheet: PNG, now: NOW });
    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/1.png', 'photos/tiger.jpg/contact-sheet.png']);
    expect(manifestOf(plan).outputs.contactSheet).to.equal('photos/tiger.jpg/contact-sheet.png');
    expect(manifestOf(plan).estimatedCostUsd).to.equal(0.01);
    expect(manifestOf(plan)).to.not.have.property('standIn');
  });

  it('says so when a stand-in answered', () => {
    const plan = planOutcome({ job: readyJob(), generation: generation([call({ standIn: 'local Bedrock stand-in, no model was called' })]), now: NOW });
    expect(manifestOf(plan)).to.include({ standIn: true, standInNote: 'local Bedrock stand-in, no model was called' });
  });

  it('lists no edge mask when it could not be read, and writes none', () => {
    const plan = planOutcome({ job: readyJob(), generation: generation([call()]), now: NOW });
    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/1.png']);
    expect(manifestOf(plan).outputs.edges).to.equal(null);
  });

  it('a multi-call job with one failed call keeps the paid pictures and reports the rest per call', () => {
    const modelError = { reason: 'MODEL_ERROR' as const, message: 'Inference error', permanent: true };
    const job = readyJob({ parameters: jobParameters({ count: 3 }) });
    const plan = planOutcome({
      job,
      generation: generation([call({ seed: 1 }), call({ seed: 2, images: [], failure: modelError }), call({ seed: 3, kept: true })]),
      edges: EDGES,
      now: NOW,
    });
    const manifest = manifestOf(plan);

    expect(plan.outcome).to.equal('partial');
    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/1.png', 'photos/tiger.jpg/2.png', 'photos/tiger.jpg/edges.png']);
    expect(manifest.calls[1]).to.deep.include({ seed: 2, received: 0, failure: modelError });
    expect(manifest.calls[2]).to.deep.include({ seed: 3, kept: true });
    expect(manifest.imagesMissing).to.equal(1);
    expect(manifest.outputs.error).to.equal(null);
    expect(manifest).to.not.have.property('failure');
  });

  it('counts pictures removed by moderation from a good answer as blocked and missing', () => {
    const plan = planOutcome({ job: readyJob(), generation: generation([call({ requested: 4, images: [PNG], blocked: 3 })]), now: NOW });
    expect(plan.outcome).to.equal('partial');
    expect(manifestOf(plan)).to.deep.include({ imagesBlocked: 3, imagesMissing: 3 });
  });

  it('a job whose every call failed: error.json with the first call failure, no pictures, not even the edge mask', () => {
    const filtered = { reason: 'CONTENT_FILTERED' as const, message: 'blocked by the content filter', permanent: true };
    const other = { reason: 'MODEL_ERROR' as const, message: 'Inference error', permanent: true };
    const plan = planOutcome({
      job: readyJob(),
      generation: generation([call({ images: [], blocked: 1, failure: filtered }), call({ images: [], failure: other })]),
      edges: EDGES,
      now: NOW,
    });
    const manifest = manifestOf(plan);
    const report = JSON.parse(plan.files[0]!.body as string);

    expect(plan.outcome).to.equal('failed');
    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/error.json']);
    expect(report).to.deep.include({ ...filtered, stage: 'generate', jobId: readyJob().jobId, at: NOW.toISOString() });
    expect(manifest.outputs).to.deep.equal({ images: [], edges: null, contactSheet: null, error: 'photos/tiger.jpg/error.json' });
    expect(manifest.failure).to.deep.equal(filtered);
  });

  it('an upload prepare rejected: error.json naming the prepare stage and a manifest without model details', () => {
    const job = rejectedJob();

    const plan = planOutcome({ job, failure: job.failure, now: NOW });
    const report = JSON.parse(plan.files[0]!.body as string);
    const manifest = manifestOf(plan);

    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/error.json']);
    expect(report).to.deep.equal({ ...failureReport(), stage: 'prepare', source: job.source, jobId: job.jobId, at: NOW.toISOString() });
    expect(manifest.outcome).to.equal('failed');
    expect(manifest).to.not.have.property('prompt');
    expect(manifest).to.not.have.property('calls');
    expect(manifest.model).to.deep.equal({ id: MODEL_ID });
  });

  it('a whole-job failure wins over any pictures (none are published beside an error.json)', () => {
    const failure = { reason: 'MODEL_UNAVAILABLE' as const, message: 'end of life', permanent: true };
    const plan = planOutcome({ job: readyJob(), generation: generation([call()]), failure, edges: EDGES, now: NOW });
    expect(plan.outcome).to.equal('failed');
    expect(keysOf(plan)).to.deep.equal(['photos/tiger.jpg/error.json']);
  });
});
