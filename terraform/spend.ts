import { findModel, ModelFamily } from '../functions/core/models/catalogue.js';
import { adapterFor } from '../functions/core/models/index.js';

/**
 * Pictures one model call may return: Stability answers one picture per call
 * (a job of `count` pictures makes `count` calls); Titan and Nova return up to
 * the largest `count` in one call, so a call may cost that many pictures.
 */
export const imagesPerCall = (modelId: string): number => {
  const model = findModel(modelId);
  if (!model) throw new RangeError(`Expected a model of the catalogue for modelId but received ${JSON.stringify(modelId)}`);
  return model.family === ModelFamily.STABILITY ? 1 : adapterFor(modelId).limits.countMax;
};

/** The Terraform variables the ceiling is computed from (see terraform/variables.ts). */
export const CeilingVar = { IN_FLIGHT: 'max_model_calls_in_flight', MIN_SECONDS: 'model_call_min_seconds' } as const;

/**
 * The spend ceiling as Terraform expressions on the two variables, with the
 * synthesized model's price and pictures per call as literals: the same
 * arithmetic as functions/core/spend.ts (spendCeiling), which a test checks on
 * the planned outputs. Each is null when model_call_min_seconds is 0 (no pacing,
 * no ceiling).
 */
export const ceilingExpressions = (modelId: string): { callsPerHour: string; imagesPerHour: string; usdPerHour: string } => {
  const model = findModel(modelId);
  if (!model) throw new RangeError(`Expected a model of the catalogue for modelId but received ${JSON.stringify(modelId)}`);
  const noCeiling = `var.${CeilingVar.MIN_SECONDS} == 0`;
  const calls = `floor(var.${CeilingVar.IN_FLIGHT} * 3600 / var.${CeilingVar.MIN_SECONDS})`;
  const images = `${calls} * ${imagesPerCall(modelId)}`;
  // Rounded to cents like spendCeiling (Math.round of a positive amount is floor(x + 0.5)).
  const usd = `floor(${images} * ${model.pricePerImage} * 100 + 0.5) / 100`;
  const unlessNoCeiling = (value: string): string => `\${${noCeiling} ? null : ${value}}`;
  return { callsPerHour: unlessNoCeiling(calls), imagesPerHour: unlessNoCeiling(images), usdPerHour: unlessNoCeiling(usd) };
};
