/**
 * Every adapter through the real @aws-sdk/client-bedrock-runtime (configured
 * like the functions' client: only by the standard AWS variables, redirected
 * by AWS_ENDPOINT_URL_BEDROCK_RUNTIME) against the local Bedrock stand-in, which validates each body against the
 * contract and decodes each picture. The pictures are made the way prepare
 * makes them: the photo covered and cropped to the adapter's size, and its
 * Canny edge mask as an 8-bit single-channel PNG.
 */
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { edgeMask, toGrey } from '../../../functions/core/edge-mask';
import { PipelineError } from '../../../functions/core/errors';
import { adapterFor } from '../../../functions/core/models';
import { ConditioningInput, type GeneratedImages, type ModelAdapter } from '../../../functions/core/models/adapter';
import { classifyInvokeFailure } from '../../../functions/core/models/bedrock-errors';
import { seedFor } from '../../../functions/core/seed';
import type { Size } from '../../../functions/core/sizing';
import { ROOT } from '../../../scripts/build-functions';
import {
  CONTENT_FILTER_TRIGGER,
  MODEL_IDS,
  OUTPUT_FILTER_TRIGGER,
  startBedrockStandIn,
  type RecordedImage,
  type StandIn,
} from '../../../scripts/local/bedrock-standin';
import { jobParameters } from '../../helpers/factories';

const PHOTO = join(ROOT, 'assets', 'original.jpg');
const MODELS = [MODEL_IDS.CONTROL_SKETCH, MODEL_IDS.CONTROL_STRUCTURE, MODEL_IDS.TITAN_V2, MODEL_IDS.NOVA_CANVAS] as const;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface Pictures {
  readonly size: Size;
  readonly photo: Buffer;
  readonly edges: Buffer;
}

/** The sized photo and its edge mask, as prepare writes them to staging. */
const preparePictures = async (adapter: ModelAdapter): Promise<Pictures> => {
  const source = await sharp(PHOTO).rotate().metadata();
  const size = adapter.targetSize({ width: source.width, height: source.height });
  const { data, info } = await sharp(PHOTO).rotate().resize(size.width, size.height, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const mask = edgeMask(toGrey(data, info.width, info.height, info.channels));
  const [photo, edges] = await Promise.all([
    sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).png().toBuffer(),
    sharp(mask.data, { raw: { width: info.width, height: info.height, channels: 1 } }).toColourspace('b-w').png().toBuffer(),
  ]);
  return { size, photo, edges };
};

/** What generate does with one job: seeds, calls, InvokeModel, parse; failures sorted like generate sorts them. */
const generate = async (
  modelId: string,
  pictures: Pictures,
  overrides: Parameters<typeof jobParameters>[0] = {},
): Promise<GeneratedImages[]> => {
  const adapter = adapterFor(modelId);
  const parameters = jobParameters(overrides);
  const seeds = Array.from({ length: parameters.count }, (_, i) => seedFor('job-1', i, adapter.limits.seedMax, parameters.seed));
  const image = adapter.conditioningInput === ConditioningInput.EDGES ? pictures.edges : pictures.photo;
  const client = new BedrockRuntimeClient({ maxAttempts: 1 });
  return Promise.all(
    adapter.calls(parameters, pictures.size, image, seeds).map(async (call) => {
      let body: unknown;
      try {
        const command = new InvokeModelCommand({ modelId, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(call.body) });
        body = JSON.parse(new TextDecoder().decode((await client.send(command)).body));
      } catch (error) {
        throw classifyInvokeFailure(error as Error, modelId);
      }
      return adapter.parseResponse(body, call);
    }),
  );
};

const failureOf = async (promise: Promise<unknown>): Promise<PipelineError> => {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(PipelineError);
    return error as PipelineError;
  }
  expect.fail('expected the job to fail');
};

/** The picture the stand-in received in a recorded call. */
const sentImage = (body: unknown): RecordedImage => {
  const b = body as { image?: RecordedImage; textToImageParams?: { conditionImage?: RecordedImage } };
  const image = b.image ?? b.textToImageParams?.conditionImage;
  if (!image) expect.fail('the recorded call carries no image');
  return image;
};

