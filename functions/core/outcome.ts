import type { FailureReport } from './errors';
import type { Job, JobSource, ReadyJob } from './job';
import type { ModelFamily } from './models/catalogue';
import { findModel } from './models/catalogue';
import { outputKeys } from './naming';

/**
 * The outcome contract: what one upload's output folder holds, built in one place.
 *
 * A folder holds exactly the files its manifest lists and nothing else:
 * - succeeded / partial: `1.png … n.png`, `edges.png`, `contact-sheet.png` and `manifest.json`;
 * - failed: `error.json` and `manifest.json`, no pictures.
 * The manifest is written last and is the single sign that the folder is complete.
 */
export const Outcome = {
  SUCCEEDED: 'succeeded',
  /** Some of several pictures are missing (moderation, a failed call): the rest are there, and `calls` says why. */
  PARTIAL: 'partial',
  FAILED: 'failed',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export const Stage = { PREPARE: 'prepare', GENERATE: 'generate' } as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** What one model call ended with. */
export interface CallResult {
  readonly seed: number;
  readonly requested: number;
  readonly images: readonly Uint8Array[];
  /** Seeds the model reports for its images, when it reports them. */
  readonly seeds?: readonly number[];
  /** Pictures removed by moderation from an otherwise good answer. */
  readonly blocked: number;
  /** Why this call gave no pictures. */
  readonly failure?: FailureReport;
  /** Read from an answer kept by an earlier invocation: not paid for again. */
  readonly kept: boolean;
  /** InvokeModel attempts this call cost in this invocation (0 when kept). */
  readonly attempts: number;
  /** The answer came from a local stand-in, which says so: no model generated it. */
  readonly standIn?: string;
  readonly ms: number;
}

export interface Generation {
  readonly modelId: string;
  readonly family: ModelFamily;
  /** Parameters this model accepts but does not use (recorded so a user knows their setting had no effect). */
  readonly unusedParameters: readonly string[];
  readonly calls: readonly CallResult[];
  /** InvokeModel attempts this request has cost so far, across invocations. */
  readonly modelCalls: number;
  readonly timings: Readonly<Record<string, number>>;
}

/** `error.json`: what the user reads when an upload produced no pictures. No stack, no SDK internals. */
export interface ErrorReport extends FailureReport {
  readonly stage: Stage;
  readonly source: JobSource;
  readonly jobId: string;
  readonly at: string;
}

export interface OutcomeFile {
  readonly key: string;
  readonly body: Uint8Array | string;
  readonly contentType: string;
}

export interface PlannedOutcome {
  readonly outcome: Outcome;
  readonly folder: string;
  /** Everything but the manifest, in the order written. */
  readonly files: readonly OutcomeFile[];
  /** Written last. */
  readonly manifest: OutcomeFile;
  readonly failure?: FailureReport;
}

export interface OutcomeInput {
  readonly job: Job;
  /** Absent when the job failed before any model call could be made (rejected upload, whole-job failure). */
  readonly generation?: Generation;
  /** A failure of the whole job. */
  readonly failure?: FailureReport;
  /** The staged edge mask, when it could be read. */
  readonly edges?: Uint8Array;
  /** The photo, the edge mask and the results side by side, when it could be drawn. */
  readonly contactSheet?: Uint8Array;
  readonly now: Date;
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * The job failed as a whole when nothing was generated: its own failure, else the first call's
 * (by call order, so the report does not depend on which call finished first).
 */
const jobFailure = (input: OutcomeInput, images: number): FailureReport | undefined => {
  if (input.failure) return input.failure;
  if (images > 0) return undefined;
  return input.generation?.calls.find((call) => call.failure)?.failure;
};

export const planOutcome = (input: OutcomeInput): PlannedOutcome => {
  const { job, generation } = input;
  const keys = outputKeys(job.source.key);
  const ready: ReadyJob | undefined = job.status === 'ready' ? job : undefined;
  const calls = generation?.calls ?? [];
  const images = calls.flatMap((call) => call.images);
  const failure = jobFailure(input, images.length);
  const missing = calls.reduce((n, call) => n + call.requested - call.images.length, 0);
  const outcome: Outcome = failure ? Outcome.FAILED : missing > 0 ? Outcome.PARTIAL : Outcome.SUCCEEDED;

  const files: OutcomeFile[] = [];
  const imageKeys: string[] = [];
  let edgesKey: string | null = null;
  let contactSheetKey: string | null = null;
  if (failure) {
    const report: ErrorReport = {
      ...failure,
      stage: job.status === 'rejected' ? 'prepare' : 'generate',
      source: job.source,
      jobId: job.jobId,
      at: input.now.toISOString(),
    };
    files.push({ key: keys.error, body: json(report), contentType: 'application/json' });
  } else {
    images.forEach((bytes, i) => {
      imageKeys.push(keys.image(i + 1));
      files.push({ key: keys.image(i + 1), body: bytes, contentType: 'image/png' });
    });
    if (input.edges) {
      edgesKey = keys.edges;
      files.push({ key: keys.edges, body: input.edges, contentType: 'image/png' });
    }
    if (input.contactSheet) {
      contactSheetKey = keys.contactSheet;
      files.push({ key: keys.contactSheet, body: input.contactSheet, contentType: 'image/png' });
    }
  }
  const standIn = calls.find((call) => call.standIn)?.standIn;
  const pricePerImage = findModel(generation?.modelId ?? job.modelId)?.pricePerImage ?? 0;

  const manifest = {
    version: 1,
    jobId: job.jobId,
    outcome,
    source: job.source,
    model: { id: generation?.modelId ?? job.modelId, ...(generation ? { family: generation.family, unusedParameters: generation.unusedParameters } : {}) },
    ...(ready
      ? {
          prompt: ready.parameters.prompt,
          negativePrompt: ready.parameters.negativePrompt ?? null,
          parameters: { ...ready.parameters, seeds: calls.flatMap((call) => call.seeds ?? call.images.map(() => call.seed)) },
          ignoredMetadata: ready.ignoredMetadata,
          sizes: { source: ready.conditioning.sourceSize, conditioning: ready.conditioning.size },
          crop: ready.conditioning.crop,
          sourceFormat: ready.conditioning.sourceFormat,
          edgeMask: { thresholds: ready.conditioning.edgeThresholds, density: ready.conditioning.edgeDensity },
        }
      : {}),
    outputs: {
      images: imageKeys,
      edges: edgesKey,
      contactSheet: contactSheetKey,
      error: failure ? keys.error : null,
    },
    ...(generation
      ? {
          calls: calls.map((call) => ({
            seed: call.seed,
            requested: call.requested,
            received: call.images.length,
            blocked: call.blocked,
            ms: call.ms,
            kept: call.kept,
            ...(call.failure ? { failure: call.failure } : {}),
          })),
          imagesMissing: missing,
          imagesBlocked: calls.reduce((n, call) => n + call.blocked, 0),
          modelCalls: generation.modelCalls,
          // List price of the pictures this request received, once: kept answers published again cost nothing more.
          estimatedCostUsd: Math.round(calls.reduce((n, call) => n + call.images.length, 0) * pricePerImage * 10_000) / 10_000,
        }
      : {}),
    ...(standIn ? { standIn: true, standInNote: standIn } : {}),
    ...(failure ? { failure } : {}),
    timings: { prepare: job.timings, generate: generation?.timings ?? {} },
    preparedAt: job.preparedAt,
    completedAt: input.now.toISOString(),
  };
  return {
    outcome,
    folder: keys.folder,
    files,
    manifest: { key: keys.manifest, body: json(manifest), contentType: 'application/json' },
    ...(failure ? { failure } : {}),
  };
};

/** The manifest as the user reads it. */
export type Manifest = Record<string, unknown> & {
  readonly outcome: Outcome;
  readonly source: JobSource;
  readonly outputs: { readonly images: readonly string[]; readonly edges: string | null; readonly contactSheet: string | null; readonly error: string | null };
};
