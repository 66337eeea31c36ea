import { PipelineError } from '../errors';
import { integer, invalidParameterMessage, plainObject, string } from '../is';
import { ControlMode, Quality, type JobParameters, type ParameterName } from '../params';
import { freeSize, type FreeSizeRules, type Size } from '../sizing';
import { ConditioningInput, type GeneratedImages, type ModelAdapter, type ModelCall } from './adapter';
import { ModelFamily } from './catalogue';

/** The two Stability Image Services control tools this pipeline drives. */
export const StabilityControl = {
  /** Control Sketch: refines contour lines. Fed the pipeline's Canny edge mask. */
  SKETCH: 'sketch',
  /** Control Structure: keeps the overall structure of a photo. Fed the sized photo. */
  STRUCTURE: 'structure',
} as const;
export type StabilityControl = (typeof StabilityControl)[keyof typeof StabilityControl];

/**
 * Input image limits of the control tools (Stability "Image Services" page):
 * each side at least 64 px, at most 9,437,184 pixels, aspect ratio 1:2.5 to
 * 2.5:1. The output has the input's size (unconfirmed), so this also sizes the
 * result.
 *
 * Sides are multiples of 64, not merely of 8. Stable Diffusion models work on
 * a latent grid (8 px per cell, 16 with SD3's 2×2 patches), and their
 * one-megapixel resolution buckets (1024×1024, 1152×896, 1216×832, 1344×768,
 * 1536×640) are multiples of 64: a size on that grid needs no padding or
 * cropping inside the service, so the output keeps the size and framing
 * prepare chose. Rounding to 64 moves a side by at most 32 px, about 3 % at
 * one megapixel, well inside what the 1:2.5 aspect clamp already changes.
 *
 * The target is about one megapixel, the size those buckets have; the price
 * is per image whatever the size, and larger inputs only cost upload and
 * generation time.
 */
export const STABILITY_SIZE_RULES: FreeSizeRules = Object.freeze({
  targetPixels: 1_048_576,
  maxPixels: 9_437_184,
  minSide: 64,
  // The longest side the pixel and aspect limits allow together: √(9,437,184 × 2.5).
  maxSide: 4857,
  multiple: 64,
  maxAspect: 2.5,
});

export interface StabilityAdapterOptions {
  /** Which control tool; decides the picture sent as `image`. */
  readonly control: StabilityControl;
  /**
   * Area of the conditioning picture (and so of the output) prepare aims for,
   * in pixels: an integer from 4,096 (64²) to 9,437,184.
   * @default 1048576
   */
  readonly targetPixels?: number;
}

/** Only one picture per call: a job with a larger count makes that many calls. */
const IMAGES_PER_CALL = 1;

/**
 * The job parameters the control tools have no field for. `control-mode` is
 * decided by the model id (Sketch follows edges, Structure follows structure)
 * and `quality` does not exist. Both stay accepted, checked and recorded, so
 * the deploy defaults (`CANNY_EDGE`, `standard`) and uploads written for Titan
 * work unchanged with every model.
 */
const UNUSED_PARAMETERS: readonly ParameterName[] = ['control-mode', 'quality'];

const FILTERED = /^Filter reason/i;

/**
 * Reads `{"seeds": [n], "finish_reasons": [null], "images": ["<base64>"]}`.
 * A non-null finish reason is a failure even with HTTP 200: "Filter reason: …"
 * (prompt, input image, output image) is the content filter, anything else
 * ("Inference error") a model failure.
 */
