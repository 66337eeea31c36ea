import type { OutputInfo, default as Sharp } from 'sharp';
import { edgeMask, toGrey } from '../core/edge-mask';
import { PipelineError } from '../core/errors';
import type { AllowedFormat } from '../core/format';
import { DEFAULT_MAX_JPEG_SCANS, requireJpegScansWithin } from '../core/jpeg-structure';
import { planCover, type Size, type SizingPlan } from '../core/sizing';

let loading: Promise<typeof Sharp> | undefined;

/**
 * sharp and libvips load with the first picture rather than at module init: about 250 ms that a
 * cold start's init phase need not spend before the first message is even read.
 */
const loadSharp = (): Promise<typeof Sharp> =>
  (loading ??= import('sharp').then(({ default: sharp }) => {
    // Only the allowlisted decoders may run, whatever the bytes claim to be:
    // a second fence behind the magic-byte check in core/format.ts.
    sharp.block({ operation: ['VipsForeignLoad'] });
    sharp.unblock({ operation: ['VipsForeignLoadJpegBuffer', 'VipsForeignLoadPngBuffer', 'VipsForeignLoadWebpBuffer'] });
    // A Lambda container handles one picture at a time; libvips' operation cache only holds memory.
    sharp.cache(false);
    return sharp;
  }));

export interface PreparedPicture {
  readonly sourceSize: Size;
  readonly plan: SizingPlan;
  /** The sized photo, 8-bit sRGB PNG. */
  readonly conditioning: Buffer;
  /** White edges on black, 8-bit single-channel PNG. */
  readonly edges: Buffer;
  readonly edgeThresholds: { readonly low: number; readonly high: number };
  readonly edgeDensity: number;
  readonly timings: { readonly decodeMs: number; readonly edgesMs: number; readonly encodeMs: number };
}

export interface PictureOptions {
  readonly format: AllowedFormat;
  readonly maxInputPixels: number;
  readonly targetSize: (source: Size) => Size;
  /** Names the upload in error messages. */
  readonly objectName: string;
  /** A JPEG with more scans is refused (DECODER_LIMIT) before sharp sees it. @default DEFAULT_MAX_JPEG_SCANS */
  readonly maxJpegScans?: number;
  /**
   * Seconds all of sharp's work on this picture may take; each pipeline gets what is left
   * (sharp's timeout()), and running out is DECODER_LIMIT. libvips checks between tiles, so a
   * single long libjpeg call (all of a progressive file's scans) can overrun it: the scan
   * limit is what stops those. @default no limit
   */
  readonly timeoutSeconds?: number;
}

/** sharp's timeout error reads "timeout: 54% complete". */
const isTimeout = (error: unknown): boolean => error instanceof Error && /^timeout: \d+% complete/.test(error.message);

const tooSlow = (options: PictureOptions, step: string, cause?: unknown): PipelineError =>
  new PipelineError(
    'DECODER_LIMIT',
    `${options.objectName} took longer than ${options.timeoutSeconds} s to ${step} (the time prepare has for one picture)`,
    cause === undefined ? undefined : { cause },
  );

/** sharp's timeout() for the next pipeline: what is left of options.timeoutSeconds (0: no limit). */
const timeLeft = (options: PictureOptions, started: number, step: string): { seconds: number } => {
  if (options.timeoutSeconds === undefined) return { seconds: 0 };
  const left = options.timeoutSeconds - (performance.now() - started) / 1000;
  if (left <= 0) throw tooSlow(options, step);
  // Whole seconds only: rounded up, so the overrun stays under a second.
  return { seconds: Math.ceil(left) };
};

/**
 * zlib level 2 instead of libpng's 6: on photographs at about 1 MP the file is
 * the same size to the percent (2.71 MB either way on safe-landing at
 * 1344×768) and the encode takes about two thirds of the time; level 1 is
 * faster again but 16 % larger, which every S3 transfer and model request pays.
 * No adaptive filtering: it shrinks the file by a quarter at more than the
 * cost of the default encode.
 */
const CONDITIONING_PNG = { compressionLevel: 2, adaptiveFiltering: false } as const;

const describeDecodeError = (error: unknown, objectName: string, format: string): PipelineError => {
  const text = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(text)) {
    return new PipelineError('IMAGE_DIMENSIONS', `${objectName} has more pixels than the configured limit: ${text}`, { cause: error });
  }
  return new PipelineError('UNREADABLE_IMAGE', `${objectName} could not be decoded as ${format}: ${text}`, { cause: error });
};

/**
 * Decodes, orients, sizes and normalises the upload, then draws its edge mask.
 * The resize comes before the crop so libjpeg's shrink-on-load decodes a big
 * JPEG at a fraction of its size.
 */
export const preparePicture = async (bytes: Uint8Array, options: PictureOptions): Promise<PreparedPicture> => {
  const sharp = await loadSharp();
  const started = performance.now();
  const input = { limitInputPixels: options.maxInputPixels, failOn: 'error' as const, autoOrient: true };
  let plan: SizingPlan;
  let sourceSize: Size;
  let pixels: { data: Buffer; info: OutputInfo };
  try {
    // Before any decoder runs: thousands of scans are minutes of libjpeg that no timeout interrupts.
    if (options.format === 'jpeg') requireJpegScansWithin(bytes, options.maxJpegScans ?? DEFAULT_MAX_JPEG_SCANS, options.objectName);
    // metadata() reads the header only (libjpeg stops at the first scan); the timeout is there all the same.
    const metadata = await sharp(bytes, input).timeout(timeLeft(options, started, 'decode')).metadata();
    sourceSize = metadata.autoOrient;
    plan = planCover(sourceSize, options.targetSize(sourceSize));
    pixels = await sharp(bytes, input)
      .timeout(timeLeft(options, started, 'decode'))
      .resize(plan.resize.width, plan.resize.height, { fit: 'fill' })
      .extract(plan.extract)
      // Transparent areas become white paper, not black: black would draw edges around them.
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    if (error instanceof PipelineError) throw error;
    if (isTimeout(error)) throw tooSlow(options, `decode as ${options.format}`, error);
    throw describeDecodeError(error, options.objectName, options.format);
  }
  const { width, height, channels } = pixels.info;
  const decoded = performance.now();

  const limit = timeLeft(options, started, 'encode its PNGs');
  // The conditioning PNG needs only the pixels: libvips encodes it on a worker
  // thread while the edge mask is drawn here, on the main one.
  const conditioningPng = sharp(pixels.data, { raw: { width, height, channels } }).timeout(limit).png(CONDITIONING_PNG).toBuffer();
  // Awaited below; this only keeps a failure from being "unhandled" while edgeMask runs.
  conditioningPng.catch(() => undefined);
  const mask = edgeMask(toGrey(pixels.data, width, height, channels));
  const masked = performance.now();

  const [conditioning, edges] = await Promise.all([
    conditioningPng,
    // Without b-w, sharp widens one-band raw input to sRGB on output.
    sharp(mask.data, { raw: { width, height, channels: 1 } }).timeout(limit).toColourspace('b-w').png().toBuffer(),
  ]).catch((error: unknown) => {
    throw isTimeout(error) ? tooSlow(options, 'encode its PNGs', error) : error;
  });
  const encoded = performance.now();
  return {
    sourceSize,
    plan,
    conditioning,
    edges,
    edgeThresholds: { low: mask.low, high: mask.high },
    edgeDensity: mask.density,
    timings: {
      decodeMs: Math.round(decoded - started),
      edgesMs: Math.round(masked - decoded),
      encodeMs: Math.round(encoded - masked),
    },
  };
};
