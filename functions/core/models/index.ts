import type { ModelAdapter } from './adapter';
import { findModel, MODELS, ModelFamily } from './catalogue';
import { titanAdapter } from './titan';

const ADAPTERS: Readonly<Partial<Record<ModelFamily, ModelAdapter>>> = {
  [ModelFamily.TITAN]: titanAdapter,
};

/** The adapter for a configured model id; unknown ids fail with the allowed list. */
export const adapterFor = (modelId: string): ModelAdapter => {
  const model = findModel(modelId);
  const adapter = model && ADAPTERS[model.family];
  if (!adapter) {
    throw new RangeError(`Expected one of: ${MODELS.filter((m) => ADAPTERS[m.family]).map((m) => m.id).join(', ')} for environment variable MODEL_ID but received ${JSON.stringify(modelId)}`);
  }
  return adapter;
};
