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
const MAX_MAGNITUDE = Math.SQRT2 * 255;
const HISTOGRAM_SIZE = Math.ceil(MAX_MAGNITUDE * BINS_PER_LEVEL) + 1;
// tan(22.5°): the boundary between the horizontal/vertical and diagonal sectors.
const TAN_22_5 = Math.SQRT2 - 1;

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

/** Half of a normalised Gaussian: weights for offsets 0..radius. */
const gaussianHalfKernel = (sigma: number): Float64Array => {
  if (sigma === 0) return Float64Array.of(1);
  const radius = Math.ceil(3 * sigma);
  const half = new Float64Array(radius + 1);
  let sum = 0;
  for (let k = 0; k <= radius; k++) {
    const weight = Math.exp(-(k * k) / (2 * sigma * sigma));
    half[k] = weight;
    sum += k === 0 ? weight : 2 * weight;
  }
  for (let k = 0; k <= radius; k++) half[k]! /= sum;
  return half;
};

/**
 * Canny: Gaussian smoothing (separable kernel, radius ceil(3·sigma), edge
 * pixels clamped), Sobel gradients, non-maximum suppression along the
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
  // Working buffers carry a one-pixel border replicating their edge, so the
  // 3×3 Sobel and NMS neighbourhoods need no bounds checks ("edge pixels
  // clamped" everywhere, not just in the Gaussian).
  const pw = width + 2;
  const ph = height + 2;
  const smooth = new Float32Array(pw * ph);
  const scratch = new Float32Array(n);
  gaussianBlur(data, width, height, gaussianHalfKernel(sigma), scratch, smooth);
  replicateBorder(smooth, pw, ph);

  const magnitude = new Float32Array(pw * ph);
  const sector = new Uint8Array(pw * ph);
  sobel(smooth, magnitude, sector, width, height);
  replicateBorder(magnitude, pw, ph);

  // `smooth` is spent; it becomes the ridge map (zero border: never an edge).
  const ridges = smooth;
  const histogram = new Uint32Array(HISTOGRAM_SIZE);
  const ridgeCount = suppressNonMaxima(magnitude, sector, ridges, histogram, width, height);

  let low: number;
  let high: number;
  if (fixed) {
    ({ low, high } = fixed);
  } else {
    const firstVisibleBin = Math.ceil(EDGE_LOW_FLOOR * BINS_PER_LEVEL);
    high = Math.max(EDGE_LOW_FLOOR, highThreshold(histogram, firstVisibleBin, highPercentile, Math.ceil(minSeedDensity * n)));
    low = Math.max(EDGE_LOW_FLOOR, lowRatio * high);
  }

  // `scratch` is spent too: its bytes hold the hysteresis stack (each pixel is
  // pushed at most once, so n slots are enough) and `sector` the marks.
  const stack = new Int32Array(scratch.buffer, scratch.byteOffset, n);
  const marks = sector;
  marks.fill(0);
  const out = new Uint8Array(n);
  const edges = ridgeCount === 0 ? 0 : hysteresis(ridges, marks, stack, out, width, height, low, high);

  return { width, height, data: out, low, high, density: edges / n };
}

/**
 * Separable blur: rows into `scratch` (unpadded), then columns into the
 * interior of `target` (padded by one). Clamping is handled per row, never
 * per pixel, and the symmetric kernel halves the multiplications.
 */
function gaussianBlur(
  source: Uint8Array,
  width: number,
  height: number,
  half: Float64Array,
  scratch: Float32Array,
  target: Float32Array,
): void {
  const radius = half.length - 1;
  const k0 = half[0]!;
  const row = new Float32Array(width + 2 * radius);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    const first = source[base]!;
    const last = source[base + width - 1]!;
    for (let x = 0; x < radius; x++) row[x] = first;
    for (let x = 0; x < width; x++) row[radius + x] = source[base + x]!;
    for (let x = radius + width; x < row.length; x++) row[x] = last;
    for (let x = 0; x < width; x++) {
      const c = x + radius;
      let sum = k0 * row[c]!;
      for (let k = 1; k <= radius; k++) sum += half[k]! * (row[c - k]! + row[c + k]!);
      scratch[base + x] = sum;
    }
  }

  const pw = width + 2;
  const maxRow = height - 1;
  for (let y = 0; y < height; y++) {
    const o = (y + 1) * pw + 1;
    const centre = y * width;
    for (let x = 0; x < width; x++) target[o + x] = k0 * scratch[centre + x]!;
    for (let k = 1; k <= radius; k++) {
      const weight = half[k]!;
      const above = (y - k < 0 ? 0 : y - k) * width;
      const below = (y + k > maxRow ? maxRow : y + k) * width;
      for (let x = 0; x < width; x++) target[o + x]! += weight * (scratch[above + x]! + scratch[below + x]!);
    }
  }
}

