import { findModel } from './models/catalogue';

/** What the deployment can spend at most, from settings that the pipeline enforces. */
export interface SpendCeiling {
  readonly modelCallsPerHour: number;
  readonly imagesPerHour: number;
  readonly usdPerHour: number;
}

export interface SpendCeilingInput {
  readonly modelId: string;
  /** Model calls in flight at once: generate's executions (each makes its job's calls one at a time). */
  readonly callsInFlight: number;
  /** MIN_MODEL_CALL_MS: no execution starts calls faster than one per this many milliseconds. */
  readonly minCallMs: number;
  /** Pictures one call may return: 1 for one-image models, the largest `count` for the others. */
  readonly imagesPerCall: number;
}

/**
 * The hard ceiling: each of `callsInFlight` executions makes at most one call per
 * `minCallMs` (SDK retries of a throttled call are attempts of that call, and
 * a throttled attempt is not billed), so calls per hour cannot pass
 * callsInFlight × 3,600,000 / minCallMs. Without a minimum there is no ceiling.
 */
export const spendCeiling = (input: SpendCeilingInput): SpendCeiling => {
  const model = findModel(input.modelId);
  if (!model) throw new RangeError(`Expected a model of the catalogue for modelId but received ${JSON.stringify(input.modelId)}`);
  const modelCallsPerHour = input.minCallMs > 0 ? Math.floor((input.callsInFlight * 3_600_000) / input.minCallMs) : Infinity;
  const imagesPerHour = modelCallsPerHour * input.imagesPerCall;
  return { modelCallsPerHour, imagesPerHour, usdPerHour: Math.round(imagesPerHour * model.pricePerImage * 100) / 100 };
};
