import { ControlMode, Quality } from '../params';
import { nearestSize, type Size } from '../sizing';
import { ConditioningInput, type ModelAdapter } from './adapter';
import { textImageCalls } from './amazon-request';
import { readAmazonImages } from './amazon-response';
import { ModelFamily } from './catalogue';

/** The only sizes Titan Image Generator v2 accepts (model card). */
export const TITAN_SIZES: readonly Size[] = [
  [1024, 1024], [768, 768], [512, 512], [768, 1152], [384, 576], [1152, 768], [576, 384],
  [768, 1280], [384, 640], [1280, 768], [640, 384], [896, 1152], [448, 576], [1152, 896],
  [576, 448], [768, 1408], [384, 704], [1408, 768], [704, 384], [640, 1408], [320, 704],
  [1408, 640], [704, 320], [1152, 640], [1173, 640],
].map(([width, height]) => ({ width: width!, height: height! }));

/** Titan's default guidance, as the original design sent it. */
const CFG_SCALE = 8.0;

/**
 * Amazon Titan Image Generator v2, `TEXT_IMAGE` with a condition image: the
 * original design's request, field for field. The model reads the photo and
 * extracts the Canny edges (or segmentation) itself.
 */
export const titanAdapter: ModelAdapter = {
  family: ModelFamily.TITAN,
  limits: {
    promptMaxLength: 512,
    negativePromptMaxLength: 512,
    seedMax: 2_147_483_646,
    countMax: 5,
    controlModes: [ControlMode.CANNY_EDGE, ControlMode.SEGMENTATION],
    qualities: [Quality.STANDARD, Quality.PREMIUM],
  },
  unusedParameters: [],
  conditioningInput: ConditioningInput.PHOTO,
  targetSize: (source) => nearestSize(source, TITAN_SIZES),
  calls: (parameters, size, image, seeds) => textImageCalls({ model: 'Titan', cfgScale: CFG_SCALE }, parameters, size, image, seeds),
  parseResponse: (body, call) => readAmazonImages(body, call),
};
