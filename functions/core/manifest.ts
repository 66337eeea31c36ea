import type { FailureReport } from './errors';
import type { Job, ReadyJob } from './job';
import type { ModelFamily } from './models/catalogue';
import { outputKeys } from './naming';

export const Outcome = {
  SUCCEEDED: 'succeeded',
  /** Some pictures were removed by the model's moderation; the rest are there. */
  PARTIALLY_BLOCKED: 'partially-blocked',
  FAILED: 'failed',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface CallRecord {
  readonly seed: number;
  readonly requested: number;
  readonly received: number;
  readonly ms: number;
}

export interface GenerationResult {
  readonly modelId: string;
  readonly family: ModelFamily;
  /** Parameters this model accepts but does not use (recorded so a user knows their setting had no effect). */
  readonly unusedParameters: readonly string[];
  readonly seeds: readonly number[];
  readonly imageKeys: readonly string[];
  readonly calls: readonly CallRecord[];
  readonly timings: Readonly<Record<string, number>>;
}

/** Provenance of one upload: enough to reproduce the request and to explain the outcome. */
export const buildManifest = (job: Job, result: GenerationResult | undefined, failure: FailureReport | undefined, now: Date) => {
  const keys = outputKeys(job.source.key);
  const ready: ReadyJob | undefined = job.status === 'ready' ? job : undefined;
  const blocked = result ? result.calls.reduce((n, c) => n + c.requested - c.received, 0) : 0;
  const outcome: Outcome = failure ? Outcome.FAILED : blocked > 0 ? Outcome.PARTIALLY_BLOCKED : Outcome.SUCCEEDED;
  return {
    version: 1,
    jobId: job.jobId,
    outcome,
    source: job.source,
    model: { id: result?.modelId ?? job.modelId, ...(result ? { family: result.family, unusedParameters: result.unusedParameters } : {}) },
    ...(ready
      ? {
          prompt: ready.parameters.prompt,
          negativePrompt: ready.parameters.negativePrompt ?? null,
          parameters: { ...ready.parameters, seeds: result?.seeds ?? [] },
          ignoredMetadata: ready.ignoredMetadata,
          sizes: { source: ready.conditioning.sourceSize, conditioning: ready.conditioning.size },
          crop: ready.conditioning.crop,
          sourceFormat: ready.conditioning.sourceFormat,
          edgeMask: { thresholds: ready.conditioning.edgeThresholds, density: ready.conditioning.edgeDensity },
        }
      : {}),
    outputs: {
      images: result?.imageKeys ?? [],
      edges: ready ? keys.edges : null,
      ...(failure ? { error: keys.error } : {}),
    },
    ...(result ? { calls: result.calls, imagesBlocked: blocked } : {}),
    ...(failure ? { failure } : {}),
    timings: { prepare: job.timings, generate: result?.timings ?? {} },
    preparedAt: job.preparedAt,
    completedAt: now.toISOString(),
  };
};
export type Manifest = ReturnType<typeof buildManifest>;
