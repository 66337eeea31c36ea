/**
 * The whole local pipeline on real photographs: the embedded S3 server, the
 * built bundles in local execution environments, the wiring from the
 * synthesized stack, and the Bedrock stand-in.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { TITAN_SIZES } from '../../functions/core/models/titan';
import { nearestSize } from '../../functions/core/sizing';
import { ROOT } from '../../scripts/build-functions';
import { STACK_JSON, startLocalPipeline, synthesizeFor, type LocalPipeline } from '../../scripts/local/pipeline';
import { createHash } from 'node:crypto';
import { adapterFor } from '../../functions/core/models';
import { outputKeys } from '../../functions/core/naming';
import { PHOTOS_DIR } from '../helpers/photos';

const PHOTOS = PHOTOS_DIR;
const LARGE = join(ROOT, 'test', 'fixtures', 'large', 'safe-landing-5120x2880.jpg');

const readOutput = async (pipeline: LocalPipeline, key: string): Promise<Buffer> => {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const object = await pipeline.client.send(new GetObjectCommand({ Bucket: pipeline.buckets.output, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
};

const readStaging = async (pipeline: LocalPipeline, key: string): Promise<Buffer> => {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const object = await pipeline.client.send(new GetObjectCommand({ Bucket: pipeline.buckets.staging, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
};

describe('local pipeline, end to end, with Titan v2 (the original design, its stack synthesized for it)', function () {
  this.timeout(120_000);
  let pipeline: LocalPipeline;
  let workDir: string;

  before(async () => {
    if (!existsSync(join(ROOT, STACK_JSON))) throw new Error(`${STACK_JSON} is missing: run npm run synth first (npm test does)`);
    workDir = await mkdtemp(join(tmpdir(), 'icp-e2e-'));
    pipeline = await startLocalPipeline({
      root: ROOT,
      workDir,
      stackJson: await synthesizeFor('amazon.titan-image-generator-v2:0', join(workDir, 'cdktf.out')),
      // Titan v2 is past end of life: the stand-in answers as it did before, on request.
      standIn: { answerRetiredModels: true },
    });
  });

  after(async () => {
    await pipeline?.close();
    await rm(workDir, { recursive: true, force: true });
  });

  for (const file of ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg']) {
    it(`turns ${file} into a generated picture, its edge mask and a manifest`, async () => {
      const bytes = await readFile(join(PHOTOS, file));
      const source = await sharp(bytes).metadata();
      const key = `photos/${file}`;

      await pipeline.upload(key, bytes, { prompt: 'a tiger as a hand drawn sketch' });
      const outcome = await pipeline.waitForOutcome(key);

      const keys = outputKeys(key);
      expect(keys.folder, 'the whole key, extension included').to.equal(`photos/${file}/`);
      expect(outcome.error).to.equal(undefined);
      expect(outcome.keys).to.have.members([keys.image(1), keys.contactSheet, keys.edges, keys.manifest]);
      const expected = nearestSize(source, TITAN_SIZES);
      const image = await sharp(await readOutput(pipeline, keys.image(1))).metadata();
      expect({ width: image.width, height: image.height }).to.deep.equal(expected);
      const edges = await sharp(await readOutput(pipeline, keys.edges)).metadata();
      expect([edges.width, edges.height, edges.channels]).to.deep.equal([expected.width, expected.height, 1]);
      expect(outcome.manifest.outcome).to.equal('succeeded');
      expect(outcome.manifest.outputs).to.deep.equal({ images: [keys.image(1)], edges: keys.edges, contactSheet: keys.contactSheet, error: null });
      expect(outcome.manifest.source).to.include({ bucket: pipeline.buckets.input, key });
      expect(outcome.manifest.prompt).to.equal('a tiger as a hand drawn sketch');
      expect(outcome.manifest.sizes.conditioning).to.deep.equal(expected);
      expect(outcome.manifest.parameters.seeds).to.have.length(1);
    });
  }

  it('sizes a 5120×2880 photo to the nearest Titan pair without bars, and reports prepare peak memory', async () => {
    const bytes = await readFile(LARGE);
    const key = 'large/safe-landing.jpg';

    await pipeline.upload(key, bytes, { prompt: 'a landscape as a pencil sketch' });
    const outcome = await pipeline.waitForOutcome(key);

    expect(outcome.error).to.equal(undefined);
    const target = outcome.manifest.sizes.conditioning;
    expect(target).to.deep.equal(nearestSize({ width: 5120, height: 2880 }, TITAN_SIZES));
    expect(target).to.deep.equal({ width: 1152, height: 640 });
    // 16:9 is a little taller than 1152:640 (1.8): the full width stays and the smallest band of rows
    // goes, 2880 − 5120/1.8 ≈ 36 rows, split between top and bottom.
    expect(outcome.manifest.crop.width).to.equal(5120);
    expect(outcome.manifest.crop.height).to.be.within(2842, 2846);
    expect(outcome.manifest.crop.top).to.be.within(17, 19);
    // No letterbox: the first and last rows and columns of the conditioning picture are not a flat black bar.
    const conditioning = await readStaging(pipeline, `jobs/${outcome.manifest.jobId}/conditioning.png`);
    const { data, info } = await sharp(conditioning).raw().toBuffer({ resolveWithObject: true });
    const lineStats = (pixels: number[]) => ({ mean: pixels.reduce((a, b) => a + b, 0) / pixels.length, distinct: new Set(pixels).size });
    const row = (y: number) => Array.from({ length: info.width }, (_, x) => data[(y * info.width + x) * info.channels]!);
    const column = (x: number) => Array.from({ length: info.height }, (_, y) => data[(y * info.width + x) * info.channels]!);
    for (const line of [row(0), row(info.height - 1), column(0), column(info.width - 1)]) {
      const stats = lineStats(line);
      expect(stats.mean > 8 || stats.distinct > 4, `a border line looks like a bar: ${JSON.stringify(stats)}`).to.equal(true);
    }
    const prepared = pipeline.functions.prepare!.outcomes.filter((o) => o.ok).map((o) => o.maxRssMb);
    const peak = Math.max(...prepared);
    console.log(`      prepare peak memory (max RSS of its execution environment): ${peak} MB of ${pipeline.wiring.functions.prepare!.memoryMb} MB`);
    expect(peak).to.be.greaterThan(0).and.below(pipeline.wiring.functions.prepare!.memoryMb);
  });

  it('reports a non-image upload as error.json, loses nothing, and keeps processing', async () => {
    await pipeline.upload('good/first.png', await readFile(join(PHOTOS, 'coffee.png')), { prompt: 'coffee as a sketch' });
    await pipeline.waitForOutcome('good/first.png');

    await pipeline.upload('bad/notes.jpg', Buffer.from('these are my notes, not a picture\n'), { prompt: 'anything' });
    const bad = await pipeline.waitForOutcome('bad/notes.jpg');
    await pipeline.upload('good/second.jpg', await readFile(join(PHOTOS, 'rocket.jpg')), { prompt: 'a rocket as a sketch' });
    const next = await pipeline.waitForOutcome('good/second.jpg');

    expect(bad.error).to.include({ reason: 'UNSUPPORTED_FORMAT', permanent: true, stage: 'prepare' });
    expect(bad.error!.message).to.equal('Expected one of: jpeg, png, webp for s3://icp-input-local/bad/notes.jpg but received data of no known image format');
    expect(bad.manifest.outcome).to.equal('failed');
    expect(bad.keys).to.have.members(['bad/notes.jpg/error.json', 'bad/notes.jpg/manifest.json']);
    expect(next.manifest.outcome).to.equal('succeeded');
    const first = await pipeline.waitForOutcome('good/first.png');
    expect(first.keys).to.include(outputKeys('good/first.png').image(1));
    await pipeline.idle();
    expect(pipeline.deadLetters(), 'nothing went to a dead-letter queue').to.deep.equal([]);
  });

  it('decodes URL-encoded keys and RFC 2047 prompts, naming outputs after the input', async () => {
    const key = 'my photos/tiger + friends ü.png';
    const prompt = 'ein Tiger als Bleistiftskizze – 虎';

    await pipeline.upload(key, await readFile(join(PHOTOS, 'chelsea.png')), { prompt: `=?UTF-8?B?${Buffer.from(prompt).toString('base64')}?=` });
    const outcome = await pipeline.waitForOutcome(key);

    expect(outcome.keys).to.include('my photos/tiger + friends ü.png/1.png');
    expect(outcome.manifest.prompt).to.equal(prompt);
    expect(outcome.manifest.source.key).to.equal(key);
  });

  it('processes an upload made with the real AWS CLI, metadata included', async () => {
    const file = join(workDir, 'cli upload.jpg');
    await writeFile(file, await readFile(join(PHOTOS, 'rocket.jpg')));

    // Asynchronously: the S3 server runs in this process and must keep answering.
    await promisify(execFile)(
      'aws',
      ['--endpoint-url', pipeline.s3.endpoint, 's3', 'cp', file, `s3://${pipeline.buckets.input}/cli/`, '--metadata', 'prompt=a rocket as a hand drawn sketch,count=2'],
      { env: { ...process.env, ...pipeline.cliEnv, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' } },
    );
    const outcome = await pipeline.waitForOutcome('cli/cli upload.jpg');

    expect(outcome.error).to.equal(undefined);
    expect(outcome.manifest.prompt).to.equal('a rocket as a hand drawn sketch');
    expect(outcome.manifest.parameters.count).to.equal(2);
    expect(outcome.keys).to.include.members(['cli/cli upload.jpg/1.png', 'cli/cli upload.jpg/2.png']);
  });
});

describe('local pipeline, end to end, with the default model (Control Sketch fed the edge mask)', function () {
  this.timeout(120_000);
  let pipeline: LocalPipeline;
  let workDir: string;

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'icp-e2e-sketch-'));
    pipeline = await startLocalPipeline({ root: ROOT, workDir });
  });
  after(async () => {
    await pipeline?.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it("is the stack's default and sends the Canny edge mask as the image", async () => {
    const key = 'sketch/chelsea.png';

    await pipeline.upload(key, await readFile(join(PHOTOS, 'chelsea.png')), { prompt: 'a tiger as a hand drawn sketch' });
    const outcome = await pipeline.waitForOutcome(key);

    expect(pipeline.wiring.functions.generate!.environment.MODEL_ID).to.equal('us.stability.stable-image-control-sketch-v1:0');
    expect(outcome.manifest.outcome).to.equal('succeeded');
    expect(outcome.manifest.model).to.deep.equal({
      id: 'us.stability.stable-image-control-sketch-v1:0',
      family: 'stability',
      unusedParameters: ['control-mode', 'quality'],
    });
    const edges = await readOutput(pipeline, outputKeys(key).edges);
    const sent = pipeline.standIn!.calls.at(-1)!.body as { image: { sha256: string; channels: number } };
    expect(sent.image.sha256).to.equal(createHash('sha256').update(edges).digest('hex'));
    expect(sent.image.channels).to.equal(1);
  });

  it('sizes a 5120×2880 photo to about one megapixel in multiples of 64, without bars', async () => {
    const key = 'sketch/large.jpg';

    await pipeline.upload(key, await readFile(LARGE), { prompt: 'a landscape as a pencil sketch' });
    const outcome = await pipeline.waitForOutcome(key);

    const size = outcome.manifest.sizes.conditioning;
    expect(size).to.deep.equal(adapterFor('us.stability.stable-image-control-sketch-v1:0').targetSize({ width: 5120, height: 2880 }));
    expect(size.width % 64).to.equal(0);
    expect(size.height % 64).to.equal(0);
    expect(size.width * size.height).to.be.within(0.8 * 1_048_576, 1.2 * 1_048_576);
    const image = await sharp(await readOutput(pipeline, outputKeys(key).image(1))).metadata();
    expect({ width: image.width, height: image.height }).to.deep.equal(size);
    const prepare = pipeline.functions.prepare!.outcomes.map((o) => o.maxRssMb);
    console.log(`      prepare peak memory on 5120×2880 (Control Sketch sizing): ${Math.max(...prepare)} MB`);
  });
});
