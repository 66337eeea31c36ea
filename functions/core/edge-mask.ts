/**
 * Canny edge detection on 8-bit greyscale images, for the conditioning mask.
 *
 * Pure on purpose: typed arrays in, typed arrays out, so the prepare Lambda,
 * the tests and the benchmark all run the very same code without sharp or AWS.
 *
 * Gradient magnitude scale (the unit of `low`, `high` and the automatic
 * thresholds): the Euclidean Sobel magnitude divided by 4, measured on the
 * smoothed image. Dividing by 4 (the sum of one Sobel half-kernel) makes a hard
 * step of Δ grey levels read Δ when nothing smooths it, so thresholds are in
 * grey levels, the same 0..255 scale as the pixels. Smoothing spreads a step
 * out: with the default sigma of 1.4 a hard step of Δ peaks at about 0.5 Δ
 * (a black/white step at about 127). Diagonal steps can read up to √2 · 255.
 *
 * A "ridge" below is a pixel that survives non-maximum suppression: a point
 * on a candidate contour, carrying the gradient magnitude there.
 */
import { invalidParameterMessage } from './is';

/** One byte per pixel, row-major. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface EdgeMaskOptions {
  /** Gaussian sigma in pixels; 0 skips smoothing. @default 1.4 */
  sigma?: number;
  /**
   * Where the automatic high threshold sits among the image's visible ridges
   * (those at or above {@link EDGE_LOW_FLOOR}), as a fraction from 0 to 1:
   * `high = max(EDGE_LOW_FLOOR, quantile(visible ridges, highPercentile))`,
   * so roughly the strongest `1 - highPercentile` of them start edges (all of
   * them when they are equally strong), unless {@link minSeedDensity} asks
   * for more. Higher means fewer, stronger edges. See {@link edgeMask}.
   * @default 0.8
   */
  highPercentile?: number;
  /**
   * The automatic low threshold as a fraction of the automatic high one, from
   * 0 to 1: `low = max(EDGE_LOW_FLOOR, lowRatio · high)`. Lower lets edges run
   * further along weaker ridges. Canny suggested a high:low ratio of 2 to 3.
   * @default 0.4
   */
  lowRatio?: number;
  /**
   * The least share of the image's pixels, from 0 to 1, that start edges:
   * the automatic high threshold comes down below the `highPercentile`
   * quantile as far as it takes for at least this many visible ridges to
   * reach it (all of them, if there are fewer). The percentile is there to
   * thin out busy pictures; a sparse one (a drawing, a few shapes, one of
   * which may be much stronger than the rest) has nothing to thin, and would
   * lose clear outlines to it. 0 turns this off. See {@link edgeMask}.
   * @default 0.01
   */
  minSeedDensity?: number;
  /**
   * Fixed low threshold on gradient magnitude, overriding the automatic one;
   * give `high` too. Ridges at or above it extend edges.
   */
  low?: number;
  /**
   * Fixed high threshold on gradient magnitude, overriding the automatic one;
   * give `low` too. Ridges at or above it start edges.
   */
  high?: number;
}

export interface EdgeMask extends GreyImage {
  /** Low threshold actually used, in the gradient magnitude scale. */
  readonly low: number;
  /** High threshold actually used, in the gradient magnitude scale. */
  readonly high: number;
  /** Fraction of pixels that are edges, 0..1. */
  readonly density: number;
}

export const DEFAULT_SIGMA = 1.4;
export const DEFAULT_HIGH_PERCENTILE = 0.8;
export const DEFAULT_LOW_RATIO = 0.4;
export const DEFAULT_MIN_SEED_DENSITY = 0.01;
/**
 * The visibility floor of the automatic thresholds: ridges weaker than this
 * neither count towards the percentile nor become edges, and both automatic
 * thresholds are at least this. A percentile is relative, so on a nearly flat
 * image (sensor noise, a smooth sky, JPEG blocking) it would happily trace
 * noise. 8 grey levels of smoothed gradient (a hard step of about 16 levels
 * at the default sigma) is still a visible edge and well above the noise of
 * an ordinary photograph: Gaussian noise of 10 grey levels on a flat image
 * yields almost no edges.
 */
export const EDGE_LOW_FLOOR = 8;
/** Large enough for any sensible blur; bounds the kernel allocation. */
export const MAX_SIGMA = 32;

