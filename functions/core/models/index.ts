import type { ModelAdapter } from './adapter';
import { MODELS } from './catalogue';
import { novaAdapter } from './nova';
import { controlSketchAdapter, controlStructureAdapter } from './stability';
import { titanAdapter } from './titan';

export type { ModelAdapter } from './adapter';

/**
 * The adapter for each model id a user may configure. By id, not by family:
 * the two Stability tools share a family but not the picture they are fed.
 */
export const ADAPTERS: Readonly<Record<string, ModelAdapter>> = Object.freeze({
  'us.stability.stable-image-control-sketch-v1:0': controlSketchAdapter,
  'us.stability.stable-image-control-structure-v1:0': controlStructureAdapter,
  'amazon.titan-image-generator-v2:0': titanAdapter,
  'amazon.nova-canvas-v1:0': novaAdapter,
});

/** The adapter for a configured model id; unknown ids fail with the allowed list. */
export const adapterFor = (modelId: string): ModelAdapter => {
  const adapter = Object.hasOwn(ADAPTERS, modelId) ? ADAPTERS[modelId] : undefined;
  if (!adapter) {
    const known = MODELS.filter((m) => Object.hasOwn(ADAPTERS, m.id)).map((m) => m.id);
    throw new RangeError(`Expected one of: ${known.join(', ')} for environment variable MODEL_ID but received ${JSON.stringify(modelId)}`);
  }
  return adapter;
};
