import type { JobParameters, ParameterLimits, ParameterName } from '../params';
import type { Size } from '../sizing';
import type { ModelFamily } from './catalogue';

/** Which of prepare's pictures the model is conditioned on. */
export const ConditioningInput = {
  /** The pipeline's Canny edge mask: white edges on black, 8-bit single-channel PNG. */
  EDGES: 'edges',
  /** The sized photo, 8-bit sRGB PNG; the model finds edges or structure itself. */
  PHOTO: 'photo',
} as const;
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

/** Everything generate and prepare need to know about one model. */
export interface ModelAdapter {
  readonly family: ModelFamily;
  readonly limits: ParameterLimits;
  /**
   * Parameters the model's request has no field for. They are still checked
   * against `limits` and recorded with the job (so uploads and deploy defaults
   * written for another model keep working), but they do not change the picture.
   */
  readonly unusedParameters: readonly ParameterName[];
  readonly conditioningInput: ConditioningInput;
  /** The size prepare renders the conditioning picture (photo and edge mask) at. */
  targetSize(source: Size): Size;
  /**
   * The calls for a job: one for models that return several images per call,
   * one per image (each with its own seed) for those that return one.
   * `seeds` holds one seed per image (`parameters.count` of them).
   */
  calls(parameters: JobParameters, size: Size, image: Uint8Array, seeds: readonly number[]): ModelCall[];
  /** Reads an HTTP 200 answer; moderation and in-band failures throw PipelineError. */
  parseResponse(body: unknown, call: ModelCall): GeneratedImages;
}