// Ridge magnitudes go into 1/8-grey-level bins: the percentile comes out within
// 1/8 of a grey level (rounded down) without sorting a million floats.
const BINS_PER_LEVEL = 8;
// Integer Sobel on 8-bit pixels reaches √2 · 1020 / 4 ≈ 360.6 at most.
const MAX_MAGNITUDE = (Math.SQRT2 * 1020) / 4;
const HISTOGRAM_SIZE = Math.ceil(MAX_MAGNITUDE * BINS_PER_LEVEL) + 1;
const fail = (name: string, expected: string, actual: unknown): never => {
  // An object is named by its class: printing an array's contents helps nobody.
  const message =
    typeof actual === 'object' && actual !== null
      ? `Expected ${expected} for ${name} but received ${actual.constructor?.name ?? 'an object'}`
      : invalidParameterMessage(name, expected, actual);
  throw new RangeError(message);
};

const checkDimensions = (width: number, height: number): void => {
  if (!Number.isSafeInteger(width) || width < 1) fail('width', 'a positive integer', width);
  if (!Number.isSafeInteger(height) || height < 1) fail('height', 'a positive integer', height);
};

const checkPixels = (name: string, pixels: unknown, length: number, formula: string): void => {
  if (!(pixels instanceof Uint8Array)) fail(name, 'a Uint8Array', pixels);
  else if (pixels.length !== length) fail(`${name}.length`, `${length} (${formula})`, pixels.length);
};

/** Rec. 601 luma from interleaved 8-bit pixels (channels 1..4; alpha ignored). */
export function toGrey(pixels: Uint8Array, width: number, height: number, channels: number): GreyImage {
  checkDimensions(width, height);
  if (!Number.isSafeInteger(channels) || channels < 1 || channels > 4) fail('channels', 'an integer from 1 to 4', channels);
  const n = width * height;
  checkPixels('pixels', pixels, n * channels, `width × height × channels = ${width} × ${height} × ${channels}`);

  // A copy even for one channel: the caller may reuse its decode buffer.
  if (channels === 1) return { width, height, data: Uint8Array.from(pixels) };
  const data = new Uint8Array(n);
  if (channels === 2) {
    for (let i = 0, p = 0; i < n; i++, p += 2) data[i] = pixels[p]!;
    return { width, height, data };
  }
  // 0.299, 0.587, 0.114 in 16-bit fixed point (summing to exactly 65536, so
  // white stays 255), rounded: integer maths is both exact and faster here.
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    data[i] = (19595 * pixels[p]! + 38470 * pixels[p + 1]! + 7471 * pixels[p + 2]! + 32768) >>> 16;
  }
  return { width, height, data };
}

interface ResolvedOptions {
  readonly sigma: number;
  readonly highPercentile: number;
  readonly lowRatio: number;
  readonly minSeedDensity: number;
  readonly fixed: { readonly low: number; readonly high: number } | undefined;
}

const readOptions = (options: EdgeMaskOptions): ResolvedOptions => {
  const {
    sigma = DEFAULT_SIGMA,
    highPercentile = DEFAULT_HIGH_PERCENTILE,
    lowRatio = DEFAULT_LOW_RATIO,
    minSeedDensity = DEFAULT_MIN_SEED_DENSITY,
    low,
    high,
  } = options;
  if (typeof sigma !== 'number' || !(sigma >= 0 && sigma <= MAX_SIGMA)) {
    fail('options.sigma', `a number from 0 to ${MAX_SIGMA}`, sigma);
  }
  if (typeof highPercentile !== 'number' || !(highPercentile >= 0 && highPercentile <= 1)) {
    fail('options.highPercentile', 'a number from 0 to 1', highPercentile);
  }
  if (typeof lowRatio !== 'number' || !(lowRatio >= 0 && lowRatio <= 1)) fail('options.lowRatio', 'a number from 0 to 1', lowRatio);
  if (typeof minSeedDensity !== 'number' || !(minSeedDensity >= 0 && minSeedDensity <= 1)) {
    fail('options.minSeedDensity', 'a number from 0 to 1', minSeedDensity);
  }
  const automatic = { sigma, highPercentile, lowRatio, minSeedDensity };
  if (low === undefined && high === undefined) return { ...automatic, fixed: undefined };
  // Both or neither: half an override would mix a fixed and a relative threshold.
  if (typeof low !== 'number' || !(low >= 0 && Number.isFinite(low))) {
    fail('options.low', 'a finite number >= 0 (set with high)', low);
  }
  if (typeof high !== 'number' || !(high >= (low as number) && Number.isFinite(high))) {
    fail('options.high', `a finite number >= low = ${low as number} (set with low)`, high);
  }
  return { ...automatic, fixed: { low: low as number, high: high as number } };
};

/**
 * A Gaussian in fixed point: `half[k]` is the weight of offsets ±k, and the
 * whole kernel (`half[0] + 2·Σ half[k]`) sums to exactly `2^bits`, so a flat
 * area stays exactly flat and one shift divides the two passes out again.
 */
export interface GaussianKernel {
  readonly half: Int32Array;
  readonly bits: number;
}

