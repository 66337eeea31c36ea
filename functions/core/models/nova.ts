import { ControlMode, Quality } from '../params';
import { freeSize, type FreeSizeRules } from '../sizing';
import { ConditioningInput, type ModelAdapter } from './adapter';
import { textImageCalls } from './amazon-request';
import { readAmazonImages } from './amazon-response';
import { ModelFamily } from './catalogue';

/**
 * Nova Canvas output sizes (Nova user guide): each side 320–4096 and a
 * multiple of 16, at most 4,194,304 pixels, aspect ratio 1:4 to 4:1. The
 * target is about one megapixel: the price tier up to 1024² and the size the
 * model is tuned for.
 */
export const NOVA_SIZE_RULES: FreeSizeRules = Object.freeze({
  targetPixels: 1_048_576,
  maxPixels: 4_194_304,
  minSide: 320,
  maxSide: 4096,
  multiple: 16,
  maxAspect: 4,
});

/** Nova's documented default guidance (Titan's is 8.0). */
const CFG_SCALE = 6.5;

/**
 * Amazon Nova Canvas, `TEXT_IMAGE` with a condition image: Titan v2's request
 * shape with Nova's limits. Up to five images come back from one call;
 * moderation may drop some, which the answer's `error` says.
 *
 * The optional `style` field is never sent: no job parameter selects it.
 */
export const novaAdapter: ModelAdapter = {
  family: ModelFamily.NOVA,
  limits: {
    promptMaxLength: 1024,
    negativePromptMaxLength: 1024,
    // The documented range is wider, but larger seeds have failed; the contract's safe bound.
    seedMax: 858_993_459,
    countMax: 5,
    controlModes: [ControlMode.CANNY_EDGE, ControlMode.SEGMENTATION],
    qualities: [Quality.STANDARD, Quality.PREMIUM],
  },
  unusedParameters: [],
  conditioningInput: ConditioningInput.PHOTO,
  targetSize: (source) => freeSize(source, NOVA_SIZE_RULES),
  calls: (parameters, size, image, seeds) => textImageCalls({ model: 'Nova Canvas', cfgScale: CFG_SCALE }, parameters, size, image, seeds),
  parseResponse: (body, call) => readAmazonImages(body, call),
};