export const readStabilityImage = (body: unknown, call: ModelCall): GeneratedImages => {
  if (!plainObject(body)) throw new PipelineError('MODEL_ERROR', 'Model answered with something other than a JSON object');
  const reasons = body.finish_reasons;
  if (reasons !== undefined && !Array.isArray(reasons)) {
    throw new PipelineError('MODEL_ERROR', 'Model answered with a "finish_reasons" that is not an array');
  }
  const reason: unknown = reasons?.[0] ?? null;
  if (reason !== null) {
    const text = string(reason) ? reason : JSON.stringify(reason);
    if (string(reason) && FILTERED.test(reason)) {
      throw new PipelineError('CONTENT_FILTERED', `The model's content filter blocked the request (${text})`);
    }
    throw new PipelineError('MODEL_ERROR', `The model failed to generate the picture (${text})`);
  }
  const images = body.images;
  const image: unknown = Array.isArray(images) ? images[0] : undefined;
  if (!string(image) || image.length === 0) {
    throw new PipelineError('MODEL_ERROR', 'Model answered without an image in "images"');
  }
  const seed: unknown = Array.isArray(body.seeds) ? body.seeds[0] : undefined;
  return {
    images: [new Uint8Array(Buffer.from(image, 'base64'))],
    // The seed the model used (it picks one when sent 0); the requested one otherwise.
    seeds: [integer(seed) ? seed : call.seed],
    blocked: 0,
  };
};

/**
 * Stability AI Stable Image Control Sketch or Control Structure, through the
 * `us.` inference profile. One picture per call, so a job with `count` n makes
 * n calls, each with its own seed. The request has no size: the output follows
 * the input, which prepare sized with {@link STABILITY_SIZE_RULES}.
 *
 * `style_preset` is never sent: no job parameter selects it.
 */
export const createStabilityAdapter = (options: StabilityAdapterOptions): ModelAdapter => {
  const targetPixels = options.targetPixels ?? STABILITY_SIZE_RULES.targetPixels;
  const minPixels = STABILITY_SIZE_RULES.minSide ** 2;
  if (!integer(targetPixels) || targetPixels < minPixels || targetPixels > STABILITY_SIZE_RULES.maxPixels) {
    throw new RangeError(invalidParameterMessage('targetPixels', `an integer between ${minPixels} and ${STABILITY_SIZE_RULES.maxPixels}`, targetPixels));
  }
  if (!Object.values(StabilityControl).includes(options.control)) {
    throw new RangeError(invalidParameterMessage('control', `one of: ${Object.values(StabilityControl).join(', ')}`, options.control));
  }
  const rules: FreeSizeRules = { ...STABILITY_SIZE_RULES, targetPixels };
  return {
    family: ModelFamily.STABILITY,
    limits: {
      promptMaxLength: 10_000,
      negativePromptMaxLength: 10_000,
      // 0 means "random" to Stability; seedFor never derives 0, and a user's 0 is answered with the seed used.
      seedMax: 4_294_967_294,
      // Not a model limit (one image per call): a cost guard, every call is a paid image (about $0.07).
      countMax: 5,
      controlModes: [ControlMode.CANNY_EDGE, ControlMode.SEGMENTATION],
      qualities: [Quality.STANDARD, Quality.PREMIUM],
    },
    unusedParameters: UNUSED_PARAMETERS,
    conditioningInput: options.control === StabilityControl.SKETCH ? ConditioningInput.EDGES : ConditioningInput.PHOTO,
    targetSize: (source: Size): Size => freeSize(source, rules),
    calls: (parameters: JobParameters, _size: Size, image: Uint8Array, seeds: readonly number[]): ModelCall[] => {
      if (seeds.length < parameters.count) {
        throw new RangeError(`Expected ${parameters.count} seeds for ${parameters.count} Stability calls but received ${seeds.length}`);
      }
      const encoded = Buffer.from(image).toString('base64');
      return seeds.slice(0, parameters.count).map((seed) => ({
        seed,
        images: IMAGES_PER_CALL,
        body: {
          prompt: parameters.prompt,
          image: encoded,
          control_strength: parameters.controlStrength,
          ...(parameters.negativePrompt ? { negative_prompt: parameters.negativePrompt } : {}),
          seed,
          output_format: 'png',
        },
      }));
    },
    parseResponse: readStabilityImage,
  };
};

/** Control Sketch on the pipeline's Canny edge mask: the default model. */
export const controlSketchAdapter = createStabilityAdapter({ control: StabilityControl.SKETCH });

/** Control Structure on the sized photo: Titan's SEGMENTATION counterpart. */
export const controlStructureAdapter = createStabilityAdapter({ control: StabilityControl.STRUCTURE });
