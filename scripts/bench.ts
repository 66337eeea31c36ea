/**
 * Edge-mask benchmark: `npx tsx scripts/bench.ts`.
 *
 * Times `edgeMask` against a naive reference implementation of the same steps,
 * measured in the same run on the same images, and prints median times, MP/s,
 * the speedup and the agreement between the two masks, and for each image the
 * automatic thresholds and the share of edge pixels. Add a case to `CASES` (or
 * an implementation to `IMPLEMENTATIONS`) to measure something new.
 *
 * Then prepare's picture pipeline (`preparePicture`) against decoding the whole
 * picture at full size before sizing it, speed and peak memory, each variant in
 * its own child process: see scripts/bench/prepare.ts.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import {
  DEFAULT_HIGH_PERCENTILE,
  DEFAULT_LOW_RATIO,
  DEFAULT_MIN_SEED_DENSITY,
  DEFAULT_SIGMA,
  EDGE_LOW_FLOOR,
  edgeMask,
  toGrey,
  type GreyImage,
} from '../functions/core/edge-mask';
import { scene } from '../test/helpers/shapes';
import { benchPrepare } from './bench/prepare';

interface BenchCase {
  readonly name: string;
  readonly load: () => Promise<GreyImage>;
}

interface Implementation {
  readonly name: string;
  readonly run: (image: GreyImage) => Uint8Array;
  readonly warmup: number;
  readonly iterations: number;
}

const photo = (file: string, width: number, height: number) => async (): Promise<GreyImage> => {
  const bytes = await readFile(new URL(`../test/fixtures/photos/${file}`, import.meta.url));
  const { data, info } = await sharp(bytes)
    .greyscale()
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return toGrey(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels);
};

const CASES: readonly BenchCase[] = [
  { name: 'scene+noise 1024x1024', load: async () => scene(1024, 1024) },
  { name: 'scene+noise 1408x768', load: async () => scene(1408, 768) },
  // The photos at the sizes the pipeline gives them (Titan's nearest sizes).
  { name: 'chelsea.png 1152x768', load: photo('chelsea.png', 1152, 768) },
  { name: 'coffee.png 1152x768', load: photo('coffee.png', 1152, 768) },
  { name: 'astronaut.png 1024x1024', load: photo('astronaut.png', 1024, 1024) },
  { name: 'rocket.jpg 1152x768', load: photo('rocket.jpg', 1152, 768) },
];

// ---------------------------------------------------------------------------
// Baseline: the textbook version, written for clarity, not speed. Same sigma,
// radius, magnitude scale, threshold rule and tie-breaking as edgeMask, so the
// masks should agree almost everywhere (float rounding decides a few ties).

const SIGMA = DEFAULT_SIGMA;
const HIGH_PERCENTILE = DEFAULT_HIGH_PERCENTILE;
const LOW_RATIO = DEFAULT_LOW_RATIO;
const MIN_SEED_DENSITY = DEFAULT_MIN_SEED_DENSITY;
const FLOOR = EDGE_LOW_FLOOR;

function naiveCanny(image: GreyImage): Uint8Array {
  const { width, height, data } = image;
  const at = (buffer: ArrayLike<number>, x: number, y: number): number =>
    buffer[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]!;

  // 2D Gaussian, not separated.
  const radius = Math.ceil(3 * SIGMA);
  const kernel: number[][] = [];
  let total = 0;
  for (let j = -radius; j <= radius; j++) {
    const row: number[] = [];
    for (let i = -radius; i <= radius; i++) {
      const weight = Math.exp(-(i * i + j * j) / (2 * SIGMA * SIGMA));
      row.push(weight);
      total += weight;
    }
    kernel.push(row);
  }
  const smooth = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let j = -radius; j <= radius; j++) {
        for (let i = -radius; i <= radius; i++) sum += kernel[j + radius]![i + radius]! * at(data, x + i, y + j);
      }
      smooth[y * width + x] = sum / total;
    }
  }

  // Sobel, direction from atan2.
  const magnitude = new Float64Array(width * height);
  const angle = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gx =
        at(smooth, x + 1, y - 1) + 2 * at(smooth, x + 1, y) + at(smooth, x + 1, y + 1) -
        at(smooth, x - 1, y - 1) - 2 * at(smooth, x - 1, y) - at(smooth, x - 1, y + 1);
      const gy =
        at(smooth, x - 1, y + 1) + 2 * at(smooth, x, y + 1) + at(smooth, x + 1, y + 1) -
        at(smooth, x - 1, y - 1) - 2 * at(smooth, x, y - 1) - at(smooth, x + 1, y - 1);
      magnitude[y * width + x] = Math.sqrt(gx * gx + gy * gy) / 4;
      angle[y * width + x] = (Math.atan2(gy, gx) * 180) / Math.PI;
    }
  }

  // Non-maximum suppression.
  const ridges = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const m = magnitude[y * width + x]!;
      if (m === 0) continue;
      let a = angle[y * width + x]!;
      if (a < 0) a += 180;
      let dx: number;
      let dy: number;
      if (a < 22.5 || a >= 157.5) [dx, dy] = [1, 0];
      else if (a < 67.5) [dx, dy] = [1, 1];
      else if (a < 112.5) [dx, dy] = [0, 1];
      else [dx, dy] = [-1, 1];
      if (m > at(magnitude, x - dx, y - dy) && m >= at(magnitude, x + dx, y + dy)) ridges[y * width + x] = m;
    }
  }

  // Thresholds from the percentile of the visible ridges, by sorting, lowered
  // to seed at least MIN_SEED_DENSITY of the pixels; rounded down to 1/8 of a
  // grey level like edgeMask's histogram bins.
  const visible = Array.from(ridges).filter((m) => m >= FLOOR).sort((a, b) => a - b);
  const percentileRank = Math.ceil(HIGH_PERCENTILE * visible.length);
  const minSeedsRank = visible.length - Math.min(visible.length, Math.ceil(MIN_SEED_DENSITY * width * height)) + 1;
  const quantile = visible.length === 0 ? 0 : visible[Math.max(1, Math.min(percentileRank, minSeedsRank)) - 1]!;
  const high = Math.max(FLOOR, Math.floor(quantile * 8) / 8);
  const low = Math.max(FLOOR, LOW_RATIO * high);

  // Double threshold and hysteresis with an explicit stack.
  const out = new Uint8Array(width * height);
  const stack: Array<[number, number]> = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ridges[y * width + x]! >= high && out[y * width + x] === 0) {
        out[y * width + x] = 255;
        stack.push([x, y]);
      }
      while (stack.length > 0) {
        const [px, py] = stack.pop()!;
        for (let j = -1; j <= 1; j++) {
          for (let i = -1; i <= 1; i++) {
            const nx = px + i;
            const ny = py + j;
            if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
            const k = ny * width + nx;
            if (out[k] === 0 && ridges[k]! > 0 && ridges[k]! >= low) {
              out[k] = 255;
              stack.push([nx, ny]);
            }
          }
        }
      }
    }
  }
  return out;
}

const IMPLEMENTATIONS: readonly Implementation[] = [
  { name: 'edgeMask', run: (image) => edgeMask(image).data, warmup: 5, iterations: 21 },
  { name: 'naive', run: naiveCanny, warmup: 1, iterations: 3 },
];

// ---------------------------------------------------------------------------

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const time = (implementation: Implementation, image: GreyImage): { ms: number; mask: Uint8Array } => {
  let mask = implementation.run(image);
  for (let i = 1; i < implementation.warmup; i++) mask = implementation.run(image);
  const samples: number[] = [];
  for (let i = 0; i < implementation.iterations; i++) {
    const start = performance.now();
    mask = implementation.run(image);
    samples.push(performance.now() - start);
  }
  return { ms: median(samples), mask };
};

const agreement = (a: Uint8Array, b: Uint8Array): number => {
  let same = 0;
  let edges = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0 || b[i] !== 0) {
      edges++;
      if (a[i] === b[i]) same++;
    }
  }
  return edges === 0 ? 1 : same / edges;
};

const peakRssMb = (): string => (process.resourceUsage().maxRSS / 1024).toFixed(0);

const [ours, ...others] = IMPLEMENTATIONS;
if (!ours) throw new Error('No implementation to measure');

console.log(`Node ${process.version}, ${process.arch}`);
const started = performance.now();
const images = await Promise.all(CASES.map(async (benchCase) => ({ benchCase, image: await benchCase.load() })));
const rssAfterLoading = peakRssMb();

// Ours first on every case, so the peak RSS it leaves behind is its own (plus
// the images and sharp), before the baseline's plain arrays inflate it.
const measured = images.map(({ benchCase, image }) => ({ benchCase, image, result: time(ours, image) }));
const rssAfterOurs = peakRssMb();

const rows: string[][] = [['case', 'implementation', 'median ms', 'MP/s', 'speedup', 'mask agreement', 'low', 'high', 'density']];
for (const { benchCase, image, result: reference } of measured) {
  const megapixels = (image.width * image.height) / 1e6;
  const { low, high, density } = edgeMask(image);
  rows.push([
    benchCase.name,
    ours.name,
    reference.ms.toFixed(1),
    (megapixels / (reference.ms / 1000)).toFixed(1),
    '1.00',
    '',
    low.toFixed(2),
    high.toFixed(2),
    `${(100 * density).toFixed(2)}%`,
  ]);
  for (const other of others) {
    const result = time(other, image);
    rows.push([
      '',
      other.name,
      result.ms.toFixed(1),
      (megapixels / (result.ms / 1000)).toFixed(1),
      // Read as "ours is N× faster than this one".
      (result.ms / reference.ms).toFixed(2),
      `${(100 * agreement(reference.mask, result.mask)).toFixed(2)}% of edge pixels`,
      '',
      '',
      '',
    ]);
  }
}

const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
console.log(
  `speedup = ${others.map((o) => o.name).join(', ')} median / ${ours.name} median; ` +
    IMPLEMENTATIONS.map((i) => `${i.name}: ${i.warmup} warm-up + ${i.iterations} timed runs`).join(', '),
);
console.log(
  `peak RSS (process.resourceUsage().maxRSS): ${rssAfterLoading} MB after loading the images, ` +
    `${rssAfterOurs} MB after ${ours.name}, ${peakRssMb()} MB at the end; ` +
    `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

await benchPrepare();
