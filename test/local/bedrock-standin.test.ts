/**
 * The local Bedrock Runtime stand-in, exercised through the real @aws-sdk/client-bedrock-runtime
 * (default HTTP/2 handler, SigV4 signing, retries, error deserialisation).
 */
import { createHash } from 'node:crypto';
import http2 from 'node:http2';

import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  ResourceNotFoundException,
  ThrottlingException,
  ValidationException,
  type BedrockRuntimeClientConfig,
} from '@aws-sdk/client-bedrock-runtime';
import { expect } from 'chai';
import sharp from 'sharp';

import { NOVA_MAX_SEED, promptTrigger } from '../../scripts/local/bedrock-schemas';
import {
  CONTENT_FILTER_TRIGGER,
  MODEL_IDS,
  OUTPUT_FILTER_TRIGGER,
  STAND_IN_NOTE,
  startBedrockStandIn,
  type RecordedImage,
  type StandIn,
  type StandInOptions,
} from '../../scripts/local/bedrock-standin';

const TITAN = MODEL_IDS.TITAN_V2;
const NOVA = MODEL_IDS.NOVA_CANVAS;
const SKETCH = MODEL_IDS.CONTROL_SKETCH;
const STRUCTURE = MODEL_IDS.CONTROL_STRUCTURE;
const END_OF_LIFE = 'This model version has reached the end of its life. Please refer to the AWS documentation for more details.';
const BLOCKED_PREFIX = 'This request has been blocked by our content filters.';
const malformed = (pointer: string, detail: string): string =>
  `Malformed input request: ${pointer}: ${detail}, please reformat your input and try again.`;

// ---------------------------------------------------------------------------------------------
// Images and request bodies
// ---------------------------------------------------------------------------------------------

/** A Canny-like mask: black, with a white rectangle outline from (w/4, h/4) to (3w/4, 3h/4). */
const edgeMask = async (
  width: number,
  height: number,
  shape: { colour?: 'rgb' | 'grey'; alpha?: number; format?: 'png' | 'jpeg' | 'webp' | 'gif' } = {},
): Promise<Buffer> => {
  // A white rectangle outline on black, drawn in raw pixels: no SVG loader, which prepare's
  // picture module blocks process-wide once a test in this process has loaded it.
  const pixels = Buffer.alloc(width * height * 3);
  const [left, top, right, bottom] = [Math.round(width / 4), Math.round(height / 4), Math.round((3 * width) / 4), Math.round((3 * height) / 4)];
  for (let y = top - 2; y < bottom + 2; y++) {
    for (let x = left - 2; x < right + 2; x++) {
      const onEdge = x < left + 2 || x >= right - 2 || y < top + 2 || y >= bottom - 2;
      if (onEdge && x >= 0 && y >= 0 && x < width && y < height) pixels.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  let image = sharp(await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer());
  if (shape.colour === 'grey') image = image.toColourspace('b-w');
  if (shape.alpha !== undefined) image = image.ensureAlpha(shape.alpha);
  switch (shape.format ?? 'png') {
    case 'png':
      return image.png().toBuffer();
    case 'jpeg':
      return image.jpeg().toBuffer();
    case 'webp':
      return image.webp({ lossless: true }).toBuffer();
    case 'gif':
      return image.gif().toBuffer();
  }
};

const b64 = (bytes: Buffer): string => bytes.toString('base64');
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface TitanBody {
  taskType: string;
  textToImageParams: Record<string, unknown>;
  imageGenerationConfig?: Record<string, unknown>;
  [key: string]: unknown;
}

const titanBody = (conditionImage: Buffer, config: Record<string, unknown> = {}, params: Record<string, unknown> = {}): TitanBody => ({
  taskType: 'TEXT_IMAGE',
  textToImageParams: {
    text: 'a lighthouse at dusk',
    negativeText: 'blurry',
    conditionImage: b64(conditionImage),
    controlMode: 'CANNY_EDGE',
    controlStrength: 0.7,
    ...params,
  },
  imageGenerationConfig: { numberOfImages: 1, width: 512, height: 512, cfgScale: 8, seed: 42, quality: 'standard', ...config },
});

const stabilityBody = (image: Buffer, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  prompt: 'a lighthouse at dusk, ink drawing',
  image: b64(image),
  control_strength: 0.7,
  negative_prompt: 'blurry',
  seed: 42,
  output_format: 'png',
  style_preset: 'line-art',
  ...extra,
});

// ---------------------------------------------------------------------------------------------
// SDK plumbing
// ---------------------------------------------------------------------------------------------

const clientFor = (standIn: StandIn, config: Partial<BedrockRuntimeClientConfig> = {}): BedrockRuntimeClient =>
  new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: standIn.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    ...config,
  });

interface Invoked {
  json: Record<string, unknown>;
  raw: Uint8Array;
  contentType: string | undefined;
}

const invoke = async (client: BedrockRuntimeClient, modelId: string, body: unknown): Promise<Invoked> => {
  const out = await client.send(
    new InvokeModelCommand({ modelId, body: JSON.stringify(body), contentType: 'application/json', accept: 'application/json' }),
  );
  const raw = out.body;
  return { json: JSON.parse(new TextDecoder().decode(raw)) as Record<string, unknown>, raw, contentType: out.contentType };
};