// 8 bits per pass is what an 8-bit blur needs at the usual sigmas (OpenCV's
// bit-exact GaussianBlur uses the same) and keeps the row pass in 16 bits.
// Wide kernels spread their weight so thin that 8 bits would flatten their
// tails, so they get 11 (two passes: 255 · 2^22 still fits an int32).
const NARROW_KERNEL_BITS = 8;
const WIDE_KERNEL_BITS = 11;
const WIDE_SIGMA = 2;

/**
 * The integer kernel for `sigma`: radius ceil(3·sigma), the exact weights
 * rounded by largest remainder so they sum to 2^bits, then trailing taps
 * that round to zero dropped (at sigma 1.4 the sixth tap is 0.0005: doing
 * nothing in every pixel is worth skipping). Sigma 0 is the identity.
 */
export function gaussianKernel(sigma: number): GaussianKernel {
  if (sigma === 0) return { half: Int32Array.of(1), bits: 0 };
  const bits = sigma <= WIDE_SIGMA ? NARROW_KERNEL_BITS : WIDE_KERNEL_BITS;
  const scale = 2 ** bits;
  const radius = Math.ceil(3 * sigma);
  const exact = new Float64Array(radius + 1);
  let total = 0;
  for (let k = 0; k <= radius; k++) {
    exact[k] = Math.exp(-(k * k) / (2 * sigma * sigma));
    total += k === 0 ? exact[k]! : 2 * exact[k]!;
  }
  const half = new Int32Array(radius + 1);
  let missing = scale;
  for (let k = 0; k <= radius; k++) {
    exact[k] = (exact[k]! * scale) / total;
    half[k] = Math.floor(exact[k]!);
    missing -= k === 0 ? half[k]! : 2 * half[k]!;
  }
  // Every side tap counts twice, so an odd shortfall can only go to the centre.
  if (missing % 2 === 1) {
    half[0]!++;
    missing--;
  }
  const bySurplus = Array.from({ length: radius }, (_, i) => i + 1).sort(
    (a, b) => exact[b]! - half[b]! - (exact[a]! - half[a]!),
  );
  for (let i = 0; missing > 0; i = (i + 1) % Math.max(1, bySurplus.length)) {
    if (bySurplus.length === 0) {
      half[0]! += missing;
      break;
    }
    half[bySurplus[i]!]!++;
    missing -= 2;
  }
  let used = radius;
  while (used > 0 && half[used] === 0) used--;
  return { half: half.slice(0, used + 1), bits };
}

/**
 * Canny: Gaussian smoothing (separable integer kernel, see
 * {@link gaussianKernel}; edge pixels clamped; rounded to whole grey levels,
 * as an 8-bit blur such as OpenCV's GaussianBlur stores it), Sobel
 * gradients, non-maximum suppression along the
 * quantised gradient direction (4 sectors), double threshold, hysteresis
 * (8-connected, iterative stack, no recursion). Output: 255 on edges, 0
 * elsewhere.
 *
 * Automatic thresholds come from the ridges themselves, counting only the
 * visible ones (at or above {@link EDGE_LOW_FLOOR}):
 * `high = max(floor, min(q, s))`, `low = max(floor, lowRatio · high)`, both
 * compared inclusively (>=), where q is the `highPercentile` quantile of the
 * visible ridges and s the magnitude of the `minSeedDensity · pixels`-th
 * strongest one (the weakest one, if there are fewer). On a busy picture q
 * decides: the strongest fifth or so of the contour points start edges and
 * hysteresis extends them along ridges at least 40 % as strong. On a sparse
 * one s decides and every visible outline is kept. Either way the thresholds
 * scale with the image's contrast: the same scene at a fifth of the contrast
 * gets a fifth of the thresholds (down to the floor). Why this statistic:
 * - Ridges, not all gradient pixels: a percentile of the ridges says
 *   directly how many contour points seed edges. The median of all non-zero
 *   gradients (the previous rule) is dominated by the flanks of faint texture
 *   and noise: on every sample photo it fell below the floor, so the floor
 *   fixed the thresholds at 8/9 whatever the picture, and on the cat the
 *   mask was mostly fur.
 * - Visible ridges only: two thirds or more of the ridges of a photograph
 *   are below the floor (68-82 % on the samples), ripples of sensor noise,
 *   JPEG blocking, interpolation when upscaling and faint texture, and how
 *   many there are follows the noise, not the content: the 80th percentile
 *   of all ridges still lands at the floor on rocket.jpg. Leaving them out
 *   makes the percentile a statement about the structure.
 * - A least number of seeds: a percentile is relative to the strongest
 *   edges, so among a few shapes with one much stronger than the others (the
 *   benchmark's synthetic scene: a white disc among grey squares) the 80th
 *   percentile can be the disc alone, and squares tens of grey levels off
 *   their background vanish (0.31 % edges instead of 0.98 % on that scene).
 *   Such a picture is sparse (its visible ridges cover under 1 % of it, a
 *   photograph's 5-7 %), and needs no thinning.
 * - Inclusive comparisons, and the percentile rounded down to its histogram
 *   bin: on a clean drawing every ridge has the same magnitude, the
 *   percentile equals it and every edge is kept (a threshold set above a
 *   typical ridge, such as 1.33 times their median, would keep none).
 * - Not the median intensity: it measures brightness, not contrast (a white
 *   square on black gets 0, on grey 128, for the same edge).
 * The defaults (0.8, 0.4, 0.01; MATLAB's edge() takes 0.7 of all gradient
 * pixels and the same 0.4) were chosen on the sample photographs at about
 * 1 MP: 2-3.5 % of the pixels become edges, outlines, eyes and whiskers stay,
 * most low-contrast fur goes.
 *
 * An image without visible ridges gets both thresholds at the floor and no
 * edges; nothing is divided by anything. Fixed `low` and `high` bypass all
 * of this. See {@link EdgeMaskOptions.highPercentile}.
 */
