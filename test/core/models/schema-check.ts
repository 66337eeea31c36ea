/**
 * Checks the adapters' bodies with the local stand-in's validator
 * (scripts/local/bedrock-schemas.ts): independent code written from the
 * contract, so a field name, range or extra key the adapter gets wrong is
 * caught by something other than the adapter's own idea of the schema.
 */
import { expect } from 'chai';
import { checkImage, validateRequest, type ImageInfo, type ModelFamily, type ModelRequest } from '../../../scripts/local/bedrock-schemas';
import type { Size } from '../../../functions/core/sizing';

/** Asserts the stand-in's schema accepts `body` for `family`; returns the normalised request. */
export const expectValidBody = (family: ModelFamily, body: unknown): ModelRequest => {
  const validation = validateRequest(family, body);
  if (!validation.ok) expect.fail(`${family} body rejected: ${validation.violation.pointer}: ${validation.violation.detail}`);
  return validation.request;
};

/** The stand-in's message for a body it rejects, or null. */
export const bodyViolation = (family: ModelFamily, body: unknown): string | null => {
  const validation = validateRequest(family, body);
  return validation.ok ? null : `${validation.violation.pointer}: ${validation.violation.detail}`;
};

/** What the stand-in says about a Stability input image of this size (an 8-bit grey PNG), or null when accepted. */
export const stabilityImageViolation = (size: Size): string | null => {
  const validation = validateRequest('stability', { prompt: 'p', image: 'iVBORw0KGgo=' });
  if (!validation.ok || validation.request.family !== 'stability') throw new Error('unreachable: minimal Stability body rejected');
  const info: ImageInfo = { format: 'png', width: size.width, height: size.height, channels: 1, depth: 'uchar', space: 'b-w', hasAlpha: false };
  const violation = checkImage(validation.request.image, info);
  return violation ? violation.detail : null;
};

/**
 * Source shapes prepare may hand an adapter: sides from 64 px to 12,000 px
 * and aspect ratios up to 8:1 both ways (prepare refuses wider ones).
 */
export const sourceShapes = (): Size[] => {
  const sides = [64, 65, 100, 127, 320, 333, 480, 512, 640, 720, 768, 1000, 1024, 1080, 1200, 1920, 2048, 2880, 3024, 4000, 4032, 5120, 6000, 8000, 12000];
  const shapes: Size[] = [];
  for (const width of sides) {
    for (const height of sides) {
      if (Math.max(width / height, height / width) <= 8) shapes.push({ width, height });
    }
  }
  return shapes;
};
