import { PipelineError } from '../errors';
import { plainObject, string } from '../is';
import type { GeneratedImages, ModelCall } from './adapter';

/**
 * Titan and Nova answer `{"images": [...], "error": "..."}`. `error` means
 * moderation removed some or all of the pictures; when none is left the job
 * failed on the content filter, otherwise the survivors are the result.
 */
export const readAmazonImages = (body: unknown, call: ModelCall): GeneratedImages => {
  if (!plainObject(body) || !Array.isArray(body.images) || !body.images.every(string)) {
    throw new PipelineError('MODEL_ERROR', 'Model answered without an "images" array');
  }
  const images = (body.images as string[]).map((b64) => new Uint8Array(Buffer.from(b64, 'base64')));
  const error = string(body.error) && body.error.length > 0 ? body.error : undefined;
  if (images.length === 0) {
    throw new PipelineError(error ? 'CONTENT_FILTERED' : 'MODEL_ERROR', error ?? 'Model answered with no images');
  }
  return { images, blocked: Math.max(0, call.images - images.length) };
};
