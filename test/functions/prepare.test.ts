/**
 * The prepare function as Lambda runs it: the built bundle in its own process,
 * the real S3 SDK against the embedded S3 server, invoked with the event
 * records that server emitted for real uploads.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { expect } from 'chai';
import sharp, { type Metadata } from 'sharp';
import type { InvocationOutcome, LocalFunction } from '../../scripts/local/lambda-host';
import { BUCKETS, describeOutcome, eventOf, jobIdOfRecord, prepareEnv, TITAN, useRig } from '../helpers/local-functions';
import { photo } from '../helpers/photos';

const CHELSEA = { bytes: photo('chelsea.png'), width: 451, height: 300 };

/** Titan Image Generator v2's sizes, as the model card lists them (kept here, not imported: the test states the contract). */
const TITAN_SIZES: readonly [number, number][] = [
  [1024, 1024], [768, 768], [512, 512], [768, 1152], [384, 576], [1152, 768], [576, 384],
  [768, 1280], [384, 640], [1280, 768], [640, 384], [896, 1152], [448, 576], [1152, 896],
  [576, 448], [768, 1408], [384, 704], [1408, 768], [704, 384], [640, 1408], [320, 704],
  [1408, 640], [704, 320], [1152, 640], [1173, 640],
];
const aspectDistance = (w1: number, h1: number, w2: number, h2: number): number => Math.abs(Math.log(w1 / h1) - Math.log(w2 / h2));

interface Size {
  width: number;
  height: number;
}

/** The size must be one Titan accepts and none of the accepted sizes may be nearer the source's aspect ratio. */
const expectTitanSizeNearest = (size: Size, source: Size): void => {
  expect(TITAN_SIZES.some(([w, h]) => w === size.width && h === size.height), `${size.width}×${size.height} is a Titan size`).to.equal(true);
  const best = Math.min(...TITAN_SIZES.map(([w, h]) => aspectDistance(w, h, source.width, source.height)));
  expect(aspectDistance(size.width, size.height, source.width, source.height)).to.be.closeTo(best, 1e-9);
};

const expectCropInside = (crop: { left: number; top: number; width: number; height: number }, source: Size): void => {
  expect(crop.left).to.be.at.least(0);
  expect(crop.top).to.be.at.least(0);
  expect(crop.width).to.be.greaterThan(0);
  expect(crop.height).to.be.greaterThan(0);
  expect(crop.left + crop.width).to.be.at.most(source.width);
  expect(crop.top + crop.height).to.be.at.most(source.height);
};

/** conditioning.png must be what every model accepts: 8-bit, 3-channel sRGB PNG of the job's size. */
const expectConditioningPng = async (bytes: Buffer | undefined, size: Size): Promise<void> => {
  expect(bytes, 'conditioning.png exists').to.not.equal(undefined);
  const meta = await sharp(bytes!).metadata();
  expect({ format: meta.format, width: meta.width, height: meta.height, channels: meta.channels, depth: meta.depth, space: meta.space, hasAlpha: meta.hasAlpha }).to.deep.equal({
    format: 'png',
    width: size.width,
    height: size.height,
    channels: 3,
    depth: 'uchar',
    space: 'srgb',
    hasAlpha: false,
  });
};

/**
 * edges.png: black and white only, at the job's size; returns the share of white pixels.
 * The channel count is checked on its own (see "edges.png is a single-channel PNG") so that
 * one defect does not hide the others.
 */
const expectEdgesPng = async (bytes: Buffer | undefined, size: Size): Promise<number> => {
  expect(bytes, 'edges.png exists').to.not.equal(undefined);
  const meta = await sharp(bytes!).metadata();
  expect({ format: meta.format, width: meta.width, height: meta.height, depth: meta.depth, hasAlpha: meta.hasAlpha }).to.deep.equal({
    format: 'png',
    width: size.width,
    height: size.height,
    depth: 'uchar',
    hasAlpha: false,
  });
  const { data, info } = await sharp(bytes!).raw().toBuffer({ resolveWithObject: true });
  let white = 0;
  const others = new Set<number>();
  for (let i = 0; i < data.length; i += info.channels) {
    const value = data[i]!;
    for (let c = 1; c < info.channels; c++) if (data[i + c] !== value) others.add(data[i + c]!);
    if (value === 255) white++;
    else if (value !== 0) others.add(value);
  }
  expect([...others], 'values other than 0 and 255').to.deep.equal([]);
  expect(white, 'some edges').to.be.greaterThan(0);
  return white / (info.width * info.height);
};