export function edgeMask(image: GreyImage, options: EdgeMaskOptions = {}): EdgeMask {
  const { width, height, data } = image;
  checkDimensions(width, height);
  checkPixels('data', data, width * height, `width × height = ${width} × ${height}`);
  const { sigma, highPercentile, lowRatio, minSeedDensity, fixed } = readOptions(options);

  const n = width * height;
  const histogram = new Uint32Array(HISTOGRAM_SIZE);
  // The lower edge of the first visible bin, squared in the Sobel scale:
  // (bin / 8 · 4)². Fixed thresholds need no histogram at all.
  const firstVisibleBin = Math.ceil(EDGE_LOW_FLOOR * BINS_PER_LEVEL);
  const histogramFrom = fixed ? NEVER : (firstVisibleBin * firstVisibleBin) / 4;
  // Automatic thresholds are never below the floor; fixed ones are known now.
  const from = fixed ? Math.min(NEVER, Math.max(1, Math.ceil(16 * fixed.low * fixed.low))) : histogramFrom;
  const ridges = findRidges(data, width, height, gaussianKernel(sigma), from, histogramFrom, histogram);

  let low: number;
  let high: number;
  if (fixed) {
    ({ low, high } = fixed);
  } else {
    high = Math.max(EDGE_LOW_FLOOR, highThreshold(histogram, firstVisibleBin, highPercentile, Math.ceil(minSeedDensity * n)));
    low = Math.max(EDGE_LOW_FLOOR, lowRatio * high);
  }

  const out = new Uint8Array(n);
  const edges = ridges.count === 0 ? 0 : hysteresis(ridges, out, width, height, low, high);
  return { width, height, data: out, low, high, density: edges / n };
}

// Integer Sobel squares reach 2 · 1020² at most: one more is a square no pixel has.
const NEVER = 2 * 1020 * 1020 + 1;

/**
 * The ridges at or above the `from` square, in raster order: `index[i]` is the
 * pixel in the padded layout ((y + 1) · (width + 2) + x + 1), `squared[i]` its
 * exact Sobel square gx² + gy². A list rather than a picture-sized map: only a
 * few per cent of the pixels are ridges strong enough to matter, even on a
 * noisy picture, and hysteresis then visits only them.
 */
class Ridges {
  index: Int32Array;
  squared: Int32Array;
  count = 0;

  constructor(capacity: number) {
    this.index = new Int32Array(capacity);
    this.squared = new Int32Array(capacity);
  }

  /** Room for `more` ridges (one row's worth), so the row loop never checks. */
  reserve(more: number): void {
    if (this.count + more <= this.index.length) return;
    const capacity = Math.max(2 * this.index.length, this.count + more);
    const index = new Int32Array(capacity);
    const squared = new Int32Array(capacity);
    index.set(this.index.subarray(0, this.count));
    squared.set(this.squared.subarray(0, this.count));
    this.index = index;
    this.squared = squared;
  }
}

/**
 * Smoothing, Sobel and non-maximum suppression in one streaming pass, row by
 * row, so the working set is a few rows that stay in cache instead of three
 * picture-sized arrays written and re-read from memory (the way OpenCV's Canny
 * computes its magnitude rows on the fly):
 * - smoothed row r+1 goes into a ring of three padded rows, whose ends
 *   replicate the row's ends; the row above the first and below the last is
 *   that row itself ("edge pixels clamped" everywhere);
 * - then the gradients of row r into a ring of three, bordered the same way;
 * - then the suppression of row r-1 (see {@link suppressRow}), which appends
 *   its ridges to the list and histograms the visible ones.
 * The rings live in the memory of the SIMD kernels (see {@link Kernels}),
 * which blur (the default sigma's kernel and any narrower one) and
 * differentiate eight pixels at a time; wider kernels are blurred in
 * JavaScript (see {@link RowBlur}), into the same rings.
 */
