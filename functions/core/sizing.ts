import { PipelineError } from './errors';

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** A rectangle in pixels of the (orientation-corrected) source picture. */
export interface CropBox extends Size {
  readonly left: number;
  readonly top: number;
}

/**
 * How to turn the source into the target size without bars: scale so the
 * target is covered (`resize`), then cut the centred `extract` out of it.
 * Only one dimension loses pixels, and only as many as the aspect ratio needs.
 */
export interface SizingPlan {
  readonly target: Size;
  readonly resize: Size;
  readonly extract: CropBox;
  /** The part of the source that ends up in the picture, in source pixels. */
  readonly crop: CropBox;
}

/** Smallest side worth sending to a model; also refuses slivers like 20000×10. */
export const MIN_SOURCE_SIDE = 64;
/**
 * Widest (or tallest) source accepted. The models take at most about 2.5:1, so
 * an 8:1 panorama already loses two thirds of its width; beyond that the
 * result would show a sliver of what the user uploaded.
 */
export const MAX_SOURCE_ASPECT = 8;

const ratioDistance = (a: Size, b: Size): number => Math.abs(Math.log(a.width / a.height) - Math.log(b.width / b.height));

/**
 * From a fixed list of sizes, the one nearest the source's aspect ratio; among
 * equally near ones the largest, because the models draw more detail at larger
 * sizes and the price difference is small.
 */
export const nearestSize = (source: Size, sizes: readonly Size[]): Size => {
  let best: Size | undefined;
  for (const size of sizes) {
    if (!best) {
      best = size;
      continue;
    }
    const delta = ratioDistance(source, size) - ratioDistance(source, best);
    if (delta < -1e-9 || (Math.abs(delta) <= 1e-9 && size.width * size.height > best.width * best.height)) best = size;
  }
  if (!best) throw new RangeError('Expected at least one size but received an empty list');
  return best;
};

/** Constraints of models that take any size within limits (Nova, Stability). */
export interface FreeSizeRules {
  /** Area to aim for, in pixels. */
  readonly targetPixels: number;
  readonly maxPixels: number;
  readonly minSide: number;
  readonly maxSide: number;
  /** Both sides are multiples of this. */
  readonly multiple: number;
  /** Widest allowed width/height, and its inverse is the tallest. */
  readonly maxAspect: number;
}

/**
 * The size with the source's aspect ratio (clamped to the allowed range) and
 * about `targetPixels` of area, rounded to the model's multiple and kept
 * inside every limit.
 */
export const freeSize = (source: Size, rules: FreeSizeRules): Size => {
  const aspect = Math.min(rules.maxAspect, Math.max(1 / rules.maxAspect, source.width / source.height));
  const snap = (value: number): number =>
    Math.min(rules.maxSide - (rules.maxSide % rules.multiple), Math.max(Math.ceil(rules.minSide / rules.multiple) * rules.multiple, Math.round(value / rules.multiple) * rules.multiple));
  let area = rules.targetPixels;
  for (;;) {
    const width = snap(Math.sqrt(area * aspect));
    const height = snap(Math.sqrt(area / aspect));
    if (width * height <= rules.maxPixels && width / height <= rules.maxAspect + 1e-9 && height / width <= rules.maxAspect + 1e-9) {
      return { width, height };
    }
    area *= 0.95;
  }
};

/** Plans the cover-and-centre-crop from `source` to `target`. */
export const planCover = (source: Size, target: Size): SizingPlan => {
  if (source.width < MIN_SOURCE_SIDE || source.height < MIN_SOURCE_SIDE) {
    throw new PipelineError(
      'IMAGE_DIMENSIONS',
      `Expected each side at least ${MIN_SOURCE_SIDE} px but received ${source.width}×${source.height}`,
    );
  }
  const aspect = Math.max(source.width / source.height, source.height / source.width);
  if (aspect > MAX_SOURCE_ASPECT) {
    throw new PipelineError(
      'IMAGE_DIMENSIONS',
      `Expected an aspect ratio between 1:${MAX_SOURCE_ASPECT} and ${MAX_SOURCE_ASPECT}:1 but received ${source.width}×${source.height}`,
    );
  }
  const scale = Math.max(target.width / source.width, target.height / source.height);
  const resize = {
    width: Math.max(target.width, Math.round(source.width * scale)),
    height: Math.max(target.height, Math.round(source.height * scale)),
  };
  const extract = {
    left: Math.floor((resize.width - target.width) / 2),
    top: Math.floor((resize.height - target.height) / 2),
    width: target.width,
    height: target.height,
  };
  const toSource = (v: number, axis: 'width' | 'height'): number => Math.round((v * source[axis]) / resize[axis]);
  const cropLeft = toSource(extract.left, 'width');
  const cropTop = toSource(extract.top, 'height');
  const crop = {
    left: cropLeft,
    top: cropTop,
    width: Math.min(source.width - cropLeft, toSource(target.width, 'width')),
    height: Math.min(source.height - cropTop, toSource(target.height, 'height')),
  };
  return { target, resize, extract, crop };
};
