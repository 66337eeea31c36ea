/**
 * The fields of an outcome's manifest.json (functions/core/outcome.ts) that the user's tools
 * read, read defensively: a manifest is a file in a bucket, possibly from an older version of
 * the pipeline, so a missing or odd field reads as "unknown" instead of throwing.
 *
 * @module
 */

export type ManifestJson = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const obj = (value: unknown): Record<string, unknown> => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

export interface ManifestFacts {
  readonly key: string;
  readonly outcome: 'succeeded' | 'partial' | 'failed' | 'unknown';
  /** The failure's reason (`UNSUPPORTED_FORMAT`…) when it failed. */
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly stage: string | undefined;
  readonly prompt: string | undefined;
  readonly negativePrompt: string | undefined;
  readonly modelId: string | undefined;
  readonly seeds: readonly number[];
  readonly images: readonly string[];
  readonly edges: string | undefined;
  readonly contactSheet: string | undefined;
  readonly error: string | undefined;
  readonly modelCalls: number;
  readonly costUsd: number;
  readonly standIn: boolean;
  readonly standInNote: string | undefined;
  readonly eTag: string | undefined;
  readonly completedAt: string | undefined;
  readonly preparedAt: string | undefined;
  /** Why calls came back without some pictures (partial outcomes). */
  readonly callFailures: readonly string[];
}

export const factsOf = (manifest: ManifestJson, error?: ManifestJson): ManifestFacts => {
  const source = obj(manifest.source);
  const outputs = obj(manifest.outputs);
  const failure = { ...obj(error), ...obj(manifest.failure) };
  const outcome = str(manifest.outcome);
  const parameters = obj(manifest.parameters);
  return {
    key: str(source.key) ?? '',
    outcome: outcome === 'succeeded' || outcome === 'partial' || outcome === 'failed' ? outcome : 'unknown',
    reason: str(failure.reason),
    message: str(failure.message),
    stage: str(obj(error).stage),
    prompt: str(manifest.prompt),
    negativePrompt: str(manifest.negativePrompt),
    modelId: str(obj(manifest.model).id),
    seeds: Array.isArray(parameters.seeds) ? parameters.seeds.filter((s): s is number => typeof s === 'number') : [],
    images: Array.isArray(outputs.images) ? outputs.images.filter((k): k is string => typeof k === 'string') : [],
    edges: str(outputs.edges),
    contactSheet: str(outputs.contactSheet),
    error: str(outputs.error),
    modelCalls: num(manifest.modelCalls) ?? 0,
    costUsd: num(manifest.estimatedCostUsd) ?? 0,
    standIn: manifest.standIn === true,
    standInNote: str(manifest.standInNote),
    eTag: str(source.eTag),
    completedAt: str(manifest.completedAt),
    preparedAt: str(manifest.preparedAt),
    callFailures: Array.isArray(manifest.calls)
      ? manifest.calls.flatMap((call) => {
          const f = obj(obj(call).failure);
          return typeof f.reason === 'string' ? [`${f.reason}${typeof f.message === 'string' ? `: ${f.message}` : ''}`] : [];
        })
      : [],
  };
};

/** `succeeded`, `partial`, or `failed: <REASON>`: the row an outcome counts in. */
export const outcomeLabel = (facts: ManifestFacts): string => (facts.outcome === 'failed' ? `failed: ${facts.reason ?? 'unknown reason'}` : facts.outcome);

/** `$0.07`, `$0.0080`, `$12.34`. */
export const formatUsd = (usd: number): string => (usd === 0 ? '$0.00' : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`);

/** A manifest's ETag as S3 gives it to uploaders: without quotes. */
export const normalizeETag = (eTag: string): string => eTag.replace(/^W\//, '').replace(/^"|"$/g, '');

export interface UploadFacts {
  readonly key: string;
  /** The ETag PutObject (or the multipart upload) answered. */
  readonly eTag: string;
  /** The input object's Last-Modified, as S3 reports it (whole seconds). */
  readonly lastModified?: Date;
}

/**
 * Whether a manifest is this upload's outcome, not one left by an earlier upload of the same
 * key: the source key and ETag match, and (when known) the job was prepared no earlier than
 * the upload's Last-Modified (S3 truncates it to the second; the 1 s margin absorbs that and
 * clock skew). An earlier upload of the very same bytes within that second is
 * indistinguishable, and harmless: it is the same photo.
 */
export const isOutcomeOf = (manifest: ManifestJson, upload: UploadFacts): boolean => {
  const facts = factsOf(manifest);
  if (facts.key !== upload.key || facts.eTag === undefined || normalizeETag(facts.eTag) !== normalizeETag(upload.eTag)) return false;
  if (!upload.lastModified || facts.preparedAt === undefined) return true;
  const prepared = Date.parse(facts.preparedAt);
  return !Number.isFinite(prepared) || prepared >= upload.lastModified.getTime() - 1000;
};
