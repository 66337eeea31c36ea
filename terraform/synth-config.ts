import { MODELS } from '../functions/core/models/catalogue.js';
import { invalidParameterMessage } from '../functions/core/is.js';

/**
 * The two choices that must be fixed when the app is synthesized rather than
 * when Terraform runs: the Bedrock model and the region. The generate role's
 * `bedrock:InvokeModel` resources are computed from them by the catalogue in
 * TypeScript (`invokeResourceArns`), so they cannot wait for `var.*`.
 */
export interface SynthConfig {
  /** Bedrock model id the generate function invokes and its role may invoke. */
  readonly modelId: string;
  /** AWS region to deploy to and to invoke the model in. */
  readonly region: string;
}

/** Environment variables read by {@link readSynthConfig}. */
export const SynthEnv = {
  MODEL_ID: 'ICP_MODEL_ID',
  REGION: 'ICP_REGION',
} as const;

/** @see SynthConfig */
export const DEFAULT_SYNTH_CONFIG: SynthConfig = Object.freeze({
  // Control Sketch fed the Canny mask: the original design's idea on a model that still answers (Titan v2 ended 2026-06-30).
  modelId: 'us.stability.stable-image-control-sketch-v1:0',
  region: 'us-east-1',
});

// Commercial, GovCloud and China region names: two letters, optional "-gov", a direction, a digit.
const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d+$/;

/**
 * Reads `ICP_MODEL_ID` and `ICP_REGION` (unset or empty means the default) and
 * checks them. Whether the model is offered in the region is left to the
 * catalogue, which the stack asks when it computes the IAM resources.
 *
 * @throws Error naming the variable and the allowed values.
 */
export const readSynthConfig = (env: Readonly<Record<string, string | undefined>>): SynthConfig => {
  const modelId = env[SynthEnv.MODEL_ID] || DEFAULT_SYNTH_CONFIG.modelId;
  const region = env[SynthEnv.REGION] || DEFAULT_SYNTH_CONFIG.region;
  const modelIds = MODELS.map((model) => model.id);
  if (!modelIds.includes(modelId)) {
    throw new Error(invalidParameterMessage(SynthEnv.MODEL_ID, `one of: ${modelIds.join(', ')}`, modelId));
  }
  if (!REGION_PATTERN.test(region)) {
    throw new Error(invalidParameterMessage(SynthEnv.REGION, 'an AWS region name such as us-east-1', region));
  }
  return Object.freeze({ modelId, region });
};