/** Copies the outermost interior rows and columns into the one-pixel border. */
function replicateBorder(buffer: Float32Array, pw: number, ph: number): void {
  for (let y = 1; y < ph - 1; y++) {
    const o = y * pw;
    buffer[o] = buffer[o + 1]!;
    buffer[o + pw - 1] = buffer[o + pw - 2]!;
  }
  buffer.copyWithin(0, pw, 2 * pw);
  buffer.copyWithin((ph - 1) * pw, (ph - 2) * pw, (ph - 1) * pw);
}

/**
 * Sobel magnitude (scale: see module comment) and the gradient direction
 * quantised to 4 sectors: 0 horizontal, 1 vertical, 2 the "\" diagonal (down
 * right, as rows grow downwards), 3 the "/" diagonal. Comparing |gx| and |gy|
 * against tan 22.5° gives the same sectors as atan2 without the trigonometry.
 */
function sobel(
  smooth: Float32Array,
  magnitude: Float32Array,
  sector: Uint8Array,
  width: number,
  height: number,
): void {
  const pw = width + 2;
  for (let y = 1; y <= height; y++) {
    let i = y * pw + 1;
    for (let x = 0; x < width; x++, i++) {
      const nw = smooth[i - pw - 1]!;
      const ne = smooth[i - pw + 1]!;
      const sw = smooth[i + pw - 1]!;
      const se = smooth[i + pw + 1]!;
      const gx = ne + 2 * smooth[i + 1]! + se - nw - 2 * smooth[i - 1]! - sw;
      const gy = sw + 2 * smooth[i + pw]! + se - nw - 2 * smooth[i - pw]! - ne;
      const m = 0.25 * Math.sqrt(gx * gx + gy * gy);
      magnitude[i] = m;
      const ax = gx < 0 ? -gx : gx;
      const ay = gy < 0 ? -gy : gy;
      sector[i] = ay <= TAN_22_5 * ax ? 0 : ax <= TAN_22_5 * ay ? 1 : (gx > 0) === (gy > 0) ? 2 : 3;
    }
  }
}

/**
 * Keeps a pixel only if it is a local maximum across the edge. Strictly
 * greater than the neighbour on one side, at least equal on the other: a
 * symmetric step has a two-pixel plateau, and this keeps exactly one of it,
 * so contours come out one pixel wide. Histograms the ridge magnitudes for
 * the automatic thresholds and returns the number of ridge pixels.
 */
function suppressNonMaxima(
  magnitude: Float32Array,
  sector: Uint8Array,
  ridges: Float32Array,
  histogram: Uint32Array,
  width: number,
  height: number,
): number {
  const pw = width + 2;
  const lastBin = histogram.length - 1;
  // Per sector, the offset to the neighbours after (+) and before (-) along the gradient.
  const steps = Int32Array.of(1, pw, pw + 1, pw - 1);
  let count = 0;
  ridges.fill(0, 0, pw);
  ridges.fill(0, (height + 1) * pw);
  for (let y = 1; y <= height; y++) {
    let i = y * pw;
    ridges[i] = 0;
    ridges[i + pw - 1] = 0;
    i++;
    for (let x = 0; x < width; x++, i++) {
      const m = magnitude[i]!;
      let keep = false;
      if (m > 0) {
        const step = steps[sector[i]!]!;
        keep = m > magnitude[i - step]! && m >= magnitude[i + step]!;
      }
      if (keep) {
        ridges[i] = m;
        count++;
        const bin = (m * BINS_PER_LEVEL) | 0;
        histogram[bin > lastBin ? lastBin : bin]!++;
      } else {
        ridges[i] = 0;
      }
    }
  }
  return count;
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
 * Double threshold and hysteresis in one sweep: every strong ridge (>= high)
 * seeds a flood along 8-connected weak ridges (>= low) with an explicit stack,
 * since recursion would overflow along a long contour. Writes 255 into `out`
 * and returns the number of edge pixels.
 */
function hysteresis(
  ridges: Float32Array,
  marks: Uint8Array,
  stack: Int32Array,
  out: Uint8Array,
  width: number,
  height: number,
  low: number,
  high: number,
): number {
  const pw = width + 2;
  // Ridges are > 0 by construction and the border is 0, so clamping the low
  // threshold just above zero keeps the flood inside the image even for low = 0.
  const weak = low > 0 ? low : Number.MIN_VALUE;
  const strong = high > weak ? high : weak;
  let edges = 0;
  for (let y = 1; y <= height; y++) {
    let seed = y * pw + 1;
    for (let x = 0; x < width; x++, seed++) {
      if (marks[seed] !== 0 || !(ridges[seed]! >= strong)) continue;
      marks[seed] = 1;
      let top = 0;
      stack[top++] = seed;
      while (top > 0) {
        const i = stack[--top]!;
        edges++;
        const row = (i / pw) | 0;
        out[(row - 1) * width + (i - row * pw - 1)] = 255;
        for (let dy = -pw; dy <= pw; dy += pw) {
          for (let dx = -1; dx <= 1; dx++) {
            const j = i + dy + dx;
            if (marks[j] === 0 && ridges[j]! >= weak) {
              marks[j] = 1;
              stack[top++] = j;
            }
          }
        }
      }
    }
  }
  return edges;
}