function findRidges(
  source: Uint8Array,
  width: number,
  height: number,
  kernel: GaussianKernel,
  from: number,
  histogramFrom: number,
  histogram: Uint32Array,
): Ridges {
  const pw = width + 2;
  const simdBlur = kernel.bits === NARROW_KERNEL_BITS && kernel.half.length - 1 <= SIMD_RADIUS;
  const k = kernels();
  // Layout, in bytes: [the picture (SIMD blur only)][column sums][3 smoothed rows][3 gradient rows],
  // each with the slack that eight-pixel steps read and write past a row's end.
  const pictureAt = 0;
  const columnsAt = align(simdBlur ? width * height + SLACK : 0);
  const smoothAt = align(columnsAt + 2 * (width + 2 * SLACK));
  const smoothStride = align(pw + 2 * SLACK);
  const gradientsAt = smoothAt + 3 * smoothStride;
  const gradientStride = align(4 * (pw + SLACK) + SLACK);
  const bytes = gradientsAt + 3 * gradientStride;
  const memory = k.memory;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / WASM_PAGE));
  const heap = new Uint8Array(memory.buffer);
  const gradients = new Int32Array(memory.buffer);

  let blur: (row: number, o: number) => void;
  if (simdBlur) {
    heap.set(source, pictureAt);
    const w = new Int32Array(SIMD_RADIUS + 1);
    w.set(kernel.half);
    const at = (row: number): number => pictureAt + (row < 0 ? 0 : row > height - 1 ? height - 1 : row) * width;
    blur = (y, o) =>
      k.blurRow(at(y - 4), at(y - 3), at(y - 2), at(y - 1), at(y), at(y + 1), at(y + 2), at(y + 3), at(y + 4), width, columnsAt, o, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!);
  } else {
    const rows = new RowBlur(source, width, height, kernel);
    blur = (y, o) => rows.row(y, heap, o);
  }

  // A photograph has ridges above the floor on 5-7 % of its pixels.
  const ridges = new Ridges(Math.max(1024, (width * height) >> 4));
  const steps = new Int32Array(8);
  const last = height - 1;
  const smoothed = (row: number): number => smoothAt + (row % 3) * smoothStride;
  const gradient = (row: number): number => gradientsAt + (row % 3) * gradientStride;
  const suppress = (row: number): void => {
    // In int32 elements of `gradients`.
    const above = gradient(row > 0 ? row - 1 : 0) >> 2;
    const centre = gradient(row) >> 2;
    const below = gradient(row < last ? row + 1 : last) >> 2;
    ridges.reserve(width);
    suppressRow(gradients, above, centre, below, (row + 1) * pw, width, steps, from, histogramFrom, histogram, ridges);
  };
  blur(0, smoothed(0));
  for (let row = 0; row <= last; row++) {
    if (row < last) blur(row + 1, smoothed(row + 1));
    k.gradientRow(smoothed(row > 0 ? row - 1 : 0), smoothed(row), smoothed(row < last ? row + 1 : last), gradient(row), width);
    if (row > 0) suppress(row - 1);
  }
  suppress(last);
  return ridges;
}

const SLACK = 32;
const WASM_PAGE = 65536;
const align = (bytes: number): number => (bytes + 15) & ~15;
/** The widest kernel the SIMD blur takes (narrower ones are padded with zero taps): the default sigma's. */
const SIMD_RADIUS = 4;

/**
 * The SIMD kernels of the pass (WebAssembly, 128-bit: eight 16-bit lanes),
 * assembled from edge-mask.wat, where each is explained; to rebuild after
 * editing it: `npx -y wabt@1.0.39 wat2wasm functions/core/edge-mask.wat
 * --output=- | base64 -w0`. JavaScript has no SIMD, and these two stages,
 * the same work on every pixel, were two thirds of the time:
 * - blurRow: one smoothed row, exactly as {@link RowBlur} computes it (the
 *   column sums of the nine source rows around it, then the row sums,
 *   rounded once to whole grey levels), for 8-bit kernels of radius 4 or less;
 * - gradientRow: one row of Sobel gradients packed into one int32 per pixel:
 *   the squared magnitude gx² + gy² (exact, at most 2 · 1020² < 2^21) shifted
 *   left by two, and the gradient direction quantised to 4 sectors in the low
 *   two bits: 0 horizontal, 1 vertical, 2 the "\" diagonal (down right, as
 *   rows grow downwards), 3 the "/" diagonal. Squares compare like
 *   magnitudes, so no square root is needed to suppress non-maxima, and
 *   comparing |gx| and |gy| against tan 22.5° gives the same sectors as atan2
 *   without trigonometry (the Q15 tangent moves the boundary by under 2·10⁻⁶
 *   of |g|, less than one integer step of the gradient).
 * One instance per process, its memory grown to the largest picture seen.
 */
