import { expect } from 'chai';
import type { ModelCall } from '../../../functions/core/models/adapter';
import {
  controlSketchAdapter,
  controlStructureAdapter,
  createStabilityAdapter,
  STABILITY_SIZE_RULES,
  StabilityControl,
} from '../../../functions/core/models/stability';
import type { Size } from '../../../functions/core/sizing';
import { expectPipelineError, expectThrows } from '../../helpers/assertions';
import { jobParameters } from '../../helpers/factories';
import { bodyViolation, expectValidBody, sourceShapes, stabilityImageViolation } from './schema-check';

const SIZE: Size = { width: 1216, height: 832 };
const EDGES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
const png = (n: number): string => Buffer.from([0x89, 0x50, 0x4e, 0x47, n]).toString('base64');
const callFor = (seed = 7): ModelCall => ({ body: {}, seed, images: 1 });

describe('core/models/stability', () => {
  describe('the two tools', () => {
    it('Control Sketch is conditioned on the edge mask, Control Structure on the photo', () => {
      expect(controlSketchAdapter.conditioningInput).to.equal('edges');
      expect(controlStructureAdapter.conditioningInput).to.equal('photo');
      expect(controlSketchAdapter.family).to.equal('stability');
      expect(controlStructureAdapter.family).to.equal('stability');
    });

    it('states the documented limits; count 5 is a cost guard; control mode and quality are accepted but unused', () => {
      for (const adapter of [controlSketchAdapter, controlStructureAdapter]) {
        expect(adapter.limits).to.deep.equal({
          promptMaxLength: 10_000,
          negativePromptMaxLength: 10_000,
          seedMax: 4_294_967_294,
          countMax: 5,
          controlModes: ['CANNY_EDGE', 'SEGMENTATION'],
          qualities: ['standard', 'premium'],
        });
        expect(adapter.unusedParameters).to.deep.equal(['control-mode', 'quality']);
      }
    });

    it('refuses an unknown control tool', () => {
      expectThrows(
        () => createStabilityAdapter({ control: 'inpaint' as StabilityControl }),
        RangeError,
        'Expected one of: sketch, structure for control but received "inpaint"',
      );
    });
  });

  describe('sizing', () => {
    it('uses the documented input limits, sides on the 64 px grid, about one megapixel', () => {
      expect(STABILITY_SIZE_RULES).to.deep.equal({
        targetPixels: 1_048_576,
        maxPixels: 9_437_184,
        minSide: 64,
        maxSide: 4857,
        multiple: 64,
        maxAspect: 2.5,
      });
    });

    it('gives a size the stand-in accepts for every source shape: ≥ 64 px, ≤ 9,437,184 px, 1:2.5–2.5:1, multiples of 64, about 1 MP', () => {
      const shapes = sourceShapes();
      expect(shapes.length).to.be.greaterThan(400);
      for (const source of shapes) {
        const size = controlSketchAdapter.targetSize(source);
        const label = `${source.width}×${source.height} → ${size.width}×${size.height}`;
        expect(size.width % 64, label).to.equal(0);
        expect(size.height % 64, label).to.equal(0);
        expect(Math.min(size.width, size.height), label).to.be.at.least(64);
        expect(Math.max(size.width / size.height, size.height / size.width), label).to.be.at.most(2.5);
        expect(size.width * size.height, label).to.be.within(0.85 * 1_048_576, 1.15 * 1_048_576);
        expect(stabilityImageViolation(size), label).to.equal(null);
        expect(controlStructureAdapter.targetSize(source), label).to.deep.equal(size);
      }
    });

    it('keeps the source aspect ratio within the allowed range, and clamps beyond it', () => {
      const ratio = (s: Size): number => s.width / s.height;
      expect(controlSketchAdapter.targetSize({ width: 1024, height: 1024 })).to.deep.equal({ width: 1024, height: 1024 });
      expect(ratio(controlSketchAdapter.targetSize({ width: 4032, height: 3024 }))).to.be.closeTo(4 / 3, 0.05);
      expect(ratio(controlSketchAdapter.targetSize({ width: 1080, height: 1920 }))).to.be.closeTo(9 / 16, 0.05);
      expect(ratio(controlSketchAdapter.targetSize({ width: 8000, height: 1000 }))).to.be.closeTo(2.5, 0.1);
      expect(ratio(controlSketchAdapter.targetSize({ width: 1000, height: 8000 }))).to.be.closeTo(1 / 2.5, 0.02);
    });

    it('aims at the configured area', () => {
      const large = createStabilityAdapter({ control: StabilityControl.SKETCH, targetPixels: 4_194_304 });
      expect(large.targetSize({ width: 3000, height: 3000 })).to.deep.equal({ width: 2048, height: 2048 });
      const largest = createStabilityAdapter({ control: StabilityControl.SKETCH, targetPixels: 9_437_184 });
      for (const source of sourceShapes()) {
        const size = largest.targetSize(source);
        expect(stabilityImageViolation(size), `${source.width}×${source.height}`).to.equal(null);
      }
      const smallest = createStabilityAdapter({ control: StabilityControl.STRUCTURE, targetPixels: 4096 });
      expect(smallest.targetSize({ width: 500, height: 500 })).to.deep.equal({ width: 64, height: 64 });
    });

    it('refuses a target area outside 4,096–9,437,184 pixels or not an integer', () => {
      for (const targetPixels of [4095, 9_437_185, 1.5e6 + 0.5, Number.NaN]) {
        expectThrows(
          () => createStabilityAdapter({ control: StabilityControl.SKETCH, targetPixels }),
          RangeError,
          `Expected an integer between 4096 and 9437184 for targetPixels but received ${targetPixels}`,
        );
      }
    });
  });

  describe('calls', () => {
    it('builds one call per image, each with its own seed and exactly the documented body', () => {
      // Arrange
      const parameters = jobParameters({ prompt: 'a tiger', negativePrompt: 'blurry', controlStrength: 0.4, count: 3 });

      // Act
      const calls = controlSketchAdapter.calls(parameters, SIZE, EDGES, [11, 12, 13]);

      // Assert
      const image = Buffer.from(EDGES).toString('base64');
      expect(calls).to.deep.equal(
        [11, 12, 13].map((seed) => ({
          seed,
          images: 1,
          body: { prompt: 'a tiger', image, control_strength: 0.4, negative_prompt: 'blurry', seed, output_format: 'png' },
        })),
      );
    });

    it('sends bodies the stand-in schema accepts, with the values it reads back', () => {
      const parameters = jobParameters({ prompt: 'a tiger', negativePrompt: 'blurry', controlStrength: 1, count: 2 });
      for (const call of controlStructureAdapter.calls(parameters, SIZE, EDGES, [1, 4_294_967_294])) {
        const request = expectValidBody('stability', call.body);
        expect(request).to.include({ family: 'stability', prompt: 'a tiger', negativePrompt: 'blurry', controlStrength: 1, seed: call.seed, outputFormat: 'png' });
        expect(request.family === 'stability' && new Uint8Array(request.image.bytes)).to.deep.equal(EDGES);
      }
    });

    it('stays inside the schema at the limits it states', () => {
      const limits = controlSketchAdapter.limits;
      const parameters = jobParameters({
        prompt: 'p'.repeat(limits.promptMaxLength),
        negativePrompt: 'n'.repeat(limits.negativePromptMaxLength),
        controlStrength: 0,
        count: limits.countMax,
      });
      const seeds = [0, 1, 2, limits.seedMax - 1, limits.seedMax];
      const calls = controlSketchAdapter.calls(parameters, SIZE, EDGES, seeds);
      expect(calls).to.have.length(5);
      for (const call of calls) expect(bodyViolation('stability', call.body)).to.equal(null);
      // One past a limit is refused: the limits are the schema's, not looser ones.
      const body = calls[0]!.body;
      expect(bodyViolation('stability', { ...body, prompt: 'p'.repeat(10_001) })).to.equal('#/prompt: expected maxLength: 10000, actual: 10001');
      expect(bodyViolation('stability', { ...body, seed: 4_294_967_295 })).to.equal('#/seed: 4294967295 is not less or equal to 4294967294');
    });

    it('sends no key outside the schema: no width, height, count, cfg scale, quality, mode or style', () => {
      const [call] = controlSketchAdapter.calls(jobParameters({ negativePrompt: 'x', quality: 'premium', controlMode: 'SEGMENTATION' }), SIZE, EDGES, [5]);
      expect(call!.body).to.have.all.keys('prompt', 'image', 'control_strength', 'negative_prompt', 'seed', 'output_format');
      expect(bodyViolation('stability', { ...call!.body, style_preset: 'anime' })).to.equal(null);
      expect(bodyViolation('stability', { ...call!.body, cfg_scale: 7 })).to.equal('#: extraneous key [cfg_scale] is not permitted');
    });

    it('does not let control mode or quality change the body', () => {
      const a = controlSketchAdapter.calls(jobParameters({ controlMode: 'CANNY_EDGE', quality: 'standard' }), SIZE, EDGES, [5]);
      const b = controlSketchAdapter.calls(jobParameters({ controlMode: 'SEGMENTATION', quality: 'premium' }), SIZE, EDGES, [5]);
      expect(a).to.deep.equal(b);
    });

    it('omits negative_prompt when there is none', () => {
      const [call] = controlSketchAdapter.calls(jobParameters(), SIZE, EDGES, [5]);
      expect(call!.body).not.to.have.property('negative_prompt');
      expectValidBody('stability', call!.body);
    });

    it('sends the given picture unchanged (for Sketch: the edge mask)', () => {
      const [call] = controlSketchAdapter.calls(jobParameters(), SIZE, EDGES, [5]);
      expect(new Uint8Array(Buffer.from((call!.body as { image: string }).image, 'base64'))).to.deep.equal(EDGES);
    });

    it('throws RangeError with fewer seeds than images', () => {
      expectThrows(
        () => controlSketchAdapter.calls(jobParameters({ count: 3 }), SIZE, EDGES, [1, 2]),
        RangeError,
        'Expected 3 seeds for 3 Stability calls but received 2',
      );
    });
  });

  describe('parseResponse', () => {
    it('decodes the one image and returns the seed the model reports', () => {
      const generated = controlSketchAdapter.parseResponse({ seeds: [123456], finish_reasons: [null], images: [png(1)] }, callFor(7));
      expect(generated.images.map((image) => Array.from(image))).to.deep.equal([[0x89, 0x50, 0x4e, 0x47, 1]]);
      expect(generated.seeds).to.deep.equal([123456]);
      expect(generated.blocked).to.equal(0);
    });

    it('falls back to the requested seed when none is reported', () => {
      expect(controlSketchAdapter.parseResponse({ images: [png(1)] }, callFor(99)).seeds).to.deep.equal([99]);
      expect(controlSketchAdapter.parseResponse({ seeds: ['x'], finish_reasons: [null], images: [png(1)] }, callFor(98)).seeds).to.deep.equal([98]);
    });

    for (const reason of ['Filter reason: prompt', 'Filter reason: input image', 'Filter reason: output image']) {
      it(`fails with CONTENT_FILTERED on HTTP 200 with finish reason "${reason}"`, () => {
        expectPipelineError(
          () => controlSketchAdapter.parseResponse({ seeds: [7], finish_reasons: [reason], images: [null] }, callFor()),
          'CONTENT_FILTERED',
          `The model's content filter blocked the request (${reason})`,
        );
      });
    }

    it('fails with MODEL_ERROR on "Inference error", even when an image came along', () => {
      expectPipelineError(
        () => controlStructureAdapter.parseResponse({ seeds: [7], finish_reasons: ['Inference error'], images: [png(1)] }, callFor()),
        'MODEL_ERROR',
        'The model failed to generate the picture (Inference error)',
      );
    });

    it('fails with MODEL_ERROR on any other non-null finish reason', () => {
      expectPipelineError(
        () => controlStructureAdapter.parseResponse({ finish_reasons: [{ code: 3 }], images: [png(1)] }, callFor()),
        'MODEL_ERROR',
        'The model failed to generate the picture ({"code":3})',
      );
    });

    it('fails with MODEL_ERROR on malformed answers', () => {
      expectPipelineError(() => controlSketchAdapter.parseResponse(null, callFor()), 'MODEL_ERROR', 'Model answered with something other than a JSON object');
      expectPipelineError(() => controlSketchAdapter.parseResponse([], callFor()), 'MODEL_ERROR', 'Model answered with something other than a JSON object');
      expectPipelineError(
        () => controlSketchAdapter.parseResponse({ finish_reasons: 'none', images: [png(1)] }, callFor()),
        'MODEL_ERROR',
        'Model answered with a "finish_reasons" that is not an array',
      );
      for (const body of [{}, { images: [] }, { images: [''] }, { images: [null] }, { images: 'abc' }, { finish_reasons: [null], images: [3] }]) {
        expectPipelineError(() => controlSketchAdapter.parseResponse(body, callFor()), 'MODEL_ERROR', 'Model answered without an image in "images"');
      }
    });
  });
});
