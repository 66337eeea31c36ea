import { expect } from 'chai';
import type { ModelCall } from '../../../functions/core/models/adapter';
import { TITAN_SIZES, titanAdapter } from '../../../functions/core/models/titan';
import type { Size } from '../../../functions/core/sizing';
import { expectPipelineError, expectThrows } from '../../helpers/assertions';
import { jobParameters } from '../../helpers/factories';
import { bodyViolation, expectValidBody, sourceShapes } from './schema-check';

const SIZE: Size = { width: 1152, height: 640 };
const IMAGE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x10, 0x80]);
const png = (n: number): string => Buffer.from([0x89, 0x50, 0x4e, 0x47, n]).toString('base64');
const callFor = (images: number): ModelCall => ({ body: {}, seed: 7, images });

describe('core/models/titan', () => {
  describe('limits and sizes', () => {
    it('states the documented Titan v2 limits', () => {
      expect(titanAdapter.family).to.equal('titan');
      expect(titanAdapter.conditioningInput).to.equal('photo');
      expect(titanAdapter.limits).to.deep.equal({
        promptMaxLength: 512,
        negativePromptMaxLength: 512,
        seedMax: 2_147_483_646,
        countMax: 5,
        controlModes: ['CANNY_EDGE', 'SEGMENTATION'],
        qualities: ['standard', 'premium'],
      });
    });

    it('lists exactly the 25 documented width × height pairs', () => {
      const documented =
        '1024×1024, 768×768, 512×512, 768×1152, 384×576, 1152×768, 576×384, 768×1280, 384×640, 1280×768, 640×384, 896×1152, 448×576, 1152×896, 576×448, 768×1408, 384×704, 1408×768, 704×384, 640×1408, 320×704, 1408×640, 704×320, 1152×640, 1173×640';
      expect(TITAN_SIZES.map((s) => `${s.width}×${s.height}`).join(', ')).to.equal(documented);
    });

    it('uses every parameter: none is unused', () => {
      expect(titanAdapter.unusedParameters).to.deep.equal([]);
    });

    it('gives a size the stand-in schema accepts for every source shape', () => {
      for (const source of sourceShapes()) {
        const size = titanAdapter.targetSize(source);
        const [call] = titanAdapter.calls(jobParameters(), size, IMAGE, [1]);
        expect(bodyViolation('titan', call!.body), `${source.width}×${source.height}`).to.equal(null);
      }
    });

    it('targetSize only ever returns a Titan size', () => {
      for (const width of [64, 100, 640, 1000, 1920, 3024, 4032, 5120, 12000]) {
        for (const height of [64, 100, 480, 1080, 2880, 3024, 4032, 9000]) {
          expect(TITAN_SIZES, `${width}×${height}`).to.deep.include(titanAdapter.targetSize({ width, height }));
        }
      }
    });
  });

  describe('calls', () => {
    it('builds one call whose body is exactly the documented TEXT_IMAGE request', () => {
      // Arrange
      const parameters = jobParameters({
        prompt: 'a tiger',
        negativePrompt: 'blurry',
        controlMode: 'SEGMENTATION',
        controlStrength: 0.4,
        count: 3,
        quality: 'premium',
      });

      // Act
      const calls = titanAdapter.calls(parameters, SIZE, IMAGE, [42, 43, 44]);

      // Assert
      expect(calls).to.have.length(1);
      expect(calls[0]).to.deep.equal({
        seed: 42,
        images: 3,
        body: {
          taskType: 'TEXT_IMAGE',
          textToImageParams: {
            text: 'a tiger',
            negativeText: 'blurry',
            conditionImage: Buffer.from(IMAGE).toString('base64'),
            controlMode: 'SEGMENTATION',
            controlStrength: 0.4,
          },
          imageGenerationConfig: { numberOfImages: 3, width: 1152, height: 640, cfgScale: 8.0, seed: 42, quality: 'premium' },
        },
      });
    });

    it('sends no key outside the Titan v2 schema (Titan rejects extraneous keys)', () => {
      const [call] = titanAdapter.calls(jobParameters({ negativePrompt: 'blurry' }), SIZE, IMAGE, [1]);
      const body = call!.body as { textToImageParams: object; imageGenerationConfig: object };
      expect(body).to.have.all.keys('taskType', 'textToImageParams', 'imageGenerationConfig');
      expect(body.textToImageParams).to.have.all.keys('text', 'negativeText', 'conditionImage', 'controlMode', 'controlStrength');
      expect(body.imageGenerationConfig).to.have.all.keys('numberOfImages', 'width', 'height', 'cfgScale', 'seed', 'quality');
    });

    it('sends a body the stand-in\'s Titan schema accepts, at the limits it states', () => {
      const limits = titanAdapter.limits;
      const parameters = jobParameters({
        prompt: 'p'.repeat(limits.promptMaxLength),
        negativePrompt: 'n'.repeat(limits.negativePromptMaxLength),
        controlStrength: 1,
        count: limits.countMax,
        quality: 'premium',
      });
      const [call] = titanAdapter.calls(parameters, SIZE, IMAGE, [limits.seedMax]);
      const request = expectValidBody('titan', call!.body);
      expect(request).to.include({ family: 'titan', numberOfImages: 5, seed: 2_147_483_646, cfgScale: 8, quality: 'premium', controlMode: 'CANNY_EDGE' });
      const body = call!.body as { textToImageParams: Record<string, unknown> };
      expect(bodyViolation('titan', { ...body, textToImageParams: { ...body.textToImageParams, text: 'p'.repeat(513) } })).to.equal(
        '#/textToImageParams/text: expected maxLength: 512, actual: 513',
      );
      expect(bodyViolation('titan', { ...body, textToImageParams: { ...body.textToImageParams, x: 1 } })).to.equal(
        '#/textToImageParams: extraneous key [x] is not permitted',
      );
    });

    it('encodes the given bytes as base64 in conditionImage', () => {
      const [call] = titanAdapter.calls(jobParameters(), SIZE, IMAGE, [1]);
      const params = (call!.body as { textToImageParams: { conditionImage: string } }).textToImageParams;
      expect(new Uint8Array(Buffer.from(params.conditionImage, 'base64'))).to.deep.equal(IMAGE);
    });

    it('omits negativeText when there is no negative prompt', () => {
      const [call] = titanAdapter.calls(jobParameters(), SIZE, IMAGE, [1]);
      expect((call!.body as { textToImageParams: object }).textToImageParams).not.to.have.property('negativeText');
    });

    it('asks for count images in one call, with the first seed', () => {
      const [call] = titanAdapter.calls(jobParameters({ count: 5 }), SIZE, IMAGE, [9, 10, 11, 12, 13]);
      const config = (call!.body as { imageGenerationConfig: { numberOfImages: number; seed: number } }).imageGenerationConfig;
      expect(config.numberOfImages).to.equal(5);
      expect(config.seed).to.equal(9);
      expect(call!.images).to.equal(5);
      expect(call!.seed).to.equal(9);
    });

    it('throws RangeError without a seed', () => {
      expectThrows(() => titanAdapter.calls(jobParameters(), SIZE, IMAGE, []), RangeError, 'Expected one seed for a Titan call but received none');
    });
  });

  describe('parseResponse', () => {
    it('decodes the base64 images and reports none blocked', () => {
      const generated = titanAdapter.parseResponse({ images: [png(1), png(2)] }, callFor(2));
      expect(generated.images.map((image) => Array.from(image))).to.deep.equal([
        [0x89, 0x50, 0x4e, 0x47, 1],
        [0x89, 0x50, 0x4e, 0x47, 2],
      ]);
      expect(generated.blocked).to.equal(0);
    });

    it('counts the missing images as blocked when moderation removed some', () => {
      const generated = titanAdapter.parseResponse(
        { images: [png(1)], error: 'Some of the generated images have been blocked by our content filters.' },
        callFor(3),
      );
      expect(generated.images).to.have.length(1);
      expect(generated.blocked).to.equal(2);
    });

    it('fails with CONTENT_FILTERED and the model\'s text when an error comes with no images', () => {
      expectPipelineError(
        () => titanAdapter.parseResponse({ images: [], error: 'All of the generated images have been blocked by our content filters.' }, callFor(1)),
        'CONTENT_FILTERED',
        'All of the generated images have been blocked by our content filters.',
      );
    });

    it('fails with MODEL_ERROR when there are no images and no error', () => {
      expectPipelineError(() => titanAdapter.parseResponse({ images: [] }, callFor(1)), 'MODEL_ERROR', 'Model answered with no images');
    });

    it('fails with MODEL_ERROR when the images array is missing or malformed', () => {
      for (const body of [{}, { error: 'x' }, { images: 'abc' }, { images: [1, 2] }, null, 'images', []]) {
        expectPipelineError(() => titanAdapter.parseResponse(body, callFor(1)), 'MODEL_ERROR', 'Model answered without an "images" array');
      }
    });
  });
});
