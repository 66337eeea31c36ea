/**
 * The generate function as Lambda runs it: the built bundle in its own process,
 * the real S3 and Bedrock Runtime SDK clients (retries included) against the
 * embedded S3 server and the Bedrock stand-in. Every job is made by the real
 * prepare bundle from a real upload, and generate is invoked with the event
 * record S3 emitted for prepare's job.json.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import sharp from 'sharp';
import { CONTENT_FILTER_TRIGGER, startBedrockStandIn, type RecordedCall, type RecordedImage, type StandIn } from '../../scripts/local/bedrock-standin';
import type { InvocationOutcome } from '../../scripts/local/lambda-host';
import { claimKey, requestFingerprint } from '../../functions/core/claim';
import { outputKeys } from '../../functions/core/naming';
import { BUCKETS, describeOutcome, eventOf, expectHandled, generateEnv, jobResultsOf, transientErrorOf, stageJob, TITAN, usePipelineRig, type Staged } from '../helpers/local-functions';
import { photo } from '../helpers/photos';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const TITAN_SEED_MAX = 2_147_483_646;

interface TitanBody {
  taskType: string;
  textToImageParams: {
    text: string;
    negativeText?: string;
    conditionImage: RecordedImage;
    controlMode: string;
    controlStrength: number;
  };
  imageGenerationConfig: { numberOfImages: number; width: number; height: number; cfgScale: number; seed: number; quality: string };
}

describe('generate function (built bundle, embedded S3, Bedrock stand-in)', function () {
  this.timeout(30_000);
  const { rig, prepare, generate } = usePipelineRig();

  const stage = (key: string, body: Uint8Array | string, metadata: Record<string, string> = {}): Promise<Staged> =>
    stageJob(rig(), prepare(), key, body, metadata);

  interface Generated extends Staged {
    readonly outcome: InvocationOutcome;
    /** Stand-in calls made during this generate invocation. */
    readonly calls: RecordedCall[];
    /** The files of the key's output folder, sorted. */
    readonly outputs: string[];
  }

  const run = async (key: string, body: Uint8Array | string, metadata: Record<string, string> = {}, fn = generate(), standIn: StandIn = rig().standIn): Promise<Generated> => {
    const staged = await stage(key, body, metadata);
    const before = standIn.calls.length;
    const outcome = await fn.invoke(eventOf(staged.jobRecord));
    await rig().s3.idle();
    return { ...staged, outcome, calls: standIn.calls.slice(before), outputs: await rig().outputsOf(key) };
  };

  const manifestOf = (key: string): Promise<any> => rig().getJson(BUCKETS.output, outputKeys(key).manifest);
  const errorOf = (key: string): Promise<any> => rig().getJson(BUCKETS.output, outputKeys(key).error);
  /** The keys of `files` in the output folder of `key`, sorted as a listing is. */
  const folder = (key: string, ...files: string[]): string[] => files.map((file) => `${outputKeys(key).folder}${file}`).sort();

  it('generates from a prepared job: pictures at the conditioning size, edges.png and manifest.json (written last)', async () => {
    const key = 'photos/chelsea.png';
    const from = rig().records.length;
    const keys = outputKeys(key);
    const { jobId, job, upload, outcome, calls, outputs } = await run(key, photo('chelsea.png'), { prompt: 'a cat in ink', seed: '1234' });
    expectHandled(outcome);
    expect(await jobResultsOf(rig(), outcome)).to.deep.equal([{ jobId, key, result: 'published' }]);
    // The folder is the whole key, extension included.
    expect(keys.folder).to.equal('photos/chelsea.png/');
    expect(outputs).to.deep.equal(['photos/chelsea.png/1.png', 'photos/chelsea.png/contact-sheet.png', 'photos/chelsea.png/edges.png', 'photos/chelsea.png/manifest.json']);

    const size = job.conditioning.size;
    expect(size).to.deep.equal({ width: 1152, height: 768 });
    const picture = await sharp((await rig().get(BUCKETS.output, keys.image(1)))!).metadata();
    expect([picture.format, picture.width, picture.height]).to.deep.equal(['png', size.width, size.height]);
    const edges = await rig().get(BUCKETS.output, keys.edges);
    expect(edges!.equals((await rig().get(BUCKETS.staging, `jobs/${jobId}/edges.png`))!), 'edges.png is the staged mask').to.equal(true);

    const manifest = await manifestOf(key);
    expect(manifest).to.include({ version: 1, jobId, outcome: 'succeeded', prompt: 'a cat in ink', negativePrompt: null });
    expect(manifest.model).to.deep.equal({ id: TITAN, family: 'titan', unusedParameters: [] });
    expect(manifest.source).to.deep.equal(job.source);
    // The upload's event sequencer, which decides which upload of a key the folder shows.
    expect(manifest.source.sequencer).to.be.a('string').and.equal(upload.s3.object.sequencer);
    expect(manifest.parameters).to.deep.include({ seed: 1234, seeds: [1234], count: 1, controlMode: 'CANNY_EDGE', controlStrength: 0.7, quality: 'standard' });
    expect(manifest.outputs).to.deep.equal({ images: [keys.image(1)], edges: keys.edges, contactSheet: keys.contactSheet, error: null });
    expect(manifest.sizes).to.deep.equal({ source: { width: 451, height: 300 }, conditioning: size });
    expect(manifest.calls).to.have.length(1);
    expect(manifest.calls[0]).to.have.all.keys('seed', 'requested', 'received', 'blocked', 'ms', 'kept');
    expect(manifest.calls[0]).to.include({ seed: 1234, requested: 1, received: 1, blocked: 0, kept: false });
    expect(manifest.calls[0].ms).to.be.a('number').and.at.least(0);
    expect(manifest).to.include({ imagesMissing: 0, imagesBlocked: 0, modelCalls: 1 });
    expect(manifest).to.not.have.property('failure');

    // Exactly one model call, in Titan's schema, conditioned on the staged photo.
    expect(calls).to.have.length(1);
    const call = calls[0]!;
    expect([call.method, call.modelId, call.status, call.errorType, call.fault]).to.deep.equal(['POST', TITAN, 200, null, null]);
    expect(call.contentType).to.equal('application/json');
    const body = call.body as TitanBody;
    expect(Object.keys(body).sort()).to.deep.equal(['imageGenerationConfig', 'taskType', 'textToImageParams']);
    expect(body.taskType).to.equal('TEXT_IMAGE');
    const { conditionImage, ...text } = body.textToImageParams;
    expect(text).to.deep.equal({ text: 'a cat in ink', controlMode: 'CANNY_EDGE', controlStrength: 0.7 });
    const conditioning = (await rig().get(BUCKETS.staging, `jobs/${jobId}/conditioning.png`))!;
    expect(conditionImage).to.include({ sha256: sha256(conditioning), format: 'png', width: size.width, height: size.height, channels: 3, hasAlpha: false });
    expect(body.imageGenerationConfig).to.deep.equal({ numberOfImages: 1, width: size.width, height: size.height, cfgScale: 8, seed: 1234, quality: 'standard' });

    // The manifest is the last object written under the prefix: its arrival means the outcome is complete.
    const written = rig()
      .records.slice(from)
      .filter((r) => r.s3.bucket.name === BUCKETS.output)
      .map((r) => r.s3.object.key);
    expect(written.at(-1)).to.equal(keys.manifest);
  });

  it('asks Titan once for count: 3 and writes 1.png to 3.png', async () => {
    const key = 'count/coffee.png';
    const { outcome, calls, outputs } = await run(key, photo('coffee.png'), { prompt: 'three cups', count: '3', 'negative-prompt': 'people' });
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(calls).to.have.length(1);
    const body = calls[0]!.body as TitanBody;
    expect(body.imageGenerationConfig.numberOfImages).to.equal(3);
    expect(body.textToImageParams.negativeText).to.equal('people');
    expect(outputs).to.deep.equal(folder(key, '1.png', '2.png', '3.png', 'contact-sheet.png', 'edges.png', 'manifest.json'));
    const manifest = await manifestOf(key);
    expect(manifest.outcome).to.equal('succeeded');
    expect(manifest.outputs.images).to.deep.equal(['count/coffee.png/1.png', 'count/coffee.png/2.png', 'count/coffee.png/3.png']);
    const seed = body.imageGenerationConfig.seed;
    expect(manifest.parameters.seeds).to.deep.equal([seed, seed, seed]);
    expect(manifest.calls).to.have.length(1);
    expect(manifest.calls[0]).to.include({ seed, requested: 3, received: 3, blocked: 0, kept: false });
    expect(manifest).to.include({ imagesMissing: 0, imagesBlocked: 0, modelCalls: 1 });
  });

  it('derives a seed per job without a user seed (not one per warm container) and records it', async () => {
    const first = await run('seeds/one.png', photo('coffee.png'), { prompt: 'cups' });
    const second = await run('seeds/two.png', photo('coffee.png'), { prompt: 'cups' });
    const seeds = [];
    for (const [key, result] of [['seeds/one.png', first], ['seeds/two.png', second]] as const) {
      expect(result.outcome.ok, describeOutcome(result.outcome)).to.equal(true);
      expect(result.job.parameters).to.not.have.property('seed');
      expect(result.calls).to.have.length(1);
      const seed = (result.calls[0]!.body as TitanBody).imageGenerationConfig.seed;
      expect(seed).to.be.within(1, TITAN_SEED_MAX);
      expect((await manifestOf(key)).parameters.seeds).to.deep.equal([seed]);
      seeds.push(seed);
    }
    expect(seeds[0]).to.not.equal(seeds[1]);
  });

  it('ends a job blocked by the content filter with error.json CONTENT_FILTERED; the invocation succeeds and is not retried', async () => {
    const key = 'filtered/chelsea.png';
    const { jobId, outcome, calls, outputs } = await run(key, photo('chelsea.png'), { prompt: `a cat ${CONTENT_FILTER_TRIGGER}` });
    expectHandled(outcome);
    expect(await jobResultsOf(rig(), outcome)).to.deep.equal([{ jobId, key, result: 'published' }]);
    expect(calls).to.have.length(1);
    expect([calls[0]!.status, calls[0]!.errorType]).to.deep.equal([400, 'ValidationException']);
    // A failed outcome is error.json and the manifest only: no pictures, no edge mask.
    expect(outputs).to.deep.equal(folder(key, 'error.json', 'manifest.json'));
    const error = await errorOf(key);
    expect(error).to.include({ reason: 'CONTENT_FILTERED', permanent: true, jobId, stage: 'generate' });
    expect(error.message).to.match(/^amazon\.titan-image-generator-v2:0: ValidationException: This request has been blocked by our content filters\./);
    const manifest = await manifestOf(key);
    expect(manifest.outcome).to.equal('failed');
    expect(manifest.failure).to.deep.equal({ reason: error.reason, message: error.message, permanent: true });
    expect(manifest.outputs).to.deep.equal({ images: [], edges: null, contactSheet: null, error: outputKeys(key).error });
    // The call that was blocked, with its failure.
    expect(manifest.calls).to.have.length(1);
    expect(manifest.calls[0]).to.deep.include({ requested: 1, received: 0, kept: false, failure: manifest.failure });
    expect(manifest).to.include({ imagesMissing: 1, modelCalls: 1 });
  });

  it('names in the manifest only objects that exist, also when a ready job fails', async () => {
    const key = 'named/chelsea.png';
    const { outcome, outputs } = await run(key, photo('chelsea.png'), { prompt: `a cat ${CONTENT_FILTER_TRIGGER}` });
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    const manifest = await manifestOf(key);
    expect(manifest.outcome).to.equal('failed');
    const named = [...manifest.outputs.images, manifest.outputs.edges, manifest.outputs.contactSheet, manifest.outputs.error].filter((k) => k !== null);
    expect(named.filter((k: string) => !outputs.includes(k)), 'named in manifest.outputs but not in the output bucket').to.deep.equal([]);
    // And the other way round: the folder holds exactly what its manifest lists, plus the manifest.
    expect(outputs).to.deep.equal([...named, outputKeys(key).manifest].sort());
  });

  it('reports a model past its end of life as MODEL_UNAVAILABLE in error.json', async () => {
    // A stand-in that answers Titan v2 the way Bedrock does after its end of life.
    const retired = await startBedrockStandIn({ region: 'us-east-1', answerRetiredModels: false });
    try {
      const generateRetired = rig().startFunction('generate', generateEnv(), { bedrockEndpoint: retired.endpoint });
      const key = 'retired/rocket.jpg';
      const { outcome, calls, outputs } = await run(key, photo('rocket.jpg'), { prompt: 'a rocket' }, generateRetired, retired);
      expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
      expect(calls).to.have.length(1);
      expect([calls[0]!.status, calls[0]!.errorType]).to.deep.equal([404, 'ResourceNotFoundException']);
      expect(outputs).to.deep.equal(folder(key, 'error.json', 'manifest.json'));
      const error = await errorOf(key);
      expect(error).to.include({ reason: 'MODEL_UNAVAILABLE', permanent: true, stage: 'generate' });
      expect(error.message).to.include('ResourceNotFoundException').and.include('end of its life');
      expect((await manifestOf(key)).outcome).to.equal('failed');
    } finally {
      await retired.close();
    }
  });

  it('fails the invocation on endless throttling after the SDK default of 3 attempts, writing nothing', async () => {
    rig().standIn.setFaults([{ kind: 'throttle', times: Infinity }]);
    const { jobId, job, outcome, calls, outputs } = await run('throttled/coffee.png', photo('coffee.png'), { prompt: 'cups' });
    expect(outcome.ok).to.equal(false);
    // The message goes back to the queue; the reason is in the log.
    expect(outcome.error?.name).to.equal('FullBatchFailureError');
    expect(await transientErrorOf(rig(), outcome)).to.include('ThrottlingException');
    expect(calls.map((c) => [c.status, c.fault])).to.deep.equal([
      [429, 'throttle'],
      [429, 'throttle'],
      [429, 'throttle'],
    ]);
    expect(outputs, 'no error.json, no manifest: Lambda retries the event').to.deep.equal([]);
    // The claim is given back with the attempts on its meter; a transient failure is not kept as an answer.
    const claim = claimKey(jobId, requestFingerprint(job, job.modelId));
    expect(await rig().list(BUCKETS.staging, `claims/${jobId}/`)).to.deep.equal([claim]);
    expect(await rig().getJson(BUCKETS.staging, claim)).to.include({ state: 'released', invocations: 1, modelCalls: 3 });
  });

  it('succeeds when the SDK retries a single 503', async () => {
    rig().standIn.setFaults([{ kind: 'status', status: 503 }]);
    const key = 'retried/coffee.png';
    const { outcome, calls, outputs } = await run(key, photo('coffee.png'), { prompt: 'cups' });
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(calls.map((c) => c.status)).to.deep.equal([503, 200]);
    expect(outputs).to.deep.equal(folder(key, '1.png', 'contact-sheet.png', 'edges.png', 'manifest.json'));
    const manifest = await manifestOf(key);
    expect(manifest.outcome).to.equal('succeeded');
    // Two HTTP attempts of one call: both count against the per-job budget.
    expect(manifest.modelCalls).to.equal(2);
  });

  it('turns a job prepare rejected into error.json and a failed manifest without calling the model', async () => {
    const key = 'rejected/notes.jpg';
    const { jobId, job, outcome, calls, outputs } = await run(key, 'not a picture at all\n', { prompt: 'anything' });
    expect(job.status).to.equal('rejected');
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(calls, 'model calls').to.deep.equal([]);
    expect(outputs).to.deep.equal(['rejected/notes.jpg/error.json', 'rejected/notes.jpg/manifest.json']);
    const error = await errorOf(key);
    expect(error).to.include({ reason: 'UNSUPPORTED_FORMAT', permanent: true, jobId, stage: 'prepare' });
    expect(error.message).to.equal(job.failure.message);
    expect(error.message).to.equal('Expected one of: jpeg, png, webp for s3://input/rejected/notes.jpg but received data of no known image format');
    expect(error.source).to.deep.equal(job.source);
    const manifest = await manifestOf(key);
    expect(manifest).to.include({ outcome: 'failed', jobId });
    expect(manifest.failure).to.deep.equal(job.failure);
    expect(manifest.outputs).to.deep.equal({ images: [], edges: null, contactSheet: null, error: 'rejected/notes.jpg/error.json' });
    // No generation ran: no calls to account for.
    expect(manifest).to.not.have.any.keys('calls', 'imagesMissing', 'imagesBlocked', 'modelCalls');
  });

  it('deletes a stale error.json when a later upload of the same name succeeds', async () => {
    const key = 'again/chelsea.png';
    const failed = await run(key, photo('chelsea.png'), { prompt: `a cat ${CONTENT_FILTER_TRIGGER}` });
    expect(failed.outcome.ok, describeOutcome(failed.outcome)).to.equal(true);
    expect(failed.outputs).to.deep.equal(folder(key, 'error.json', 'manifest.json'));

    const fixed = await run(key, photo('chelsea.png'), { prompt: 'a cat' });
    expect(fixed.outcome.ok, describeOutcome(fixed.outcome)).to.equal(true);
    expect(fixed.outputs).to.deep.equal(folder(key, '1.png', 'contact-sheet.png', 'edges.png', 'manifest.json'));
    const manifest = await manifestOf(key);
    expect(manifest.outcome).to.equal('succeeded');
    expect(manifest.prompt).to.equal('a cat');
  });
});
