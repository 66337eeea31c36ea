/**
 * One child process of the prepare benchmark (see scripts/bench/prepare.ts):
 *
 *   node --import tsx scripts/bench/prepare-worker.ts <variant> <file> <warmup> <runs>
 *
 * `variant` is `ours` (preparePicture) or `idle` (loads the same modules,
 * sharp included, and reads the file, nothing else: the floor `ours` is
 * measured against). Prints one JSON line with the peak RSS after the
 * first (cold) run, the peak after all runs and the timed samples.
 *
 * Both variants import the same modules, so the only difference between the
 * children is the work they do.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { requireAllowedFormat } from '../../functions/core/format';
import { adapterFor } from '../../functions/core/models';
import type { Size } from '../../functions/core/sizing';
import { preparePicture, type PictureOptions } from '../../functions/prepare/picture';

export type Variant = 'ours' | 'idle';

export interface WorkerResult {
  readonly variant: Variant;
  /** Peak RSS (see maxRssKb) after the first run (for idle: after reading the file), in KiB. */
  readonly peakAfterFirstKb: number;
  /** Peak RSS (see maxRssKb) after every run, in KiB. */
  readonly peakKb: number;
  /** Wall time of each timed run (after the warm-up), in ms. */
  readonly samples: readonly number[];
  /** The decode-and-size stage of each timed run (preparePicture's timings.decodeMs), in ms. */
  readonly decodeSamples: readonly number[];
  readonly source?: Size;
  readonly output?: Size;
  readonly edgeDensity?: number;
}

interface Prepared {
  readonly source: Size;
  readonly output: Size;
  readonly conditioning: Buffer;
  readonly edges: Buffer;
  readonly edgeDensity: number;
  /** Decode, orient, resize, crop: everything before the edge mask (preparePicture's timings.decodeMs). */
  readonly decodeMs: number;
}

/** The default model's sizing, as prepare uses it when MODEL_ID is not set. */
const DEFAULT_MODEL_ID = 'us.stability.stable-image-control-sketch-v1:0';
/** MAX_INPUT_PIXELS' default in functions/prepare/config.ts. */
const MAX_INPUT_PIXELS = 60_000_000;

const ours = async (bytes: Buffer, options: PictureOptions): Promise<Prepared> => {
  const picture = await preparePicture(bytes, options);
  return {
    source: picture.sourceSize,
    output: picture.plan.target,
    conditioning: picture.conditioning,
    edges: picture.edges,
    edgeDensity: picture.edgeDensity,
    decodeMs: picture.timings.decodeMs,
  };
};

const [variant, file, warmupArg = '1', runsArg = '5'] = process.argv.slice(2);
if (variant !== 'ours' && variant !== 'idle') {
  throw new RangeError(`Expected a variant of ours or idle but received ${JSON.stringify(variant)}`);
}
if (!file) throw new RangeError('Expected a picture file as the second argument');
const warmup = Number(warmupArg);
const runs = Number(runsArg);

/**
 * The peak RSS of this process so far, in KiB. On Linux, VmHWM: getrusage's
 * maxRSS (process.resourceUsage) starts a spawned child at its parent's peak,
 * so a child of a big benchmark process would report the parent's memory.
 */
const maxRssKb = (): number => {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS;
};
const bytes = await readFile(file);
let result: WorkerResult;
if (variant === 'idle') {
  const peak = maxRssKb();
  result = { variant, peakAfterFirstKb: peak, peakKb: peak, samples: [], decodeSamples: [] };
} else {
  const options: PictureOptions = {
    format: requireAllowedFormat(bytes, file),
    maxInputPixels: MAX_INPUT_PIXELS,
    targetSize: adapterFor(DEFAULT_MODEL_ID).targetSize,
    objectName: file,
  };
  // The first run is cold and counts towards the warm-up; the peak right
  // after it is what one invocation of a fresh container needs.
  const first = await ours(bytes, options);
  const peakAfterFirstKb = maxRssKb();
  for (let i = 1; i < warmup; i++) await ours(bytes, options);
  const samples: number[] = [];
  const decodeSamples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const prepared = await ours(bytes, options);
    samples.push(performance.now() - start);
    decodeSamples.push(prepared.decodeMs);
  }
  result = {
    variant,
    peakAfterFirstKb,
    peakKb: maxRssKb(),
    samples,
    decodeSamples,
    source: first.source,
    output: first.output,
    edgeDensity: first.edgeDensity,
  };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