describe('prepare function (built bundle, embedded S3)', function () {
  this.timeout(30_000);
  const rig = useRig({ standIn: { answerRetiredModels: true } });
  let prepare: LocalFunction;

  before(() => {
    prepare = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'a pencil drawing' }));
  });

  interface Prepared {
    readonly record: S3EventRecord;
    readonly outcome: InvocationOutcome;
    readonly jobId: string;
    readonly job: any;
  }

  /** Uploads, invokes prepare with the upload's own event record, reads the job it wrote. */
  const prepareUpload = async (key: string, body: Uint8Array | string, metadata: Record<string, string> = {}, fn = prepare): Promise<Prepared> => {
    const record = await rig().upload(key, body, metadata);
    const outcome = await fn.invoke(eventOf(record));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(outcome.result, 'every message of the batch handled').to.deep.equal({ batchItemFailures: [] });
    const jobId = jobIdOfRecord(record);
    const job = await rig().getJson(BUCKETS.staging, `jobs/${jobId}/job.json`);
    expect(job.source.key).to.equal(key);
    return { record, outcome, jobId, job };
  };

  const expectRejected = (job: any, reason: string): void => {
    expect(job.status, JSON.stringify(job)).to.equal('rejected');
    expect(job.failure.reason).to.equal(reason);
    expect(job.failure.permanent).to.equal(true);
    expect(job).to.not.have.property('conditioning');
  };

  const stagedPictures = async (jobId: string): Promise<string[]> => (await rig().list(BUCKETS.staging, `jobs/${jobId}/`)).map((k) => k.split('/').pop()!);

  it('turns a photo with metadata into conditioning.png, edges.png and a ready job.json', async () => {
    const metadata = {
      prompt: 'a watercolour of a cat',
      'negative-prompt': 'blurry',
      'control-mode': 'segmentation',
      'control-strength': '0.45',
      seed: '42',
      count: '2',
      quality: 'premium',
      promt: 'a typo',
    };
    const { record, jobId, job } = await prepareUpload('photos/chelsea.png', CHELSEA.bytes, metadata);

    expect(job.status).to.equal('ready');
    expect(job.version).to.equal(1);
    expect(job.jobId).to.equal(jobId).and.match(/^[0-9a-f]{32}$/);
    expect(job.modelId).to.equal(TITAN);
    expect(job.source).to.deep.equal({
      bucket: BUCKETS.input,
      key: 'photos/chelsea.png',
      eTag: record.s3.object.eTag,
      size: CHELSEA.bytes.length,
      // The upload's place in S3's order of events on the key: generate publishes the newest upload's outcome.
      sequencer: record.s3.object.sequencer,
    });
    expect(job.source.sequencer).to.be.a('string').and.not.equal('');
    expect(job.parameters).to.deep.equal({
      prompt: 'a watercolour of a cat',
      negativePrompt: 'blurry',
      controlMode: 'SEGMENTATION',
      controlStrength: 0.45,
      seed: 42,
      count: 2,
      quality: 'premium',
    });
    expect(job.ignoredMetadata).to.deep.equal(['promt']);

    const conditioning = job.conditioning;
    expect(conditioning.sourceFormat).to.equal('png');
    expect(conditioning.sourceSize).to.deep.equal({ width: CHELSEA.width, height: CHELSEA.height });
    expectTitanSizeNearest(conditioning.size, conditioning.sourceSize);
    // 451×300 is 3:2; of the 3:2 sizes the largest.
    expect(conditioning.size).to.deep.equal({ width: 1152, height: 768 });
    expectCropInside(conditioning.crop, conditioning.sourceSize);

    expect(await stagedPictures(jobId)).to.deep.equal(['conditioning.png', 'edges.png', 'job.json']);
    await expectConditioningPng(await rig().get(BUCKETS.staging, `jobs/${jobId}/conditioning.png`), conditioning.size);
    const density = await expectEdgesPng(await rig().get(BUCKETS.staging, `jobs/${jobId}/edges.png`), conditioning.size);
    expect(conditioning.edgeDensity).to.be.closeTo(density, 1e-4);
    expect(conditioning.edgeThresholds.low).to.be.below(conditioning.edgeThresholds.high);
  });

  it('writes edges.png as a single-channel (greyscale) 8-bit PNG', async () => {
    const { jobId, job } = await prepareUpload('channels/chelsea.png', CHELSEA.bytes, { prompt: 'a cat' });
    const edges = await rig().get(BUCKETS.staging, `jobs/${jobId}/edges.png`);
    await expectEdgesPng(edges, job.conditioning.size);
    const meta = await sharp(edges!).metadata();
    expect({ channels: meta.channels, space: meta.space }, 'edges.png colour layout').to.deep.equal({ channels: 1, space: 'b-w' });
  });

  it('writes job.json after the pictures (job.json is what triggers generate)', async () => {
    const from = rig().records.length;
    const { jobId } = await prepareUpload('order/coffee.png', photo('coffee.png'), { prompt: 'coffee' });
    await rig().s3.idle();
    const staged = rig()
      .records.slice(from)
      .filter((r) => r.s3.bucket.name === BUCKETS.staging)
      .map((r) => r.s3.object.key);
    expect(staged).to.have.length(3);
    expect(staged[2]).to.equal(`jobs/${jobId}/job.json`);
  });

  it('gives the same job id to the same upload (bucket, key, ETag): a repeated event overwrites its job', async () => {
    const first = await prepareUpload('repeat/rocket.jpg', photo('rocket.jpg'), { prompt: 'a rocket' });
    const outcome = await prepare.invoke(eventOf(first.record));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(outcome.result).to.deep.equal({ batchItemFailures: [] });
    expect(jobIdOfRecord(first.record)).to.equal(first.jobId);
    const job = await rig().getJson(BUCKETS.staging, `jobs/${first.jobId}/job.json`);
    const { preparedAt: _a, timings: _b, ...rest } = job;
    const { preparedAt: _c, timings: _d, ...firstRest } = first.job;
    expect(rest).to.deep.equal(firstRest);

    // Another key (or another content) is another job.
    const other = await prepareUpload('repeat/rocket-2.jpg', photo('rocket.jpg'), { prompt: 'a rocket' });
    expect(other.jobId).to.not.equal(first.jobId);
  });

  it('takes the deploy-time defaults from the environment when the upload has no metadata', async () => {
    const withDefaults = rig().startFunction(
      'prepare',
      prepareEnv({
        DEFAULT_PROMPT: 'a charcoal sketch',
        DEFAULT_NEGATIVE_PROMPT: 'text, watermark',
        DEFAULT_CONTROL_MODE: 'SEGMENTATION',
        DEFAULT_CONTROL_STRENGTH: '0.3',
        DEFAULT_COUNT: '3',
        DEFAULT_QUALITY: 'premium',
      }),
    );
    const { job } = await prepareUpload('defaults/coffee.png', photo('coffee.png'), {}, withDefaults);
    expect(job.status).to.equal('ready');
    expect(job.parameters).to.deep.equal({
      prompt: 'a charcoal sketch',
      negativePrompt: 'text, watermark',
      controlMode: 'SEGMENTATION',
      controlStrength: 0.3,
      count: 3,
      quality: 'premium',
    });
    expect(job.ignoredMetadata).to.deep.equal([]);

    // Metadata wins over a default, one parameter at a time.
    const { job: mixed } = await prepareUpload('defaults/coffee-2.png', photo('coffee.png'), { count: '1', prompt: 'ink' }, withDefaults);
    expect(mixed.parameters).to.include({ prompt: 'ink', count: 1, controlStrength: 0.3, quality: 'premium' });
  });

  it('rejects invalid metadata with INVALID_PARAMETER naming the metadata key; the invocation succeeds', async () => {
    const { outcome, jobId, job } = await prepareUpload('bad/chelsea.png', CHELSEA.bytes, { prompt: 'a cat', 'control-strength': '2' });
    expect(outcome.ok).to.equal(true);
    expectRejected(job, 'INVALID_PARAMETER');
    expect(job.failure.message).to.equal('Expected number between 0 and 1 for metadata control-strength but received "2"');
    expect(job.source.key).to.equal('bad/chelsea.png');
    expect(await stagedPictures(jobId)).to.deep.equal(['job.json']);
  });

  it('rejects what is not an allowed, decodable image without crashing', async () => {
    const rocket = photo('rocket.jpg');
    const cases = [
      {
        key: 'junk/notes.jpg',
        body: 'Shopping list: eggs, milk, bread.\n',
        reason: 'UNSUPPORTED_FORMAT',
        message: 'Expected one of: jpeg, png, webp for s3://input/junk/notes.jpg but received data of no known image format',
      },
      {
        key: 'junk/empty.jpg',
        body: new Uint8Array(0),
        reason: 'UNREADABLE_IMAGE',
        message: 's3://input/junk/empty.jpg is empty (0 bytes)',
      },
      {
        key: 'junk/truncated.jpg',
        body: rocket.subarray(0, 2048),
        reason: 'UNREADABLE_IMAGE',
        messageStart: 's3://input/junk/truncated.jpg could not be decoded as jpeg: ',
      },
      {
        key: 'junk/drawing.png',
        body: '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400"><rect width="600" height="400" fill="red"/></svg>\n',
        reason: 'UNSUPPORTED_FORMAT',
        message: 'Expected one of: jpeg, png, webp for s3://input/junk/drawing.png but received svg',
      },
    ];
    for (const c of cases) {
      const { outcome, jobId, job } = await prepareUpload(c.key, c.body, { prompt: 'anything' });
      expect(outcome.ok, c.key).to.equal(true);
      expectRejected(job, c.reason);
      if (c.message) expect(job.failure.message, c.key).to.equal(c.message);
      if (c.messageStart) expect(job.failure.message.startsWith(c.messageStart), job.failure.message).to.equal(true);
      expect(await stagedPictures(jobId), c.key).to.deep.equal(['job.json']);
    }
  });

  it('rejects an object larger than MAX_INPUT_BYTES with INPUT_TOO_LARGE', async () => {
    const small = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'x', MAX_INPUT_BYTES: '1000' }));
    const { job } = await prepareUpload('big/chelsea.png', CHELSEA.bytes, {}, small);
    expectRejected(job, 'INPUT_TOO_LARGE');
    expect(job.failure.message).to.equal(`Expected at most 1000 bytes for s3://input/big/chelsea.png but received ${CHELSEA.bytes.length} bytes`);
  });

  it('rejects a picture with more pixels than MAX_INPUT_PIXELS with IMAGE_DIMENSIONS', async () => {
    const few = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'x', MAX_INPUT_PIXELS: '10000' }));
    const { job } = await prepareUpload('huge/chelsea.png', CHELSEA.bytes, {}, few);
    expectRejected(job, 'IMAGE_DIMENSIONS');
    expect(job.failure.message).to.match(/^s3:\/\/input\/huge\/chelsea\.png has more pixels than the configured limit: .*pixel limit/i);
  });

  it('applies the EXIF orientation: a landscape-stored JPEG tagged "rotate 90°" is a portrait job', async () => {
    // Stored 400×200: left half red, right half blue. Orientation 6 shows it turned 90° clockwise,
    // so the red half ends up on top of a 200×400 portrait.
    const left = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const stored = await sharp({ create: { width: 400, height: 200, channels: 3, background: '#0000ff' } })
      .composite([{ input: left, left: 0, top: 0 }])
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const meta = await sharp(stored).metadata();
    expect([meta.width, meta.height, meta.orientation]).to.deep.equal([400, 200, 6]);

    const { jobId, job } = await prepareUpload('exif/rotated.jpg', stored, { prompt: 'upright' });
    expect(job.status).to.equal('ready');
    expect(job.conditioning.sourceSize).to.deep.equal({ width: 200, height: 400 });
    const size = job.conditioning.size;
    expect(size.height).to.be.greaterThan(size.width);
    expectTitanSizeNearest(size, job.conditioning.sourceSize);
    expectCropInside(job.conditioning.crop, job.conditioning.sourceSize);

    const conditioning = await rig().get(BUCKETS.staging, `jobs/${jobId}/conditioning.png`);
    await expectConditioningPng(conditioning, size);
    const { data, info } = await sharp(conditioning!).raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [topR, , topB] = pixel(info.width >> 1, Math.round(info.height * 0.1));
    const [bottomR, , bottomB] = pixel(info.width >> 1, Math.round(info.height * 0.9));
    expect(topR, 'red on top').to.be.greaterThan(200);
    expect(topB).to.be.below(60);
    expect(bottomB, 'blue at the bottom').to.be.greaterThan(200);
    expect(bottomR).to.be.below(60);
  });

  it('normalises alpha, 16-bit, greyscale, CMYK and WebP inputs to 8-bit 3-channel sRGB', async () => {
    const source = sharp(CHELSEA.bytes);
    const variants: { name: string; bytes: Buffer; format: string; check: (m: Metadata) => void }[] = [
      {
        name: 'alpha.png',
        bytes: await source.clone().ensureAlpha(0.5).png().toBuffer(),
        format: 'png',
        check: (m) => expect([m.channels, m.hasAlpha]).to.deep.equal([4, true]),
      },
      {
        name: 'deep.png',
        bytes: await source.clone().toColourspace('rgb16').png().toBuffer(),
        format: 'png',
        check: (m) => expect([m.depth, m.channels]).to.deep.equal(['ushort', 3]),
      },
      {
        name: 'grey.jpg',
        bytes: await source.clone().toColourspace('b-w').jpeg().toBuffer(),
        format: 'jpeg',
        check: (m) => expect([m.channels, m.space]).to.deep.equal([1, 'b-w']),
      },
      {
        name: 'cmyk.jpg',
        bytes: await source.clone().toColourspace('cmyk').jpeg().toBuffer(),
        format: 'jpeg',
        check: (m) => expect([m.channels, m.space]).to.deep.equal([4, 'cmyk']),
      },
      {
        name: 'photo.webp',
        bytes: await source.clone().webp().toBuffer(),
        format: 'webp',
        check: (m) => expect(m.format).to.equal('webp'),
      },
    ];
    for (const variant of variants) {
      variant.check(await sharp(variant.bytes).metadata());
      const { jobId, job } = await prepareUpload(`colour/${variant.name}`, variant.bytes, { prompt: 'a cat' });
      expect(job.status, `${variant.name}: ${JSON.stringify(job.failure)}`).to.equal('ready');
      expect(job.conditioning.sourceFormat).to.equal(variant.format);
      expect(job.conditioning.sourceSize).to.deep.equal({ width: CHELSEA.width, height: CHELSEA.height });
      await expectConditioningPng(await rig().get(BUCKETS.staging, `jobs/${jobId}/conditioning.png`), job.conditioning.size);
      await expectEdgesPng(await rig().get(BUCKETS.staging, `jobs/${jobId}/edges.png`), job.conditioning.size);
    }
  });

  it('prepares every fixture photo (and reports the peak memory of a fresh environment for each)', async () => {
    for (const name of ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg']) {
      const fresh = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'a drawing' }));
      const bytes = photo(name);
      const { outcome, job } = await prepareUpload(`fixtures/${name}`, bytes, {}, fresh);
      expect(job.status, name).to.equal('ready');
      expectTitanSizeNearest(job.conditioning.size, job.conditioning.sourceSize);
      expectCropInside(job.conditioning.crop, job.conditioning.sourceSize);
      const { width, height } = job.conditioning.sourceSize;
      const { width: tw, height: th } = job.conditioning.size;
      console.log(`      prepare ${name} (${width}×${height} → ${tw}×${th}): maxRssMb ${outcome.maxRssMb}, ${outcome.durationMs} ms incl. cold start`);
      await fresh.close();
    }
  });

  it('skips folder markers and records that are not ObjectCreated, writing no job', async () => {
    const folder = await rig().upload('photos/', new Uint8Array(0));
    const photoRecord = await rig().upload('removed/chelsea.png', CHELSEA.bytes);
    const removed: S3EventRecord = { ...structuredClone(photoRecord), eventName: 'ObjectRemoved:Delete' };
    await rig().s3.idle();
    const from = rig().records.length;
    const outcome = await prepare.invoke(eventOf(folder, removed));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(outcome.result).to.deep.equal({ batchItemFailures: [] });
    await rig().s3.idle();
    expect(rig().records.slice(from), 'objects written').to.deep.equal([]);
  });

  it('prepares a key ending in / that has content like any other upload (only an empty one is a folder marker)', async () => {
    const { job } = await prepareUpload('photos/not-a-marker/', CHELSEA.bytes, { prompt: 'a cat' });
    expect(job.status, JSON.stringify(job)).to.equal('ready');
    expect(job.source).to.include({ key: 'photos/not-a-marker/', size: CHELSEA.bytes.length });
  });

  it('decodes the event key: "my photo+1.jpg" arrives as my+photo%2B1.jpg', async () => {
    const key = 'uploads/my photo+1.jpg';
    const { record, job } = await prepareUpload(key, photo('rocket.jpg'), { prompt: 'a rocket' });
    expect(record.s3.object.key).to.equal('uploads/my+photo%2B1.jpg');
    expect(job.status).to.equal('ready');
    expect(job.source.key).to.equal(key);
    expect(job.conditioning.sourceFormat).to.equal('jpeg');
  });

  it('decodes an RFC 2047 encoded prompt (how S3 returns non-ASCII metadata)', async () => {
    const prompt = 'un chat noir à l’encre';
    const encoded = `=?UTF-8?B?${Buffer.from(prompt, 'utf8').toString('base64')}?=`;
    const { job } = await prepareUpload('i18n/chelsea.png', CHELSEA.bytes, { prompt: encoded });
    expect(job.status).to.equal('ready');
    expect(job.parameters.prompt).to.equal(prompt);
  });

  it('skips an event whose upload was replaced since (ETag mismatch); the newer upload has its own event', async () => {
    const older = await rig().upload('replaced/photo.png', CHELSEA.bytes, { prompt: 'old' });
    const newer = await rig().upload('replaced/photo.png', photo('coffee.png'), { prompt: 'new' });
    await rig().s3.idle();
    const from = rig().records.length;
    const stale = await prepare.invoke(eventOf(older));
    expect(stale.ok, describeOutcome(stale)).to.equal(true);
    expect(stale.result).to.deep.equal({ batchItemFailures: [] });
    await rig().s3.idle();
    expect(rig().records.slice(from), 'objects written for the replaced upload').to.deep.equal([]);

    const current = await prepare.invoke(eventOf(newer));
    expect(current.ok, describeOutcome(current)).to.equal(true);
    const jobId = jobIdOfRecord(newer);
    const job = await rig().getJson(BUCKETS.staging, `jobs/${jobId}/job.json`);
    expect(job.source.eTag).to.equal(newer.s3.object.eTag);
    expect(job.parameters.prompt).to.equal('new');
    expect(job.conditioning.sourceSize).to.deep.equal({ width: 600, height: 400 });
  });

  it('rejects an upload deleted before prepare read it with SOURCE_MISSING', async () => {
    const record = await rig().upload('deleted/chelsea.png', CHELSEA.bytes, { prompt: 'gone' });
    await rig().client.send(new DeleteObjectCommand({ Bucket: BUCKETS.input, Key: 'deleted/chelsea.png' }));
    const outcome = await prepare.invoke(eventOf(record));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    const jobId = jobIdOfRecord(record);
    const job = await rig().getJson(BUCKETS.staging, `jobs/${jobId}/job.json`);
    expectRejected(job, 'SOURCE_MISSING');
    expect(job.failure.message).to.equal('s3://input/deleted/chelsea.png no longer exists');
  });

  it('fails every invocation, naming MODEL_ID and the allowed ids, when MODEL_ID is wrong', async () => {
    const misconfigured = rig().startFunction('prepare', prepareEnv({ MODEL_ID: 'nope', DEFAULT_PROMPT: 'x' }));
    const record = await rig().upload('config/chelsea.png', CHELSEA.bytes);
    const from = rig().records.length;
    const outcome = await misconfigured.invoke(eventOf(record));
    expect(outcome.ok).to.equal(false);
    expect(outcome.error?.message).to.include('MODEL_ID').and.include('"nope"').and.include(TITAN);
    await rig().s3.idle();
    expect(rig().records.slice(from)).to.deep.equal([]);
  });
});