interface Kernels {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  blurRow(
    ...args: [r0: number, r1: number, r2: number, r3: number, r4: number, r5: number, r6: number, r7: number, r8: number,
      width: number, columns: number, out: number, k0: number, k1: number, k2: number, k3: number, k4: number]
  ): void;
  gradientRow(up: number, mid: number, down: number, out: number, width: number): void;
}

// The ES2023 lib declares no WebAssembly (the DOM lib does): the two constructors used here.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: object };
};

const KERNELS_WASM = 'AGFzbQEAAAABHQJgEX9/f39/f39/f39/f39/f39/AGAFf39/f38AAwMCAAEFAwEAAQciAwZtZW1vcnkCAAdibHVyUm93AAALZ3JhZGllbnRSb3cAAQrBCQLcBQIDfwl7IAz9ECEUIA39ECEVIA79ECEWIA/9ECEXIBD9ECEYQQAhEQJAA0AgESAJTg0BIAogEUEEakEBdGogFCAEIBFq/V0DAP2JAf2VASAVIAMgEWr9XQMA/YkBIAUgEWr9XQMA/YkB/Y4B/ZUBIBYgAiARav1dAwD9iQEgBiARav1dAwD9iQH9jgH9lQH9jgH9jgEgFyABIBFq/V0DAP2JASAHIBFq/V0DAP2JAf2OAf2VASAYIAAgEWr9XQMA/YkBIAggEWr9XQMA/YkB/Y4B/ZUB/Y4B/Y4B/QsEACARQQhqIREMAAsLIAovAQghEyAKIBOtQoGAhICQgMAAfjcDACAKIAlBBGpBAXRqIRIgEkECay8BACETIBIgE61CgYCEgJCAwAB+NwMAQYCAAv0RIRxBACERAkADQCARIAlODQEgCiARQQF0aiESIBL9AAQIIRsgHCAbIBT9vgH9rgEhGSAcIBsgFP2/Af2uASEaIBL9AAQGIRsgGSAbIBX9vgH9rgEhGSAaIBsgFf2/Af2uASEaIBL9AAQKIRsgGSAbIBX9vgH9rgEhGSAaIBsgFf2/Af2uASEaIBL9AAQEIRsgGSAbIBb9vgH9rgEhGSAaIBsgFv2/Af2uASEaIBL9AAQMIRsgGSAbIBb9vgH9rgEhGSAaIBsgFv2/Af2uASEaIBL9AAQCIRsgGSAbIBf9vgH9rgEhGSAaIBsgF/2/Af2uASEaIBL9AAQOIRsgGSAbIBf9vgH9rgEhGSAaIBsgF/2/Af2uASEaIBL9AAQAIRsgGSAbIBj9vgH9rgEhGSAaIBsgGP2/Af2uASEaIBL9AAQQIRsgGSAbIBj9vgH9rgEhGSAaIBsgGP2/Af2uASEaIBlBEP2tASAaQRD9rQH9hgEhGyALQQFqIBFqIBsgG/1m/VsDAAAgEUEIaiERDAALCyALIAstAAE6AAAgCyAJaiALIAlqLQAAOgABC+ADAgJ/D3tBheoA/RAhFEEB/REhFUEAIQUCQANAIAUgBE4NASAAIAVq/V0DAP2JASEHIAAgBWr9XQMB/YkBIQggACAFav1dAwL9iQEhCSABIAVq/V0DAP2JASEKIAEgBWr9XQMC/YkBIQsgAiAFav1dAwD9iQEhDCACIAVq/V0DAf2JASENIAIgBWr9XQMC/YkBIQ4gCSAO/Y4BIAtBAf2LAf2OASAHIAz9jgEgCkEB/YsB/Y4B/ZEBIQ8gDCAO/Y4BIA1BAf2LAf2OASAHIAn9jgEgCEEB/YsB/Y4B/ZEBIRAgD/2AASERIBD9gAEhEiAPIBD9UUEP/Y0BIRMgAyAFQQFqQQJ0aiEGIAYgDyAP/bwBIBAgEP28Af2uAUEC/asBIBL9qQFBD/2rASARIBT9vgH9OyAVIBH9qQFBD/2rASASIBT9vgH9OyAVIBP9qQH9rgH9Tv2uAf1O/VD9CwQAIAYgDyAP/b0BIBAgEP29Af2uAUEC/asBIBL9qgFBD/2rASARIBT9vwH9OyAVIBH9qgFBD/2rASASIBT9vwH9OyAVIBP9qgH9rgH9Tv2uAf1O/VD9CwQQIAVBCGohBQwACwsgAyADKAIENgIAIAMgBEECdGohBiAGIAYoAgA2AgQL';

