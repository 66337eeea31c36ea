/**
 * One batch of photos through a pipeline, as a user drives it from outside: upload each photo
 * with its metadata, then (optionally) follow the jobs until each has its outcome, download
 * the outcome folders and write the gallery. Used by `npm run upload` (a deployed stack or a
 * local run's endpoint) and `npm start` (the local pipeline it starts).
 *
 * Following a job needs nothing but S3 reads:
 * - prepared: the staging bucket holds `jobs/<jobId>/job.json`, the job id being derived from
 *   bucket, key and ETag (functions/core/job.ts); without read access there, prepared is
 *   counted when the outcome comes;
 * - finished: the output folder's manifest.json, once it is this upload's (same ETag,
 *   prepared after the upload: manifest-fields.ts isOutcomeOf), not one an earlier upload of
 *   the key left there.
 * Manifests are polled, a bounded number of requests at a time, so a batch of thousands does
 * not flood S3.
 *
 * @module
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { jobIdFor, stagingKeys } from '../../functions/core/job';
import { outputFolder, outputKeys } from '../../functions/core/naming';
import { downloadFolder } from '../local/pipeline';
import { renderGallery, type GalleryEntry } from './gallery';
import { factsOf, isOutcomeOf, normalizeETag, type ManifestJson, type UploadFacts } from './manifest-fields';
import type { Skipped } from './photos';
import { Progress } from './progress';
import { ProgressView, type ProgressStream } from './progress-view';
import { formatSummary, summarize } from './summary';
import type { KeyedPhoto } from './upload-key';

const CONTENT_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp' };

export interface BatchBuckets {
  readonly input: string;
  readonly output: string;
  /** When readable, jobs are seen being prepared. */
  readonly staging?: string;
}

const errorName = (error: unknown): string => (error as { name?: string }).name ?? '';
const isMissing = (error: unknown): boolean => ['NoSuchKey', 'NotFound'].includes(errorName(error)) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
const isDenied = (error: unknown): boolean => errorName(error) === 'AccessDenied' || errorName(error) === 'Forbidden' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403;

/** Uploads one photo (multipart when large) and returns what identifies this upload. */
export const uploadPhoto = async (s3: S3Client, bucket: string, photo: KeyedPhoto, metadata: Readonly<Record<string, string>>): Promise<UploadFacts> => {
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: bucket,
      Key: photo.key,
      Body: createReadStream(photo.path),
      Metadata: { ...metadata },
      ContentType: CONTENT_TYPES[extname(photo.path).toLowerCase()] ?? 'application/octet-stream',
    },
  });
  const done = await upload.done();
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: photo.key }));
  const eTag = normalizeETag(head.ETag ?? done.ETag ?? '');
  return { key: photo.key, eTag, ...(head.LastModified ? { lastModified: head.LastModified } : {}) };
};

/** Runs `work` over `items`, at most `limit` at once, in order of start. */
export const eachLimited = async <T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
};

export interface FinishedOutcome {
  readonly key: string;
  readonly manifest: ManifestJson;
  readonly error?: ManifestJson;
}

export interface BatchOptions {
  readonly s3: S3Client;
  readonly buckets: BatchBuckets;
  readonly photos: readonly KeyedPhoto[];
  /** Encoded metadata (metadata.ts), the same for every photo. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Problems found before uploading (not files, duplicate keys): listed in the gallery and the summary. */
  readonly skipped?: readonly Skipped[];
  /** Follow the jobs to their outcomes; else only upload. @default true */
  readonly wait?: boolean;
  /** Download the outcome folders here and write index.html (only when waiting). */
  readonly outDir?: string;
  /** Uploads at once. @default 4 */
  readonly uploadConcurrency?: number;
  /** Time between two polls of the pending manifests. @default 1000 */
  readonly pollMs?: number;
  /** Give up when no job has finished for this long. @default 600000 */
  readonly stallTimeoutMs?: number;
  /** Where the progress line and messages go. @default process.stdout */
  readonly stream?: ProgressStream;
  /** Per-outcome lines; default: `✓ key → n image(s)` / `✗ key: REASON: message`. */
  readonly describe?: (outcome: FinishedOutcome, written: readonly string[]) => string[];
}

export interface BatchResult {
  readonly uploads: readonly UploadFacts[];
  readonly outcomes: readonly FinishedOutcome[];
  readonly notProcessed: readonly Skipped[];
  readonly elapsedMs: number;
  /** The gallery's path, when written. */
  readonly gallery?: string;
  readonly summary: string;
}

/**
 * The lines printed when a job finishes: `✓ key → n image(s) from <model>` (with the stand-in
 * noted), `◐` for a partial outcome, `✗ key: REASON: message`; with `paths`, the downloaded
 * files below it (relative to the working directory).
 */
