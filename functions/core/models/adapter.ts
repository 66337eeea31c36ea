import type { JobParameters, ParameterLimits } from '../params';
import type { Size } from '../sizing';
import type { ModelFamily } from './catalogue';

/** Which of prepare's pictures the model is conditioned on. */
export const ConditioningInput = { EDGES: 'edges', PHOTO: 'photo' } as const;
export type ConditioningInput = (typeof ConditioningInput)[keyof typeof ConditioningInput];

/** One InvokeModel call: its body and what it should give back. */
export interface ModelCall {
  readonly body: Record<string, unknown>;
  readonly seed: number;
  /** Images this call should return. */
  readonly images: number;
}

export interface GeneratedImages {
  readonly images: readonly Uint8Array[];
  /** Seeds the model reports, when it reports them. */
  readonly seeds?: readonly number[];
  /** Images the model's moderation removed from an otherwise successful answer. */
  readonly blocked: number;
}

/** Everything generate and prepare need to know about one model family. */
export interface ModelAdapter {
  readonly family: ModelFamily;
  readonly limits: ParameterLimits;
  readonly conditioningInput: ConditioningInput;
  /** The size prepare renders the conditioning picture at. */
  targetSize(source: Size): Size;
  /**
   * The calls for a job: one for models that return several images per call,
   * one per image (each with its own seed) for those that return one.
   */
  calls(parameters: JobParameters, size: Size, image: Uint8Array, seeds: readonly number[]): ModelCall[];
  /** Reads an HTTP 200 answer; moderation and in-band failures throw PipelineError. */
  parseResponse(body: unknown, call: ModelCall): GeneratedImages;
}