describe('core/models adapters through the SDK and the local Bedrock stand-in', function () {
  this.timeout(60_000);
  const ENV_KEYS = ['AWS_ENDPOINT_URL_BEDROCK_RUNTIME', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
  const savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>> = {};
  let standIn: StandIn;
  const pictures = new Map<string, Pictures>();

  before(async () => {
    for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
    standIn = await startBedrockStandIn({ region: 'us-east-1', answerRetiredModels: true });
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = standIn.endpoint;
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID = 'AKIDSTANDIN';
    process.env.AWS_SECRET_ACCESS_KEY = 'standin-secret';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    for (const id of MODELS) pictures.set(id, await preparePictures(adapterFor(id)));
  });

  after(async () => {
    await standIn?.close();
    for (const key of ENV_KEYS) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  beforeEach(() => {
    standIn.clearCalls();
    standIn.setFaults([]);
  });

  const picturesFor = (id: string): Pictures => pictures.get(id)!;

  for (const id of MODELS) {
    it(`${id}: two images at the prepared size, from the calls the adapter makes`, async () => {
      // Arrange
      const adapter = adapterFor(id);
      const prepared = picturesFor(id);

      // Act
      const results = await generate(id, prepared, { count: 2, negativePrompt: 'blurry' });

      // Assert
      const images = results.flatMap((r) => r.images);
      expect(images).to.have.length(2);
      for (const image of images) {
        const meta = await sharp(image).metadata();
        expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', prepared.size.width, prepared.size.height]);
      }
      expect(results.reduce((n, r) => n + r.blocked, 0)).to.equal(0);
      expect(standIn.calls.map((c) => c.status)).to.deep.equal(adapter.family === 'stability' ? [200, 200] : [200]);
      expect(standIn.calls.every((c) => c.modelId === id)).to.equal(true);
    });
  }

  it('Control Sketch sends the edge mask itself: the stand-in received exactly its bytes, a 1-channel PNG', async () => {
    const prepared = picturesFor(MODEL_IDS.CONTROL_SKETCH);
    await generate(MODEL_IDS.CONTROL_SKETCH, prepared, { count: 3 });
    expect(standIn.calls).to.have.length(3);
    for (const call of standIn.calls) {
      const image = sentImage(call.body);
      expect(image.sha256).to.equal(sha256(prepared.edges));
      expect(image).to.include({ format: 'png', channels: 1, width: prepared.size.width, height: prepared.size.height });
    }
  });

  for (const id of [MODEL_IDS.CONTROL_STRUCTURE, MODEL_IDS.TITAN_V2, MODEL_IDS.NOVA_CANVAS]) {
    it(`${id} sends the sized photo, an RGB PNG`, async () => {
      const prepared = picturesFor(id);
      await generate(id, prepared);
      const image = sentImage(standIn.calls[0]!.body);
      expect(image.sha256).to.equal(sha256(prepared.photo));
      expect(image).to.include({ format: 'png', channels: 3 });
    });
  }

  it('Stability: one call per image with distinct seeds, and the seeds the model reports come back', async () => {
    const results = await generate(MODEL_IDS.CONTROL_SKETCH, picturesFor(MODEL_IDS.CONTROL_SKETCH), { count: 3, seed: 1000 });
    const sent = standIn.calls.map((c) => (c.body as { seed: number }).seed);
    expect([...sent].sort()).to.deep.equal([1000, 1001, 1002]);
    expect(results.flatMap((r) => r.seeds ?? []).sort()).to.deep.equal([1000, 1001, 1002]);
  });

  it('Stability: a user seed of 0 ("random") is answered with the seed the model used', async () => {
    const [result] = await generate(MODEL_IDS.CONTROL_STRUCTURE, picturesFor(MODEL_IDS.CONTROL_STRUCTURE), { seed: 0 });
    expect(result!.seeds).to.have.length(1);
    expect(result!.seeds![0]).to.be.a('number').and.not.equal(0);
  });

  describe('moderation and failures', () => {
    for (const id of MODELS) {
      it(`${id}: a prompt the content filter blocks fails the job with CONTENT_FILTERED`, async () => {
        const error = await failureOf(generate(id, picturesFor(id), { prompt: `a tiger ${CONTENT_FILTER_TRIGGER}` }));
        expect(error.reason).to.equal('CONTENT_FILTERED');
      });
    }

    it('Stability: a blocked prompt arrives as HTTP 200 with a finish reason, and the message quotes it', async () => {
      const error = await failureOf(generate(MODEL_IDS.CONTROL_SKETCH, picturesFor(MODEL_IDS.CONTROL_SKETCH), { prompt: `x ${CONTENT_FILTER_TRIGGER}` }));
      expect(standIn.calls[0]!.status).to.equal(200);
      expect(error.message).to.equal("The model's content filter blocked the request (Filter reason: prompt)");
    });

    it('Stability: a blocked output fails with CONTENT_FILTERED ("Filter reason: output image")', async () => {
      const error = await failureOf(generate(MODEL_IDS.CONTROL_STRUCTURE, picturesFor(MODEL_IDS.CONTROL_STRUCTURE), { prompt: `x ${OUTPUT_FILTER_TRIGGER}` }));
      expect(error.reason).to.equal('CONTENT_FILTERED');
      expect(error.message).to.equal("The model's content filter blocked the request (Filter reason: output image)");
    });

    it('Stability: "Inference error" with HTTP 200 fails with MODEL_ERROR', async () => {
      standIn.setFaults([{ kind: 'inference-error' }]);
      const error = await failureOf(generate(MODEL_IDS.CONTROL_SKETCH, picturesFor(MODEL_IDS.CONTROL_SKETCH)));
      expect(error.reason).to.equal('MODEL_ERROR');
      expect(error.message).to.equal('The model failed to generate the picture (Inference error)');
    });

    it('Nova: some outputs blocked → the survivors, with the blocked ones counted', async () => {
      const [result] = await generate(MODEL_IDS.NOVA_CANVAS, picturesFor(MODEL_IDS.NOVA_CANVAS), { prompt: `x ${OUTPUT_FILTER_TRIGGER}`, count: 4 });
      expect(result!.images).to.have.length(2);
      expect(result!.blocked).to.equal(2);
    });

    it('Titan: every output blocked → CONTENT_FILTERED with the model\'s words', async () => {
      const error = await failureOf(generate(MODEL_IDS.TITAN_V2, picturesFor(MODEL_IDS.TITAN_V2), { prompt: `x ${OUTPUT_FILTER_TRIGGER}` }));
      expect(error.reason).to.equal('CONTENT_FILTERED');
      expect(error.message).to.equal('All of the generated images have been blocked by our content filters.');
    });
  });

  describe('after end of life', () => {
    let retired: StandIn;
    let endpoint: string | undefined;

    before(async () => {
      retired = await startBedrockStandIn({ region: 'us-east-1' });
      endpoint = process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
      process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = retired.endpoint;
    });

    after(async () => {
      process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = endpoint;
      await retired?.close();
    });

    for (const id of [MODEL_IDS.TITAN_V2, MODEL_IDS.NOVA_CANVAS]) {
      it(`${id} fails with MODEL_UNAVAILABLE (ResourceNotFoundException), a permanent failure`, async () => {
        const error = await failureOf(generate(id, picturesFor(id)));
        expect(error.reason).to.equal('MODEL_UNAVAILABLE');
        expect(error.permanent).to.equal(true);
        expect(error.message).to.match(/^[^:]+:0: ResourceNotFoundException: This model version has reached the end of its life/);
      });
    }

    it('Control Sketch still answers', async () => {
      const results = await generate(MODEL_IDS.CONTROL_SKETCH, picturesFor(MODEL_IDS.CONTROL_SKETCH));
      expect(results[0]!.images).to.have.length(1);
    });
  });
});