export const describeOutcome = (outcome: FinishedOutcome, written: readonly string[], paths = false): string[] => {
  const f = factsOf(outcome.manifest, outcome.error);
  const show = (path: string): string => relative(process.cwd(), path) || path;
  const lines =
    f.outcome === 'failed'
      ? [`✗ ${f.key}: ${f.reason ?? 'unknown reason'}: ${f.message ?? ''}`]
      : [`${f.outcome === 'partial' ? '◐' : '✓'} ${f.key} → ${f.images.length} image(s) from ${f.modelId ?? 'an unknown model'}${f.standIn ? ' (local Bedrock stand-in: no model was called)' : ''}`];
  if (!paths) return lines;
  const images = written.filter((p) => /\/\d+\.png$/.test(p));
  const named = (label: string, suffix: string): string[] => written.filter((p) => p.endsWith(suffix)).map((p) => `  ${label.padEnd(9)} ${show(p)}`);
  if (f.outcome === 'failed') return [...lines, ...written.map((p) => `  ${show(p)}`)];
  return [...lines, ...images.map((p) => `  image:    ${show(p)}`), ...named('edges:', '/edges.png'), ...named('sheet:', '/contact-sheet.png'), ...named('manifest:', '/manifest.json')];
};

export const runBatch = async (options: BatchOptions): Promise<BatchResult> => {
  const { s3, buckets } = options;
  const started = performance.now();
  const stream = options.stream ?? process.stdout;
  const wait = options.wait ?? true;
  let watchPrepared = buckets.staging !== undefined;
  const progress = new Progress(options.photos.length, { tracksPrepared: watchPrepared });
  const view = new ProgressView(progress, stream).start();
  const notProcessed: Skipped[] = [...(options.skipped ?? [])];
  const uploads: UploadFacts[] = [];
  const outcomes: FinishedOutcome[] = [];
  const pending = new Map<string, UploadFacts>();
  const prepared = new Set<string>();
  let lastChange = performance.now();

  try {
    await eachLimited(options.photos, options.uploadConcurrency ?? 4, async (photo) => {
      try {
        const facts = await uploadPhoto(s3, buckets.input, photo, options.metadata);
        uploads.push(facts);
        pending.set(photo.key, facts);
        progress.uploaded(photo.key);
      } catch (error) {
        notProcessed.push({ path: photo.path, reason: `upload to s3://${buckets.input}/${photo.key} failed: ${errorName(error) || 'Error'}: ${(error as Error).message}` });
        view.log(`✗ ${photo.key}: not uploaded: ${(error as Error).message}`);
      }
      view.update();
    });
    if (!wait) {
      view.stop();
      return { uploads, outcomes, notProcessed, elapsedMs: performance.now() - started, summary: `uploaded ${uploads.length} of ${options.photos.length} to s3://${buckets.input}/` };
    }

    const readJson = async (bucket: string, key: string): Promise<ManifestJson | undefined> => {
      try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return JSON.parse(await object.Body!.transformToString()) as ManifestJson;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    };
    const check = async (facts: UploadFacts): Promise<void> => {
      if (watchPrepared && !prepared.has(facts.key)) {
        try {
          await s3.send(new HeadObjectCommand({ Bucket: buckets.staging!, Key: stagingKeys(jobIdFor(buckets.input, facts.key, facts.eTag)).job }));
          prepared.add(facts.key);
          progress.prepared(facts.key);
          lastChange = performance.now();
        } catch (error) {
          if (isDenied(error)) watchPrepared = false;
          else if (!isMissing(error)) throw error;
        }
      }
      const manifest = await readJson(buckets.output, outputKeys(facts.key).manifest);
      if (!manifest || !isOutcomeOf(manifest, facts) || !pending.has(facts.key)) return;
      pending.delete(facts.key);
      const errorKey = factsOf(manifest).error;
      const error = errorKey ? await readJson(buckets.output, errorKey) : undefined;
      const outcome: FinishedOutcome = { key: facts.key, manifest, ...(error ? { error } : {}) };
      outcomes.push(outcome);
      const written = options.outDir ? await downloadFolder(s3, buckets.output, outputFolder(facts.key), options.outDir) : [];
      progress.finish(facts.key, factsOf(manifest).outcome === 'failed' ? 'failed' : factsOf(manifest).outcome === 'partial' ? 'partial' : 'succeeded');
      lastChange = performance.now();
      for (const line of (options.describe ?? describeOutcome)(outcome, written)) view.log(line);
    };

    const stallMs = options.stallTimeoutMs ?? 600_000;
    while (pending.size > 0) {
      await eachLimited([...pending.values()], 16, check);
      view.update();
      if (pending.size === 0) break;
      if (performance.now() - lastChange > stallMs) {
        for (const facts of pending.values()) {
          notProcessed.push({ path: facts.key, reason: `no outcome ${Math.round(stallMs / 1000)} s after the last job finished (see npm run status: still queued, or in the dead-letter queue)` });
        }
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
    }
  } finally {
    view.stop();
  }

  // The outcomes in the order the photos were given.
  const order = new Map(options.photos.map((p, i) => [p.key, i]));
  outcomes.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
  const elapsedMs = performance.now() - started;
  let gallery: string | undefined;
  if (options.outDir) {
    await mkdir(options.outDir, { recursive: true });
    gallery = join(options.outDir, 'index.html');
    const entries: GalleryEntry[] = outcomes.map((o) => ({ manifest: o.manifest, ...(o.error ? { error: o.error } : {}) }));
    await writeFile(gallery, renderGallery(entries, { elapsedMs, notProcessed: notProcessed.map((s) => ({ path: relative(process.cwd(), s.path) || s.path, reason: s.reason })) }));
  }
  const summary = formatSummary(summarize(outcomes.map((o) => o.manifest), elapsedMs, notProcessed.length));
  return { uploads, outcomes, notProcessed, elapsedMs, summary, ...(gallery ? { gallery } : {}) };
};
