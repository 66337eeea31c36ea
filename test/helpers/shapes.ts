/**
 * Synthetic greyscale images with known geometry, for edge-detector tests and
 * benchmarks. Everything is deterministic: noise comes from a seeded generator.
 */
import type { GreyImage } from '../../functions/core/edge-mask';

const clampByte = (value: number): number => (value < 0 ? 0 : value > 255 ? 255 : Math.round(value));

/** Every pixel `value`. */
export const flat = (width: number, height: number, value: number): GreyImage => ({
  width,
  height,
  data: new Uint8Array(width * height).fill(value),
});

/** Pixels for which `inside(x, y)` holds are `foreground`, the rest `background`. */
export const paint = (
  width: number,
  height: number,
  inside: (x: number, y: number) => boolean,
  foreground: number,
  background: number,
): GreyImage => {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = inside(x, y) ? foreground : background;
  }
  return { width, height, data };
};

/** An axis-aligned filled rectangle, corners inclusive. */
export interface Rect {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export const inRect = (r: Rect, x: number, y: number): boolean => x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;

/** A filled rectangle on a uniform background. */
export const rectangle = (width: number, height: number, rect: Rect, foreground = 255, background = 0): GreyImage =>
  paint(width, height, (x, y) => inRect(rect, x, y), foreground, background);

/** The pixels of a rectangle's outermost ring: where its contour should be found. */
export const rectangleBoundary = (rect: Rect): Array<[number, number]> => {
  const ring: Array<[number, number]> = [];
  for (let y = rect.y0; y <= rect.y1; y++) {
    for (let x = rect.x0; x <= rect.x1; x++) {
      if (x === rect.x0 || x === rect.x1 || y === rect.y0 || y === rect.y1) ring.push([x, y]);
    }
  }
  return ring;
};

/** Columns 0..stepX-1 are `left`, the rest `right`: the step lies between stepX-1 and stepX. */
export const verticalStep = (width: number, height: number, stepX: number, left: number, right: number): GreyImage =>
  paint(width, height, (x) => x >= stepX, right, left);

/** A filled disc: pixels whose centre (x, y) lies within `radius` of (cx, cy). */
export const disc = (
  width: number,
  height: number,
  cx: number,
  cy: number,
  radius: number,
  foreground = 255,
  background = 0,
): GreyImage => paint(width, height, (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius, foreground, background);

/** mulberry32: tiny, seedable, good enough for test noise. */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** A copy of `image` with Gaussian noise of standard deviation `sigma` grey levels, clamped to 0..255. */
export const withNoise = (image: GreyImage, sigma: number, seed = 1): GreyImage => {
  const random = seededRandom(seed);
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    // Box–Muller; 1 - u keeps the logarithm finite.
    const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    data[i] = clampByte(image.data[i]! + sigma * gaussian);
  }
  return { width: image.width, height: image.height, data };
};

/**
 * A busy scene of the given size: soft gradient background, rectangles and
 * discs of varied contrast, then noise. For benchmarks, where the work should
 * resemble a photograph more than a blank page.
 */
export const scene = (width: number, height: number, noiseSigma = 6, seed = 7): GreyImage => {
  const random = seededRandom(seed);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = clampByte(40 + (120 * (x + y)) / (width + height));
  }
  const shapes = Math.max(8, Math.round((width * height) / 20000));
  for (let s = 0; s < shapes; s++) {
    const value = clampByte(255 * random());
    const size = 8 + random() * Math.min(width, height) * 0.2;
    const cx = random() * width;
    const cy = random() * height;
    const round = random() < 0.5;
    const x0 = Math.max(0, Math.floor(cx - size));
    const x1 = Math.min(width - 1, Math.ceil(cx + size));
    const y0 = Math.max(0, Math.floor(cy - size));
    const y1 = Math.min(height - 1, Math.ceil(cy + size));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (!round || (x - cx) ** 2 + (y - cy) ** 2 <= size * size) data[y * width + x] = value;
      }
    }
  }
  return withNoise({ width, height, data }, noiseSigma, seed + 1);
};