let instance: Kernels | undefined;
const kernels = (): Kernels =>
  (instance ??= new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'))).exports as unknown as Kernels);

/**
 * The separable blur of one row at a time, in fixed point, for the kernels
 * the SIMD blur does not take: the column sums of the (clamped) source rows
 * around it first, exact, into a small buffer padded by replicating its ends;
 * then the row sum over that buffer, rounded once to whole grey levels.
 * Columns first, because their source rows are the caller's picture itself:
 * no picture-sized scratch buffer is needed.
 */
class RowBlur {
  private readonly radius: number;
  private readonly weights: Int32Array;
  private readonly columns: Int32Array;
  private readonly offsets: Int32Array;
  private readonly rounding: number;
  private readonly shift: number;

  constructor(
    private readonly source: Uint8Array,
    private readonly width: number,
    private readonly height: number,
    kernel: GaussianKernel,
  ) {
    const { half, bits } = kernel;
    this.radius = half.length - 1;
    this.weights = Int32Array.from(half);
    // 8 bits: a column sum is under 2^16 and a total under 2^24; 11 bits: under 2^19 and 2^30.
    this.columns = new Int32Array(width + 2 * this.radius);
    this.offsets = new Int32Array(2 * this.radius + 1);
    this.shift = 2 * bits;
    this.rounding = this.shift === 0 ? 0 : 2 ** (this.shift - 1);
  }

  /** Smoothed row `y` into `target` from `o` on: o + 1 … o + width, and both ends replicated. */
  row(y: number, target: Uint8Array, o: number): void {
    const { source, width, radius, columns, offsets } = this;
    if (radius === 0) {
      // One tap of exactly 2^bits: the identity.
      target.set(source.subarray(y * width, (y + 1) * width), o + 1);
    } else {
      const maxRow = this.height - 1;
      for (let k = -radius; k <= radius; k++) offsets[k + radius] = Math.min(maxRow, Math.max(0, y + k)) * width;
      columnSums(source, offsets, columns, width, this.weights);
      columns.fill(columns[radius]!, 0, radius);
      columns.fill(columns[radius + width - 1]!, radius + width);
      rowSums(columns, target, o + 1, width, this.weights, this.rounding, this.shift);
    }
    target[o] = target[o + 1]!;
    target[o + width + 1] = target[o + width]!;
  }
}

function columnSums(source: Uint8Array, offsets: Int32Array, columns: Int32Array, width: number, weights: Int32Array): void {
  const radius = weights.length - 1;
  const k0 = weights[0]!;
  const c = offsets[radius]!;
  for (let x = 0; x < width; x++) {
    let sum = k0 * source[c + x]!;
    for (let k = 1; k <= radius; k++) sum += weights[k]! * (source[offsets[radius - k]! + x]! + source[offsets[radius + k]! + x]!);
    columns[x + radius] = sum;
  }
}

function rowSums(columns: Int32Array, target: Uint8Array, o: number, width: number, weights: Int32Array, rounding: number, shift: number): void {
  const radius = weights.length - 1;
  const k0 = weights[0]!;
  for (let x = 0, c = radius; x < width; x++, c++) {
    let sum = rounding + k0 * columns[c]!;
    for (let k = 1; k <= radius; k++) sum += weights[k]! * (columns[c - k]! + columns[c + k]!);
    target[o + x] = sum >>> shift;
  }
}

/**
 * Non-maximum suppression of one row (its gradients from `centre` in
 * `gradients`, the rows around it from `above` and `below`): keeps a pixel
 * only if it is a local maximum across the edge. Strictly greater than the
 * neighbour on one side, at least equal on the other: a symmetric step has a
 * two-pixel plateau, and this keeps exactly one of it, so contours come out
 * one pixel wide. Looks only at pixels whose square is at least `from` (at
 * least 1): weaker ones can neither become edges nor count, and on a noisy
 * picture they are most pixels. Appends each ridge to `ridges` (`index`
 * counts from `base`, the padded index of the row's border pixel) and
 * histograms the magnitudes of those whose square is at least
 * `histogramFrom`, for the automatic thresholds.
 */
function suppressRow(
  gradients: Int32Array,
  above: number,
  centre: number,
  below: number,
  base: number,
  width: number,
  steps: Int32Array,
  from: number,
  histogramFrom: number,
  histogram: Uint32Array,
  ridges: Ridges,
): void {
  // Per sector, the offsets from a pixel to its neighbours before (0-3) and after (4-7) along the gradient.
  const up = above - centre;
  const down = below - centre;
  steps[0] = -1;
  steps[1] = up;
  steps[2] = up - 1;
  steps[3] = up + 1;
  steps[4] = 1;
  steps[5] = down;
  steps[6] = down + 1;
  steps[7] = down - 1;
  const packedFrom = from << 2;
  const lastBin = histogram.length - 1;
  const { index, squared: squares } = ridges;
  let count = ridges.count;
  for (let x = 1, i = centre + 1; x <= width; x++, i++) {
    const packed = gradients[i]!;
    // Too faint to ever be an edge or to count: no need to know if it is a ridge.
    if (packed < packedFrom) continue;
    const squared = packed >> 2;
    const sector = packed & 3;
    if (squared > gradients[i + steps[sector]!]! >> 2 && squared >= gradients[i + steps[sector + 4]!]! >> 2) {
      index[count] = base + x;
      squares[count] = squared;
      count++;
      // Only visible ridges are counted (see highThreshold), and only they
      // pay for the root: most ridges of a photo are faint ripples.
      if (squared >= histogramFrom) {
        // magnitude · BINS_PER_LEVEL = √squared / 4 · 8
        const bin = (2 * Math.sqrt(squared)) | 0;
        histogram[bin > lastBin ? lastBin : bin]!++;
      }
    }
  }
  ridges.count = count;
}

/**
 * The automatic high threshold from the ridge histogram, counting bins `first`
 * and up (the visible ridges): their `fraction` quantile (the smallest value
 * with at least that fraction of them at or below it), lowered if need be so
 * that at least `minSeeds` of them (or all, if there are fewer) are at or
 * above it. Rounded down to the lower edge of its bin, so every value in that
 * bin is at or above the result: with an inclusive comparison, ridges of
 * equal strength all land on the same side. 0 when those bins are empty.
 */
function highThreshold(histogram: Uint32Array, first: number, fraction: number, minSeeds: number): number {
  let count = 0;
  for (let bin = first; bin < histogram.length; bin++) count += histogram[bin]!;
  if (count === 0) return 0;
  // 1-based rank from the weakest; the strongest `minSeeds` start at count - minSeeds + 1.
  const rank = Math.max(1, Math.min(Math.ceil(fraction * count), count - minSeeds + 1));
  let seen = 0;
  for (let bin = first; bin < histogram.length; bin++) {
    seen += histogram[bin]!;
    if (seen >= rank) return bin / BINS_PER_LEVEL;
  }
  return (histogram.length - 1) / BINS_PER_LEVEL;
}


/**
 * Double threshold and hysteresis: every strong ridge (>= high) seeds a flood
 * along 8-connected weak ridges (>= low) with an explicit stack, since
 * recursion would overflow along a long contour. Only the listed ridges are
 * visited: they are marked weak in a padded byte map (0 everywhere else,
 * border included), and a pixel is marked taken when pushed, so it is never
 * pushed twice. Writes 255 into `out` and returns the number of edge pixels.
 */
function hysteresis(ridges: Ridges, out: Uint8Array, width: number, height: number, low: number, high: number): number {
  const pw = width + 2;
  // Thresholds on the magnitude √squared / 4 become thresholds on the exact
  // integer squares: m >= t exactly when squared >= ceil(16 t²). At least 1,
  // so the border and suppressed pixels never join, even for low = 0.
  const weak = Math.max(1, Math.ceil(16 * low * low));
  const strong = Math.max(weak, Math.ceil(16 * high * high));
  const { index, squared, count } = ridges;
  const WEAK = 1;
  const TAKEN = 2;
  const map = new Uint8Array(pw * (height + 2));
  for (let r = 0; r < count; r++) if (squared[r]! >= weak) map[index[r]!] = WEAK;
  // Each pixel is pushed at most once, and only ridges are.
  const stack = new Int32Array(count);
  let edges = 0;
  for (let r = 0; r < count; r++) {
    const seed = index[r]!;
    if (squared[r]! < strong || map[seed] !== WEAK) continue;
    map[seed] = TAKEN;
    let top = 0;
    stack[top++] = seed;
    while (top > 0) {
      const i = stack[--top]!;
      edges++;
      const row = (i / pw) | 0;
      // Padded (row, column + 1) to unpadded (row - 1, column).
      out[i - 2 * row - width - 1] = 255;
      let j = i - pw - 1;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j++;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j++;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j = i - 1;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j = i + 1;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j = i + pw - 1;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j++;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
      j++;
      if (map[j] === WEAK) (map[j] = TAKEN), (stack[top++] = j);
    }
  }
  return edges;
}