interface SdkError extends Error {
  $metadata: { httpStatusCode?: number; attempts?: number };
}

const invokeError = async (client: BedrockRuntimeClient, modelId: string, body: unknown): Promise<SdkError> => {
  try {
    await invoke(client, modelId, body);
  } catch (error) {
    return error as SdkError;
  }
  throw new Error(`expected ${modelId} to fail`);
};

const expectServiceError = (error: SdkError, name: string, status: number, message?: string | RegExp): void => {
  expect(error.name, error.message).to.equal(name);
  expect(error.$metadata.httpStatusCode).to.equal(status);
  if (typeof message === 'string') expect(error.message).to.equal(message);
  else if (message) expect(error.message).to.match(message);
};

const expectValidation = async (client: BedrockRuntimeClient, modelId: string, body: unknown, message: string | RegExp): Promise<void> => {
  const error = await invokeError(client, modelId, body);
  expect(error).to.be.instanceOf(ValidationException);
  expectServiceError(error, 'ValidationException', 400, message);
};

const imagesOf = (json: Record<string, unknown>): Buffer[] =>
  (json.images as (string | null)[]).map((image) => Buffer.from(image ?? '', 'base64'));

const pixel = async (png: Buffer, x: number, y: number): Promise<[number, number, number]> => {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [data[at] ?? -1, data[at + 1] ?? -1, data[at + 2] ?? -1];
};

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('local Bedrock stand-in (through the real SDK)', () => {
  const started: StandIn[] = [];
  const clients: BedrockRuntimeClient[] = [];
  let mask512: Buffer;
  let standIn: StandIn;
  let client: BedrockRuntimeClient;

  const start = async (options: StandInOptions = {}): Promise<StandIn> => {
    const s = await startBedrockStandIn(options);
    started.push(s);
    return s;
  };
  const newClient = (s: StandIn, config: Partial<BedrockRuntimeClientConfig> = {}): BedrockRuntimeClient => {
    const c = clientFor(s, config);
    clients.push(c);
    return c;
  };

  before(async () => {
    mask512 = await edgeMask(512, 512);
    standIn = await start({ answerRetiredModels: true });
    client = newClient(standIn);
  });

  beforeEach(() => {
    standIn.setFaults([]);
    standIn.clearCalls();
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await Promise.all(started.map((s) => s.close()));
  });

  describe('Titan Image Generator v2', () => {
    it('returns numberOfImages PNGs at the requested size, derived from the conditioning image, and says it is a stand-in', async () => {
      const { json, contentType } = await invoke(client, TITAN, titanBody(mask512, { numberOfImages: 3 }));
      expect(contentType).to.equal('application/json');
      expect(json.standIn).to.equal(STAND_IN_NOTE);
      expect(json.error).to.equal(null);
      const images = imagesOf(json);
      expect(images).to.have.length(3);
      for (const image of images) {
        const meta = await sharp(image).metadata();
        expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 512, 512]);
      }
      // Edges (white in the mask) are drawn in dark ink; the rest is light paper.
      const ink = await pixel(images[0]!, 128, 256);
      const paper = await pixel(images[0]!, 20, 20);
      expect(Math.max(...ink)).to.be.below(100);
      expect(Math.min(...paper)).to.be.above(190);
      // Each image is tinted a little differently.
      expect(images[0]!.equals(images[1]!)).to.equal(false);
      expect(images[1]!.equals(images[2]!)).to.equal(false);
    });

    it('records the call with the image summarised, hashed and never stored', async () => {
      await invoke(client, TITAN, titanBody(mask512));
      expect(standIn.calls).to.have.length(1);
      const call = standIn.calls[0]!;
      expect(call.modelId).to.equal(TITAN);
      expect(call.path).to.equal('/model/amazon.titan-image-generator-v2%3A0/invoke');
      expect([call.status, call.errorType, call.imagesReturned, call.delivered]).to.deep.equal([200, null, 1, true]);
      const body = call.body as { textToImageParams: { conditionImage: RecordedImage; text: string } };
      expect(body.textToImageParams.text).to.equal('a lighthouse at dusk');
      expect(body.textToImageParams.conditionImage).to.deep.include({
        bytes: mask512.length,
        sha256: sha256(mask512),
        format: 'png',
        width: 512,
        height: 512,
        channels: 3,
        hasAlpha: false,
      });
    });

    it('answers like the real service after end of life by default (ResourceNotFoundException)', async () => {
      const eol = await start();
      const c = newClient(eol);
      const error = await invokeError(c, TITAN, titanBody(mask512));
      expect(error).to.be.instanceOf(ResourceNotFoundException);
      expectServiceError(error, 'ResourceNotFoundException', 404, END_OF_LIFE);
      expect(eol.calls[0]).to.deep.include({ status: 404, errorType: 'ResourceNotFoundException' });
      // Nova Canvas too; Titan v1 always.
      expectServiceError(await invokeError(c, NOVA, titanBody(mask512)), 'ResourceNotFoundException', 404, END_OF_LIFE);
      expectServiceError(await invokeError(c, MODEL_IDS.TITAN_V1, titanBody(mask512)), 'ResourceNotFoundException', 404, END_OF_LIFE);
    });

    it('rejects extraneous keys with the real message', async () => {
      await expectValidation(client, TITAN, titanBody(mask512, {}, { x: 1 }), malformed('#/textToImageParams', 'extraneous key [x] is not permitted'));
      await expectValidation(client, TITAN, { ...titanBody(mask512), extra: true }, malformed('#', 'extraneous key [extra] is not permitted'));
      await expectValidation(client, TITAN, titanBody(mask512, { style: 'PHOTOREALISM' }), malformed('#/imageGenerationConfig', 'extraneous key [style] is not permitted'));
      // `style` is Nova-only.
      await expectValidation(client, TITAN, titanBody(mask512, {}, { style: 'PHOTOREALISM' }), malformed('#/textToImageParams', 'extraneous key [style] is not permitted'));
    });

    it('checks required keys, types, lengths, ranges and enums', async () => {
      const cases: [unknown, string, string][] = [
        [titanBody(mask512, {}, { text: '' }), '#/textToImageParams/text', 'expected minLength: 1, actual: 0'],
        [titanBody(mask512, {}, { text: 'a'.repeat(513) }), '#/textToImageParams/text', 'expected maxLength: 512, actual: 513'],
        [titanBody(mask512, {}, { negativeText: 'n'.repeat(513) }), '#/textToImageParams/negativeText', 'expected maxLength: 512, actual: 513'],
        [titanBody(mask512, {}, { text: 42 }), '#/textToImageParams/text', 'expected type: String, found: Integer'],
        [titanBody(mask512, { numberOfImages: 6 }), '#/imageGenerationConfig/numberOfImages', '6 is not less or equal to 5'],
        [titanBody(mask512, { numberOfImages: 0 }), '#/imageGenerationConfig/numberOfImages', '0 is not greater or equal to 1'],
        [titanBody(mask512, { numberOfImages: 1.5 }), '#/imageGenerationConfig/numberOfImages', 'expected type: Integer, found: BigDecimal'],
        [titanBody(mask512, { cfgScale: 1 }), '#/imageGenerationConfig/cfgScale', '1 is not greater or equal to 1.1'],
        [titanBody(mask512, { cfgScale: 10.5 }), '#/imageGenerationConfig/cfgScale', '10.5 is not less or equal to 10'],
        [titanBody(mask512, { seed: 2_147_483_647 }), '#/imageGenerationConfig/seed', '2147483647 is not less or equal to 2147483646'],
        [titanBody(mask512, { seed: -1 }), '#/imageGenerationConfig/seed', '-1 is not greater or equal to 0'],
        [titanBody(mask512, { quality: 'ultra' }), '#/imageGenerationConfig/quality', 'ultra is not a valid enum value'],
        [titanBody(mask512, { width: '512' }), '#/imageGenerationConfig/width', 'expected type: Integer, found: String'],
        [titanBody(mask512, {}, { controlMode: 'DEPTH' }), '#/textToImageParams/controlMode', 'DEPTH is not a valid enum value'],
        [titanBody(mask512, {}, { controlStrength: 1.2 }), '#/textToImageParams/controlStrength', '1.2 is not less or equal to 1'],
        [titanBody(mask512, {}, { controlStrength: null }), '#/textToImageParams/controlStrength', 'expected type: Number, found: Null'],
        [{ ...titanBody(mask512), taskType: 'TEXT_TO_IMAGE' }, '#/taskType', 'TEXT_TO_IMAGE is not a valid enum value'],
        [{ textToImageParams: { text: 'x' } }, '#', 'required key [taskType] not found'],
        [{ taskType: 'TEXT_IMAGE' }, '#', 'required key [textToImageParams] not found'],
        [{ taskType: 'TEXT_IMAGE', textToImageParams: {} }, '#/textToImageParams', 'required key [text] not found'],
        [[1, 2], '#', 'expected type: JSONObject, found: JSONArray'],
      ];
      for (const [body, pointer, detail] of cases) await expectValidation(client, TITAN, body, malformed(pointer, detail));
    });

    it('requires conditionImage when controlMode or controlStrength is sent', async () => {
      const { conditionImage: _dropped, ...params } = titanBody(mask512).textToImageParams;
      await expectValidation(
        client,
        TITAN,
        { ...titanBody(mask512), textToImageParams: params },
        malformed('#/textToImageParams', 'property [conditionImage] is required by [controlMode]'),
      );
      const { controlMode: _mode, ...onlyStrength } = params;
      await expectValidation(
        client,
        TITAN,
        { ...titanBody(mask512), textToImageParams: onlyStrength },
        malformed('#/textToImageParams', 'property [conditionImage] is required by [controlStrength]'),
      );
      // Text only (no conditioning at all) is a valid request: a hatched placeholder comes back.
      const { json } = await invoke(client, TITAN, { taskType: 'TEXT_IMAGE', textToImageParams: { text: 'plain' }, imageGenerationConfig: { width: 384, height: 576 } });
      expect((await sharp(imagesOf(json)[0]!).metadata()).width).to.equal(384);
    });

    it('accepts only the exact width×height pairs', async () => {
      await expectValidation(client, TITAN, titanBody(mask512, { width: 1000, height: 1000 }), /^Malformed input request: #\/imageGenerationConfig: width x height 1000x1000 is not a supported size, expected one of: 1024x1024, 768x768, 512x512,/);
      await expectValidation(client, TITAN, titanBody(mask512, { width: 512, height: 768 }), /width x height 512x768 is not a supported size/);
      // Defaults are 1024x1024, so a 512 mask without width/height mismatches the output size.
      const { width: _w, height: _h, ...noSize } = titanBody(mask512).imageGenerationConfig!;
      await expectValidation(client, TITAN, { ...titanBody(mask512), imageGenerationConfig: noSize }, /conditionImage is 512x512 but the requested output is 1024x1024/);
      const mask = await edgeMask(1173, 640);
      const { json } = await invoke(client, TITAN, titanBody(mask, { width: 1173, height: 640 }));
      expect((await sharp(imagesOf(json)[0]!).metadata()).width).to.equal(1173);
    });

    it('checks the conditioning image: base64, format, RGB 8-bit, no alpha, 5 MB, size equal to the output', async () => {
      const pointer = '#/textToImageParams/conditionImage';
      const withImage = (image: string): TitanBody => titanBody(mask512, {}, { conditionImage: image });
      await expectValidation(client, TITAN, withImage(`data:image/png;base64,${b64(mask512)}`), malformed(pointer, 'expected plain base64, found a data: URL prefix'));
      await expectValidation(client, TITAN, withImage(b64(mask512).slice(0, -1)), malformed(pointer, 'string is not valid base64'));
      await expectValidation(client, TITAN, withImage(''), malformed(pointer, 'expected a base64-encoded image, found an empty string'));
      await expectValidation(client, TITAN, withImage(b64(Buffer.from('not an image at all'))), malformed(pointer, 'image could not be decoded'));
      await expectValidation(client, TITAN, withImage(b64(await edgeMask(512, 512, { format: 'webp' }))), malformed(pointer, 'image format webp is not supported, expected one of: png, jpeg'));
      await expectValidation(client, TITAN, withImage(b64(await edgeMask(512, 512, { format: 'gif' }))), malformed(pointer, 'image format gif is not supported, expected one of: png, jpeg'));
      await expectValidation(client, TITAN, withImage(b64(await edgeMask(512, 512, { colour: 'grey' }))), malformed(pointer, 'image must be RGB with 8 bits per channel, found 1 colour channel(s), colour space b-w, sample format uchar'));
      await expectValidation(client, TITAN, withImage(b64(await edgeMask(512, 512, { alpha: 1 }))), malformed(pointer, 'image must not have an alpha channel (RGB only)'));
      const sixteenBit = await sharp(mask512).toColourspace('rgb16').png().toBuffer();
      await expectValidation(client, TITAN, withImage(b64(sixteenBit)), /image must be RGB with 8 bits per channel, found 3 colour channel\(s\), colour space rgb16, sample format ushort/);
      const oversized = Buffer.concat([mask512, Buffer.alloc(5 * 1024 * 1024)]);
      await expectValidation(client, TITAN, withImage(b64(oversized)), malformed(pointer, `image is ${oversized.length} bytes, at most 5242880 bytes (5 MB) are allowed`));
      await expectValidation(client, TITAN, withImage(b64(await edgeMask(768, 768))), /^Malformed input request: #\/textToImageParams\/conditionImage: conditionImage is 768x768 but the requested output is 512x512/);
      // JPEG is fine.
      const { json } = await invoke(client, TITAN, withImage(b64(await edgeMask(512, 512, { format: 'jpeg' }))));
      expect(imagesOf(json)).to.have.length(1);
    });

    it('blocks a prompt with the trigger word as the content filter would (400 ValidationException)', async () => {
      await expectValidation(client, TITAN, titanBody(mask512, {}, { text: `a ${CONTENT_FILTER_TRIGGER} scene` }), new RegExp(`^${BLOCKED_PREFIX}`));
    });

    it('accepts foundation-model ARNs for the pretended region only', async () => {
      const { json } = await invoke(client, `arn:aws:bedrock:us-east-1::foundation-model/${TITAN}`, titanBody(mask512));
      expect(imagesOf(json)).to.have.length(1);
      expect(standIn.calls[0]!.path).to.equal(`/model/${encodeURIComponent(`arn:aws:bedrock:us-east-1::foundation-model/${TITAN}`)}/invoke`);
      await expectValidation(client, `arn:aws:bedrock:us-west-2::foundation-model/${TITAN}`, titanBody(mask512), 'The provided model identifier is invalid.');
    });
  });

  describe('Nova Canvas', () => {
    const novaBody = (image: Buffer, config: Record<string, unknown> = {}, params: Record<string, unknown> = {}): TitanBody => {
      const body = titanBody(image, { cfgScale: 6.5, seed: 12, ...config }, { style: 'DESIGN_SKETCH', ...params });
      return body;
    };

    it('returns the requested images', async () => {
      const { json } = await invoke(client, NOVA, novaBody(mask512, { numberOfImages: 2 }));
      expect(json).to.include({ error: null, standIn: STAND_IN_NOTE });
      expect(imagesOf(json)).to.have.length(2);
      const meta = await sharp(imagesOf(json)[1]!).metadata();
      expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 512, 512]);
    });

    it('checks its own limits: lengths, style, seed, sides, multiples of 16, pixels, aspect ratio', async () => {
      const cases: [TitanBody, string, string | RegExp][] = [
        [novaBody(mask512, {}, { negativeText: '' }), '#/textToImageParams/negativeText', 'expected minLength: 1, actual: 0'],
        [novaBody(mask512, {}, { text: 'a'.repeat(1025) }), '#/textToImageParams/text', 'expected maxLength: 1024, actual: 1025'],
        [novaBody(mask512, {}, { style: 'WATERCOLOUR' }), '#/textToImageParams/style', 'WATERCOLOUR is not a valid enum value'],
        [novaBody(mask512, { seed: NOVA_MAX_SEED + 1 }), '#/imageGenerationConfig/seed', `${NOVA_MAX_SEED + 1} is not less or equal to ${NOVA_MAX_SEED}`],
        [novaBody(mask512, { width: 520 }), '#/imageGenerationConfig/width', '520 is not a multiple of 16'],
        [novaBody(mask512, { width: 304 }), '#/imageGenerationConfig/width', '304 is not greater or equal to 320'],
        [novaBody(mask512, { height: 4112 }), '#/imageGenerationConfig/height', '4112 is not less or equal to 4096'],
        [novaBody(mask512, { width: 4096, height: 1040 }), '#/imageGenerationConfig', 'width x height 4096x1040 is 4259840 pixels, at most 4194304 are allowed'],
        [novaBody(mask512, { width: 1296, height: 320 }), '#/imageGenerationConfig', 'width x height 1296x320: the aspect ratio must be between 1:4 and 4:1'],
      ];
      for (const [body, pointer, detail] of cases) await expectValidation(client, NOVA, body, typeof detail === 'string' ? malformed(pointer, detail) : detail);
      // Sizes Titan refuses are fine for Nova when they follow its rules.
      const { json } = await invoke(client, NOVA, novaBody(await edgeMask(1280, 320), { width: 1280, height: 320 }));
      expect((await sharp(imagesOf(json)[0]!).metadata()).height).to.equal(320);
    });

    it('accepts alpha only when fully opaque', async () => {
      const { json } = await invoke(client, NOVA, novaBody(await edgeMask(512, 512, { alpha: 1 })));
      expect(imagesOf(json)).to.have.length(1);
      await expectValidation(
        client,
        NOVA,
        novaBody(await edgeMask(512, 512, { alpha: 0.5 })),
        malformed('#/textToImageParams/conditionImage', 'image has an alpha channel that is not fully opaque'),
      );
    });

    it('blocks a prompt with the trigger word (400 ValidationException)', async () => {
      await expectValidation(client, NOVA, novaBody(mask512, {}, { text: CONTENT_FILTER_TRIGGER }), new RegExp(`^${BLOCKED_PREFIX}`));
    });

    it('drops some or all outputs for the output trigger word, with the real error strings', async () => {
      const partial = await invoke(client, NOVA, novaBody(mask512, { numberOfImages: 3 }, { text: `a ${OUTPUT_FILTER_TRIGGER} scene` }));
      expect(partial.json.error).to.equal('Some of the generated images have been blocked by our content filters.');
      expect(imagesOf(partial.json)).to.have.length(1);
      const all = await invoke(client, NOVA, novaBody(mask512, { numberOfImages: 1 }, { text: OUTPUT_FILTER_TRIGGER }));
      expect(all.json.error).to.equal('All of the generated images have been blocked by our content filters.');
      expect(all.json.images).to.deep.equal([]);
      expect(standIn.calls.map((c) => [c.status, c.imagesReturned, c.message])).to.deep.equal([
        [200, 1, 'Some of the generated images have been blocked by our content filters.'],
        [200, 0, 'All of the generated images have been blocked by our content filters.'],
      ]);
    });

    it('answers "invalid model identifier" outside its regions, and works in eu-west-1', async () => {
      const eu = await start({ answerRetiredModels: true, region: 'eu-west-1' });
      const c = newClient(eu, { region: 'eu-west-1' });
      expect(imagesOf((await invoke(c, NOVA, novaBody(mask512))).json)).to.have.length(1);
      await expectValidation(c, TITAN, titanBody(mask512), 'The provided model identifier is invalid.');
      await expectValidation(c, SKETCH, stabilityBody(mask512), 'The provided model identifier is invalid.');
    });
  });

  describe('Stability Control Sketch / Control Structure', () => {
    let mask: Buffer;
    before(async () => {
      mask = await edgeMask(640, 448);
    });

    it('returns one image at the input size, with the requested seed and format', async () => {
      const { json } = await invoke(client, SKETCH, stabilityBody(mask));
      expect(json).to.deep.include({ seeds: [42], finish_reasons: [null], standIn: STAND_IN_NOTE });
      const images = imagesOf(json);
      expect(images).to.have.length(1);
      const meta = await sharp(images[0]!).metadata();
      expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 640, 448]);
      expect(Math.max(...(await pixel(images[0]!, 160, 224)))).to.be.below(100);

      const webp = await invoke(client, STRUCTURE, stabilityBody(await edgeMask(640, 448, { format: 'jpeg' }), { output_format: 'webp' }));
      expect((await sharp(imagesOf(webp.json)[0]!).metadata()).format).to.equal('webp');
    });

    it('records the sent image hash (so callers can check the edge mask went out)', async () => {
      await invoke(client, SKETCH, stabilityBody(mask));
      const recorded = (standIn.calls[0]!.body as { image: RecordedImage }).image;
      expect(recorded).to.deep.include({ sha256: sha256(mask), width: 640, height: 448, format: 'png' });
    });

    it('derives a non-zero seed when none (or 0) is sent, deterministically', async () => {
      const { seed: _seed, ...noSeed } = stabilityBody(mask);
      const first = await invoke(client, SKETCH, noSeed);
      const second = await invoke(client, SKETCH, { ...noSeed, seed: 0 });
      const [seed] = first.json.seeds as number[];
      expect(seed).to.be.a('number').and.above(0);
      expect(first.raw).to.deep.equal((await invoke(client, SKETCH, noSeed)).raw);
      expect((second.json.seeds as number[])[0]).to.be.above(0);
    });

    it('validates the body: extraneous keys, required keys, ranges, enums', async () => {
      const cases: [Record<string, unknown>, string, string][] = [
        [stabilityBody(mask, { cfg_scale: 7 }), '#', 'extraneous key [cfg_scale] is not permitted'],
        [stabilityBody(mask, { width: 640 }), '#', 'extraneous key [width] is not permitted'],
        [{ image: b64(mask) }, '#', 'required key [prompt] not found'],
        [{ prompt: 'p' }, '#', 'required key [image] not found'],
        [stabilityBody(mask, { prompt: '' }), '#/prompt', 'expected minLength: 1, actual: 0'],
        [stabilityBody(mask, { prompt: 'p'.repeat(10_001) }), '#/prompt', 'expected maxLength: 10000, actual: 10001'],
        [stabilityBody(mask, { negative_prompt: 'n'.repeat(10_001) }), '#/negative_prompt', 'expected maxLength: 10000, actual: 10001'],
        [stabilityBody(mask, { control_strength: 1.5 }), '#/control_strength', '1.5 is not less or equal to 1'],
        [stabilityBody(mask, { control_strength: '0.5' }), '#/control_strength', 'expected type: Number, found: String'],
        [stabilityBody(mask, { seed: 4_294_967_295 }), '#/seed', '4294967295 is not less or equal to 4294967294'],
        [stabilityBody(mask, { output_format: 'gif' }), '#/output_format', 'gif is not a valid enum value'],
        [stabilityBody(mask, { style_preset: 'watercolour' }), '#/style_preset', 'watercolour is not a valid enum value'],
      ];
      for (const [body, pointer, detail] of cases) await expectValidation(client, SKETCH, body, malformed(pointer, detail));
    });

    it('checks the input image: format, sides ≥ 64, pixels, aspect ratio', async () => {
      const withImage = async (image: Buffer): Promise<Record<string, unknown>> => stabilityBody(image);
      await expectValidation(client, SKETCH, await withImage(await edgeMask(64, 48)), malformed('#/image', 'image is 64x48, each side must be at least 64 pixels'));
      await expectValidation(client, SKETCH, await withImage(await edgeMask(768, 256)), malformed('#/image', 'image is 768x256, its aspect ratio must be between 1:2.5 and 2.5:1'));
      await expectValidation(client, SKETCH, await withImage(await edgeMask(3072, 3080)), malformed('#/image', 'image is 3072x3080 (9461760 pixels), at most 9437184 pixels are allowed'));
      await expectValidation(client, SKETCH, await withImage(await edgeMask(256, 256, { format: 'gif' })), malformed('#/image', 'image format gif is not supported, expected one of: jpeg, png, webp'));
      // Greyscale and webp are fine for Stability.
      const { json } = await invoke(client, SKETCH, await withImage(await edgeMask(256, 640, { colour: 'grey', format: 'webp' })));
      expect((await sharp(imagesOf(json)[0]!).metadata()).height).to.equal(640);
    });

    it('refuses the base model id (on-demand throughput not supported)', async () => {
      for (const base of [MODEL_IDS.CONTROL_SKETCH_BASE, MODEL_IDS.CONTROL_STRUCTURE_BASE]) {
        await expectValidation(
          client,
          base,
          stabilityBody(mask),
          `Invocation of model ID ${base} with on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`,
        );
      }
      const profileArn = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${SKETCH}`;
      expect(imagesOf((await invoke(client, profileArn, stabilityBody(mask))).json)).to.have.length(1);
    });

    it('filters a prompt with HTTP 200 and a finish reason, not an exception', async () => {
      const { json } = await invoke(client, SKETCH, stabilityBody(mask, { prompt: `a ${CONTENT_FILTER_TRIGGER} scene` }));
      expect(json).to.deep.include({ seeds: [42], finish_reasons: ['Filter reason: prompt'], images: [null] });
      const output = await invoke(client, STRUCTURE, stabilityBody(mask, { prompt: OUTPUT_FILTER_TRIGGER }));
      expect(output.json.finish_reasons).to.deep.equal(['Filter reason: output image']);
      expect(standIn.calls.map((c) => [c.status, c.errorType, c.imagesReturned])).to.deep.equal([
        [200, null, 0],
        [200, null, 0],
      ]);
    });
  });

  describe('model ids and routes', () => {
    it('answers an unknown model id with "The provided model identifier is invalid."', async () => {
      await expectValidation(client, 'amazon.titan-image-generator-v3:0', titanBody(mask512), 'The provided model identifier is invalid.');
      await expectValidation(client, 'stability.sd3-large-v1:0', stabilityBody(mask512), 'The provided model identifier is invalid.');
    });

    it('answers other routes with 404 UnknownOperationException', async () => {
      const session = http2.connect(standIn.endpoint);
      try {
        const answer = await new Promise<{ status: number; type: unknown; note: unknown }>((resolve, reject) => {
          const request = session.request({ ':method': 'GET', ':path': '/foundation-models' });
          request.on('response', (headers) => {
            request.resume();
            request.on('end', () => resolve({ status: headers[':status'] ?? 0, type: headers['x-amzn-errortype'], note: headers['x-standin'] }));
          });
          request.on('error', reject);
          request.end();
        });
        expect(answer).to.deep.equal({ status: 404, type: 'UnknownOperationException', note: STAND_IN_NOTE });
      } finally {
        session.close();
      }
    });

    it('is reachable through AWS_ENDPOINT_URL_BEDROCK_RUNTIME without an endpoint in the client config', async () => {
      const saved = process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
      process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = standIn.endpoint;
      try {
        const c = new BedrockRuntimeClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
        clients.push(c);
        const { json } = await invoke(c, TITAN, titanBody(mask512));
        expect(json.standIn).to.equal(STAND_IN_NOTE);
        expect(standIn.calls).to.have.length(1);
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
        else process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = saved;
      }
    });
  });

  describe('fault injection', () => {
    it('throttle: a single ThrottlingException with maxAttempts 1', async () => {
      standIn.setFaults([{ kind: 'throttle', times: 2 }]);
      const c = newClient(standIn, { maxAttempts: 1 });
      const error = await invokeError(c, TITAN, titanBody(mask512));
      expect(error).to.be.instanceOf(ThrottlingException);
      expectServiceError(error, 'ThrottlingException', 429, 'Too many requests, please wait before trying again.');
      expect(standIn.calls).to.have.length(1);
      expect(standIn.calls[0]).to.deep.include({ status: 429, errorType: 'ThrottlingException', fault: 'throttle' });
    });

    it('throttle ×2: the SDK retries by default and the third attempt succeeds', async () => {
      standIn.setFaults([{ kind: 'throttle', times: 2 }]);
      const out = await client.send(new InvokeModelCommand({ modelId: TITAN, body: JSON.stringify(titanBody(mask512)), contentType: 'application/json' }));
      expect(out.$metadata.attempts).to.equal(3);
      expect(standIn.calls.map((c) => c.status)).to.deep.equal([429, 429, 200]);
    });

    it('status faults raise the matching exceptions; they count down and run in order', async () => {
      standIn.setFaults([
        { kind: 'status', status: 503 },
        { kind: 'status', status: 500 },
        { kind: 'status', status: 403 },
        { kind: 'status', status: 408 },
        { kind: 'status', status: 424, message: 'custom model failure' },
        { kind: 'end-of-life' },
        { kind: 'content-filter' },
        { kind: 'inference-error', modelId: SKETCH },
      ]);
      const c = newClient(standIn, { maxAttempts: 1 });
      expectServiceError(await invokeError(c, TITAN, titanBody(mask512)), 'ServiceUnavailableException', 503, 'Bedrock is unable to process your request.');
      expectServiceError(await invokeError(c, TITAN, titanBody(mask512)), 'InternalServerException', 500);
      expectServiceError(await invokeError(c, TITAN, titanBody(mask512)), 'AccessDeniedException', 403, "You don't have access to the model with the specified model ID.");
      expectServiceError(await invokeError(c, TITAN, titanBody(mask512)), 'ModelTimeoutException', 408);
      expectServiceError(await invokeError(c, TITAN, titanBody(mask512)), 'ModelErrorException', 424, 'custom model failure');
      expectServiceError(await invokeError(c, SKETCH, stabilityBody(mask512)), 'ResourceNotFoundException', 404, END_OF_LIFE);
      expectServiceError(await invokeError(c, NOVA, titanBody(mask512)), 'ValidationException', 400, new RegExp(`^${BLOCKED_PREFIX}`));
      // The model-specific fault waits for its model.
      expect(imagesOf((await invoke(c, TITAN, titanBody(mask512))).json)).to.have.length(1);
      const failed = await invoke(c, SKETCH, stabilityBody(mask512));
      expect(failed.json).to.deep.include({ finish_reasons: ['Inference error'], images: [null] });
      // All used up.
      expect(imagesOf((await invoke(c, SKETCH, stabilityBody(mask512))).json)).to.have.length(1);
      expect(standIn.calls.map((call) => call.fault)).to.deep.equal([
        'status', 'status', 'status', 'status', 'status', 'end-of-life', 'content-filter', null, 'inference-error', null,
      ]);
    });

    it('content-filter fault on Stability answers 200 with "Filter reason: prompt"', async () => {
      standIn.setFaults([{ kind: 'content-filter' }]);
      const { json } = await invoke(client, STRUCTURE, stabilityBody(mask512));
      expect(json).to.deep.include({ seeds: [42], finish_reasons: ['Filter reason: prompt'], images: [null] });
    });

    it('a 500 is retried by the SDK with default attempts', async () => {
      standIn.setFaults([{ kind: 'status', status: 500, times: 1 }]);
      const { json } = await invoke(client, TITAN, titanBody(mask512));
      expect(imagesOf(json)).to.have.length(1);
      expect(standIn.calls.map((c) => c.status)).to.deep.equal([500, 200]);
    });

    it('delay: trips a client request timeout; the late answer is recorded as undelivered', async () => {
      standIn.setFaults([{ kind: 'delay', ms: 600 }]);
      const c = newClient(standIn, { maxAttempts: 1, requestHandler: { requestTimeout: 150 } });
      const started = Date.now();
      const error = await invokeError(c, TITAN, titanBody(mask512));
      expect(error.name).to.equal('TimeoutError');
      expect(Date.now() - started).to.be.below(550);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(standIn.calls[0]).to.deep.include({ status: 200, fault: 'delay', delivered: false });
      // Used up: the next call answers at once.
      expect(imagesOf((await invoke(client, TITAN, titanBody(mask512))).json)).to.have.length(1);
    });

    it('quota: answers at most callsPerSecond a second, however many calls arrive at once', async () => {
      standIn.setFaults([
        { kind: 'delay', ms: 100, times: Infinity },
        { kind: 'quota', callsPerSecond: 10, times: Infinity },
      ]);
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 6 }, () => invoke(client, TITAN, titanBody(mask512))));
      expect(answers.every((a) => imagesOf(a.json).length === 1)).to.equal(true);
      // The delay first (100 ms), then one turn each 100 ms: answer i leaves no sooner than
      // 100 + i × 100 ms after the calls were sent (a busy machine only makes it later).
      const ends = standIn.calls.map((c) => c.endedAt! - started).sort((a, b) => a - b);
      ends.forEach((end, i) => expect(end, `answer ${i + 1}`).to.be.at.least(100 + i * 100 - 5));
      expect(ends[5]).to.be.below(2000);
      expect(standIn.calls.map((c) => c.fault)).to.deep.equal(Array(6).fill('quota'));
    });

    it('close() does not wait for a pending delay', async () => {
      const slow = await startBedrockStandIn({ answerRetiredModels: true, faults: [{ kind: 'delay', ms: 30_000 }] });
      const c = newClient(slow, { maxAttempts: 1 });
      const pending = invokeError(c, TITAN, titanBody(mask512));
      while (slow.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const started = Date.now();
      await slow.close();
      const error = await pending;
      expect(error).to.be.instanceOf(Error);
      expect(Date.now() - started).to.be.below(2000);
    });

    it('rejects malformed fault lists', () => {
      expect(() => standIn.setFaults([{ kind: 'throttle', times: 0 }])).to.throw(TypeError, /times/);
      expect(() => standIn.setFaults([{ kind: 'delay', ms: -1 }])).to.throw(TypeError, /ms/);
      expect(() => standIn.setFaults([{ kind: 'quota', callsPerSecond: 0 }])).to.throw(TypeError, /callsPerSecond/);
      expect(() => standIn.setFaults([{ kind: 'status', status: 418 as 500 }])).to.throw(TypeError, /status/);
    });
  });

  describe('determinism', () => {
    it('gives byte-identical answers to identical requests', async () => {
      const body = titanBody(mask512, { numberOfImages: 2 });
      const first = await invoke(client, TITAN, body);
      const second = await invoke(client, TITAN, body);
      expect(Buffer.from(first.raw).equals(Buffer.from(second.raw))).to.equal(true);
      const novaFirst = await invoke(client, NOVA, body);
      expect(Buffer.from(novaFirst.raw).equals(Buffer.from((await invoke(client, NOVA, body)).raw))).to.equal(true);
      // A different seed gives a different picture.
      const reseeded = await invoke(client, TITAN, titanBody(mask512, { numberOfImages: 2, seed: 43 }));
      expect(imagesOf(reseeded.json)[0]!.equals(imagesOf(first.json)[0]!)).to.equal(false);
      const mask = await edgeMask(640, 448);
      const s1 = await invoke(client, SKETCH, stabilityBody(mask));
      const s2 = await invoke(client, SKETCH, stabilityBody(mask));
      expect(Buffer.from(s1.raw).equals(Buffer.from(s2.raw))).to.equal(true);
    });
  });

  describe('trigger words (pure)', () => {
    it('tells the input trigger from the output trigger', () => {
      expect(promptTrigger('a standin-blocked cat')).to.equal('input');
      expect(promptTrigger('a standin-blocked-output cat')).to.equal('output');
      expect(promptTrigger('standin-blocked-output and standin-blocked')).to.equal('input');
      expect(promptTrigger('a cat')).to.equal(null);
    });
  });
});
