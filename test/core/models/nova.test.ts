import { expect } from 'chai';
import type { ModelCall } from '../../../functions/core/models/adapter';
import { NOVA_SIZE_RULES, novaAdapter } from '../../../functions/core/models/nova';
import { titanAdapter } from '../../../functions/core/models/titan';
import type { Size } from '../../../functions/core/sizing';
import { expectPipelineError, expectThrows } from '../../helpers/assertions';
import { jobParameters } from '../../helpers/factories';
import { bodyViolation, expectValidBody, sourceShapes } from './schema-check';

const SIZE: Size = { width: 1184, height: 880 };
const PHOTO = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x10, 0x80]);
const png = (n: number): string => Buffer.from([0x89, 0x50, 0x4e, 0x47, n]).toString('base64');
const callFor = (images: number): ModelCall => ({ body: {}, seed: 7, images });
const SOME_BLOCKED = 'Some of the generated images have been blocked by our content filters.';
const ALL_BLOCKED = 'All of the generated images have been blocked by our content filters.';

describe('core/models/nova', () => {
  describe('limits and sizes', () => {
    it('states the documented Nova Canvas limits and is conditioned on the photo', () => {
      expect(novaAdapter.family).to.equal('nova');
      expect(novaAdapter.conditioningInput).to.equal('photo');
      expect(novaAdapter.unusedParameters).to.deep.equal([]);
      expect(novaAdapter.limits).to.deep.equal({
        promptMaxLength: 1024,
        negativePromptMaxLength: 1024,
        seedMax: 858_993_459,
        countMax: 5,
        controlModes: ['CANNY_EDGE', 'SEGMENTATION'],
        qualities: ['standard', 'premium'],
      });
    });

    it('sizes by the documented rules: 320–4096 per side, multiples of 16, ≤ 4,194,304 px, 1:4–4:1, about 1 MP', () => {
      expect(NOVA_SIZE_RULES).to.deep.equal({ targetPixels: 1_048_576, maxPixels: 4_194_304, minSide: 320, maxSide: 4096, multiple: 16, maxAspect: 4 });
    });

    it('gives a size the stand-in schema accepts for every source shape', () => {
      for (const source of sourceShapes()) {
        const size = novaAdapter.targetSize(source);
        const label = `${source.width}×${source.height} → ${size.width}×${size.height}`;
        expect(size.width % 16, label).to.equal(0);
        expect(size.height % 16, label).to.equal(0);
        expect(Math.min(size.width, size.height), label).to.be.at.least(320);
        expect(Math.max(size.width, size.height), label).to.be.at.most(4096);
        expect(Math.max(size.width / size.height, size.height / size.width), label).to.be.at.most(4);
        expect(size.width * size.height, label).to.be.within(0.9 * 1_048_576, 1.1 * 1_048_576);
        const [call] = novaAdapter.calls(jobParameters(), size, PHOTO, [1]);
        expect(bodyViolation('nova', call!.body), label).to.equal(null);
      }
    });

    it('follows the source aspect ratio: 1024×1024 for a square, 2048×512 for a wide panorama', () => {
      expect(novaAdapter.targetSize({ width: 3000, height: 3000 })).to.deep.equal({ width: 1024, height: 1024 });
      expect(novaAdapter.targetSize({ width: 8000, height: 1000 })).to.deep.equal({ width: 2048, height: 512 });
      expect(novaAdapter.targetSize({ width: 1000, height: 8000 })).to.deep.equal({ width: 512, height: 2048 });
    });
  });

  describe('calls', () => {
    it('builds one call: Titan\'s TEXT_IMAGE shape with Nova\'s default cfgScale 6.5', () => {
      // Arrange
      const parameters = jobParameters({ prompt: 'a tiger', negativePrompt: 'blurry', controlMode: 'SEGMENTATION', controlStrength: 0.4, count: 3, quality: 'premium' });

      // Act
      const calls = novaAdapter.calls(parameters, SIZE, PHOTO, [42, 43, 44]);

      // Assert
      expect(calls).to.deep.equal([
        {
          seed: 42,
          images: 3,
          body: {
            taskType: 'TEXT_IMAGE',
            textToImageParams: {
              text: 'a tiger',
              negativeText: 'blurry',
              conditionImage: Buffer.from(PHOTO).toString('base64'),
              controlMode: 'SEGMENTATION',
              controlStrength: 0.4,
            },
            imageGenerationConfig: { numberOfImages: 3, width: 1184, height: 880, cfgScale: 6.5, seed: 42, quality: 'premium' },
          },
        },
      ]);
    });

    it('differs from Titan\'s body in cfgScale only', () => {
      const parameters = jobParameters({ negativePrompt: 'blurry', count: 2 });
      const [nova] = novaAdapter.calls(parameters, { width: 1024, height: 1024 }, PHOTO, [5, 6]);
      const [titan] = titanAdapter.calls(parameters, { width: 1024, height: 1024 }, PHOTO, [5, 6]);
      const withoutCfg = (body: Record<string, unknown>): unknown => {
        const { imageGenerationConfig, ...rest } = body as { imageGenerationConfig: Record<string, unknown> };
        const { cfgScale: _, ...config } = imageGenerationConfig;
        return { ...rest, imageGenerationConfig: config };
      };
      expect(withoutCfg(nova!.body)).to.deep.equal(withoutCfg(titan!.body));
      expect((titan!.body as { imageGenerationConfig: { cfgScale: number } }).imageGenerationConfig.cfgScale).to.equal(8);
    });

    it('sends a body the stand-in\'s Nova schema accepts, at the limits it states', () => {
      const limits = novaAdapter.limits;
      const parameters = jobParameters({
        prompt: 'p'.repeat(limits.promptMaxLength),
        negativePrompt: 'n'.repeat(limits.negativePromptMaxLength),
        count: limits.countMax,
      });
      const [call] = novaAdapter.calls(parameters, SIZE, PHOTO, [limits.seedMax]);
      const request = expectValidBody('nova', call!.body);
      expect(request).to.include({ family: 'nova', numberOfImages: 5, seed: 858_993_459, cfgScale: 6.5, width: 1184, height: 880 });
      const body = call!.body as { textToImageParams: Record<string, unknown>; imageGenerationConfig: Record<string, unknown> };
      expect(bodyViolation('nova', { ...body, textToImageParams: { ...body.textToImageParams, text: 'p'.repeat(1025) } })).to.equal(
        '#/textToImageParams/text: expected maxLength: 1024, actual: 1025',
      );
      expect(bodyViolation('nova', { ...body, imageGenerationConfig: { ...body.imageGenerationConfig, seed: 858_993_460 } })).to.equal(
        '#/imageGenerationConfig/seed: 858993460 is not less or equal to 858993459',
      );
    });

    it('omits negativeText when there is no negative prompt (Nova rejects an empty one)', () => {
      const [call] = novaAdapter.calls(jobParameters(), SIZE, PHOTO, [1]);
      const params = (call!.body as { textToImageParams: Record<string, unknown> }).textToImageParams;
      expect(params).to.have.all.keys('text', 'conditionImage', 'controlMode', 'controlStrength');
      expectValidBody('nova', call!.body);
      expect(bodyViolation('nova', { ...call!.body, textToImageParams: { ...params, negativeText: '' } })).to.equal(
        '#/textToImageParams/negativeText: expected minLength: 1, actual: 0',
      );
    });

    it('throws RangeError without a seed', () => {
      expectThrows(() => novaAdapter.calls(jobParameters(), SIZE, PHOTO, []), RangeError, 'Expected one seed for a Nova Canvas call but received none');
    });
  });

  describe('parseResponse', () => {
    it('returns every image when none was blocked', () => {
      const generated = novaAdapter.parseResponse({ images: [png(1), png(2), png(3)] }, callFor(3));
      expect(generated.images).to.have.length(3);
      expect(generated.blocked).to.equal(0);
      expect(generated.seeds).to.equal(undefined);
    });

    it('counts the images moderation removed when `error` comes with fewer images', () => {
      const generated = novaAdapter.parseResponse({ images: [png(1), png(2)], error: SOME_BLOCKED }, callFor(5));
      expect(generated.images.map((image) => image[4])).to.deep.equal([1, 2]);
      expect(generated.blocked).to.equal(3);
    });

    it('fails with CONTENT_FILTERED and the model\'s words when every image was blocked', () => {
      expectPipelineError(() => novaAdapter.parseResponse({ images: [], error: ALL_BLOCKED }, callFor(2)), 'CONTENT_FILTERED', ALL_BLOCKED);
    });

    it('fails with MODEL_ERROR without images and without an error', () => {
      expectPipelineError(() => novaAdapter.parseResponse({ images: [] }, callFor(1)), 'MODEL_ERROR', 'Model answered with no images');
      expectPipelineError(() => novaAdapter.parseResponse({ images: [null] }, callFor(1)), 'MODEL_ERROR', 'Model answered without an "images" array');
    });
  });
});
