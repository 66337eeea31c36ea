import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import sharp from 'sharp';
import {
  DEFAULT_LOW_RATIO,
  EDGE_LOW_FLOOR,
  edgeMask,
  gaussianKernel,
  toGrey,
  type EdgeMask,
  type GreyImage,
} from '../../functions/core/edge-mask';
import {
  disc,
  flat,
  inRect,
  paint,
  rectangle,
  rectangleBoundary,
  scene,
  verticalStep,
  withNoise,
  type Rect,
} from '../helpers/shapes';

const edgePixels = (mask: EdgeMask): Array<[number, number]> => {
  const found: Array<[number, number]> = [];
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) if (mask.data[y * mask.width + x] !== 0) found.push([x, y]);
  }
  return found;
};

const isEdge = (mask: EdgeMask, x: number, y: number): boolean =>
  x >= 0 && y >= 0 && x < mask.width && y < mask.height && mask.data[y * mask.width + x] !== 0;

const edgeWithin1 = (mask: EdgeMask, x: number, y: number): boolean => {
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (isEdge(mask, x + dx, y + dy)) return true;
  return false;
};

/** Chebyshev distance from (x, y) to the nearest pixel of a rectangle's outer ring. */
const distanceToBoundary = (rect: Rect, x: number, y: number): number => {
  const dx = x < rect.x0 ? rect.x0 - x : x > rect.x1 ? x - rect.x1 : 0;
  const dy = y < rect.y0 ? rect.y0 - y : y > rect.y1 ? y - rect.y1 : 0;
  if (dx > 0 || dy > 0) return Math.max(dx, dy);
  return Math.min(x - rect.x0, rect.x1 - x, y - rect.y0, rect.y1 - y);
};

const boundaryCoverage = (mask: EdgeMask, rect: Rect): number => {
  const ring = rectangleBoundary(rect);
  return ring.filter(([x, y]) => edgeWithin1(mask, x, y)).length / ring.length;
};

/** Whether a 4-connected flood through non-edge pixels from (0, 0) reaches (x, y). */
const reachableFromCorner = (mask: EdgeMask, x: number, y: number): boolean => {
  const { width, height } = mask;
  const seen = new Uint8Array(width * height);
  const stack = [0];
  seen[0] = 1;
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (i === y * width + x) return true;
    const px = i % width;
    const py = (i - px) / width;
    for (const [nx, ny] of [
      [px - 1, py],
      [px + 1, py],
      [px, py - 1],
      [px, py + 1],
    ] as const) {
      const j = ny * width + nx;
      if (nx >= 0 && ny >= 0 && nx < width && ny < height && seen[j] === 0 && mask.data[j] === 0) {
        seen[j] = 1;
        stack.push(j);
      }
    }
  }
  return false;
};

/** A sample photograph, greyscale, resized (not cropped) to width × height. */
const photo = async (file: string, width: number, height: number): Promise<GreyImage> => {
  const bytes = await readFile(new URL(`../fixtures/photos/${file}`, import.meta.url));
  const { data, info } = await sharp(bytes)
    .greyscale()
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return toGrey(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels);
};

/** How many rows have at least one edge pixel. */
const rowsWithEdges = (mask: EdgeMask): number => {
  let rows = 0;
  for (let y = 0; y < mask.height; y++) if (mask.data.subarray(y * mask.width, (y + 1) * mask.width).some((v) => v !== 0)) rows++;
  return rows;
};

const hasFull3x3 = (mask: EdgeMask): boolean => {
  for (let y = 1; y < mask.height - 1; y++) {
    for (let x = 1; x < mask.width - 1; x++) {
      let full = true;
      for (let dy = -1; dy <= 1 && full; dy++) for (let dx = -1; dx <= 1 && full; dx++) full = isEdge(mask, x + dx, y + dy);
      if (full) return true;
    }
  }
  return false;
};

describe('edgeMask', () => {
  it('finds no edges in a flat image', () => {
    // Arrange
    const image = flat(48, 32, 137);

    // Act
    const mask = edgeMask(image);

    // Assert
    expect(mask.density).to.equal(0);
    expect(mask.data.every((v) => v === 0)).to.equal(true);
    expect(Number.isFinite(mask.low) && Number.isFinite(mask.high)).to.equal(true);
  });

  it('finds no edges in a flat image even with zero fixed thresholds', () => {
    // Arrange
    const image = flat(16, 16, 0);

    // Act
    const mask = edgeMask(image, { low: 0, high: 0 });

    // Assert
    expect(mask.density).to.equal(0);
  });

  it('handles a single pixel', () => {
    // Arrange
    const image = flat(1, 1, 200);

    // Act
    const mask = edgeMask(image);

    // Assert
    expect(mask.width).to.equal(1);
    expect(mask.height).to.equal(1);
    expect([...mask.data]).to.deep.equal([0]);
  });

  describe('a white square on black', () => {
    const square: Rect = { x0: 16, y0: 16, x1: 47, y1: 47 };
    let mask: EdgeMask;

    beforeEach(() => {
      // Arrange, Act
      mask = edgeMask(rectangle(64, 64, square));
    });

    it('keeps the input dimensions and writes only 0 and 255', () => {
      expect(mask.width).to.equal(64);
      expect(mask.height).to.equal(64);
      expect(mask.data.length).to.equal(64 * 64);
      expect(mask.data.every((v) => v === 0 || v === 255)).to.equal(true);
    });

    it('puts every edge pixel within 1 px of the boundary', () => {
      const far = edgePixels(mask).filter(([x, y]) => distanceToBoundary(square, x, y) > 1);
      expect(far).to.deep.equal([]);
    });

    it('covers the boundary', () => {
      expect(boundaryCoverage(mask, square)).to.be.at.least(0.95);
    });

    it('leaves the interior and the far exterior empty', () => {
      const stray = edgePixels(mask).filter(
        ([x, y]) => inRect({ x0: 19, y0: 19, x1: 44, y1: 44 }, x, y) || !inRect({ x0: 13, y0: 13, x1: 50, y1: 50 }, x, y),
      );
      expect(stray).to.deep.equal([]);
    });

    it('draws a thin contour', () => {
      expect(hasFull3x3(mask)).to.equal(false);
    });

    it('closes the contour', () => {
      expect(reachableFromCorner(mask, 32, 32)).to.equal(false);
    });

    it('reports the density', () => {
      const edges = edgePixels(mask).length;
      expect(edges).to.be.greaterThan(0);
      expect(mask.density).to.equal(edges / (64 * 64));
    });
  });

  it('draws a vertical step as one line at the step', () => {
    // Arrange: the step lies between columns 15 and 16.
    const image = verticalStep(32, 24, 16, 30, 220);

    // Act
    const mask = edgeMask(image);

    // Assert
    for (let y = 0; y < mask.height; y++) {
      const columns = [];
      for (let x = 0; x < mask.width; x++) if (isEdge(mask, x, y)) columns.push(x);
      expect(columns.length, `row ${y}: ${columns.join(',')}`).to.be.within(1, 2);
      for (const x of columns) expect(x, `row ${y}`).to.be.within(14, 17);
    }
  });

  it('rates a hard black-to-white step at about half of 255 after default smoothing', () => {
    // Arrange: edges where the magnitude reaches the threshold, none above it.
    const image = verticalStep(32, 8, 16, 0, 255);

    // Act
    const below = edgeMask(image, { low: 120, high: 120 });
    const above = edgeMask(image, { low: 135, high: 135 });

    // Assert
    expect(below.density).to.be.greaterThan(0);
    expect(above.density).to.equal(0);
  });

  it('traces a circle at its radius', () => {
    // Arrange
    const [cx, cy, r] = [32, 32, 20];
    const image = disc(64, 64, cx, cy, r);

    // Act
    const mask = edgeMask(image);

    // Assert
    const found = edgePixels(mask);
    const off = found.filter(([x, y]) => Math.abs(Math.hypot(x - cx, y - cy) - r) > 1.5);
    expect(found.length).to.be.greaterThan(0);
    expect(off).to.deep.equal([]);
    const gaps = [];
    for (let degrees = 0; degrees < 360; degrees += 5) {
      const a = (degrees * Math.PI) / 180;
      if (!edgeWithin1(mask, Math.round(cx + r * Math.cos(a)), Math.round(cy + r * Math.sin(a)))) gaps.push(degrees);
    }
    expect(gaps).to.deep.equal([]);
    expect(hasFull3x3(mask)).to.equal(false);
  });

  it('finds a strong square through low-amplitude noise, and little else', () => {
    // Arrange: noise of 6 grey levels against a step of 80.
    const square: Rect = { x0: 40, y0: 40, x1: 87, y1: 87 };
    const image = withNoise(rectangle(128, 128, square, 180, 100), 6, 42);

    // Act
    const mask = edgeMask(image);

    // Assert
    expect(boundaryCoverage(mask, square)).to.be.at.least(0.95);
    const stray = edgePixels(mask).filter(([x, y]) => distanceToBoundary(square, x, y) > 2);
    expect(stray.length / (128 * 128)).to.be.below(0.002);
    expect(mask.density).to.be.below(0.02);
  });

  it('leaves pure low-amplitude noise nearly empty', () => {
    // Arrange
    const image = withNoise(flat(128, 128, 128), 6, 3);

    // Act
    const mask = edgeMask(image);

    // Assert: no ripple reaches the floor, so the floor is what decides.
    expect(mask.density).to.be.below(0.001);
    expect([mask.low, mask.high]).to.deep.equal([EDGE_LOW_FLOOR, EDGE_LOW_FLOOR]);
  });

  describe('hysteresis', () => {
    // Rows 10..20: a block fading from 200 on the left to 40 on the right, so
    // its top and bottom contours run from strong to weak without a junction
    // (at a T-junction NMS would cut the weak branch off the strong one).
    // Rows 40..50: a dim block (40) on its own, weak all round.
    const joined: Rect = { x0: 4, y0: 10, x1: 59, y1: 20 };
    const alone: Rect = { x0: 10, y0: 40, x1: 50, y1: 50 };
    const fade = (x: number): number => Math.round(200 - (160 * (x - joined.x0)) / (joined.x1 - joined.x0));
    const image = paint(64, 64, (x, y) => inRect(joined, x, y) || inRect(alone, x, y), 40, 0);
    for (let y = joined.y0; y <= joined.y1; y++) for (let x = joined.x0; x <= joined.x1; x++) image.data[y * 64 + x] = fade(x);
    const thresholds = { low: 10, high: 50 };

    it('keeps a weak edge connected to a strong one', () => {
      // Act
      const mask = edgeMask(image, thresholds);

      // Assert: the dim end of the top and bottom contours, and the dim side.
      expect(edgeWithin1(mask, 55, joined.y0)).to.equal(true);
      expect(edgeWithin1(mask, 55, joined.y1)).to.equal(true);
      expect(edgeWithin1(mask, joined.x1, 15)).to.equal(true);
    });

    it('drops an isolated weak edge', () => {
      // Act
      const mask = edgeMask(image, thresholds);

      // Assert
      const isolated = edgePixels(mask).filter(([x, y]) => inRect({ x0: 0, y0: 32, x1: 63, y1: 63 }, x, y));
      expect(isolated).to.deep.equal([]);
    });

    it('has weak edges that a single threshold would drop (control)', () => {
      // Act
      const strongOnly = edgeMask(image, { low: 50, high: 50 });
      const weakToo = edgeMask(image, { low: 10, high: 10 });

      // Assert
      expect(edgeWithin1(strongOnly, 55, joined.y0)).to.equal(false);
      expect(edgeWithin1(strongOnly, joined.x1, 15)).to.equal(false);
      expect(edgeWithin1(weakToo, 30, alone.y0)).to.equal(true);
    });

    it('reports the fixed thresholds it used', () => {
      // Act
      const mask = edgeMask(image, thresholds);

      // Assert
      expect([mask.low, mask.high]).to.deep.equal([10, 50]);
    });
  });

  it('derives automatic thresholds within the documented bounds', () => {
    // Arrange
    const image = withNoise(rectangle(64, 64, { x0: 10, y0: 10, x1: 50, y1: 50 }, 220, 20), 20, 5);

    // Act
    const mask = edgeMask(image);

    // Assert
    expect(mask.high).to.be.at.least(EDGE_LOW_FLOOR);
    expect(mask.high).to.be.at.most(Math.SQRT2 * 255);
    expect(mask.low).to.equal(Math.max(EDGE_LOW_FLOOR, DEFAULT_LOW_RATIO * mask.high));
  });

  it('raises the automatic thresholds with the contrast of the texture', () => {
    // Arrange: strong noise everywhere puts plenty of ridges above the floor.
    const quiet = withNoise(flat(96, 96, 128), 4, 9);
    const loud = withNoise(flat(96, 96, 128), 60, 9);

    // Act
    const quietMask = edgeMask(quiet);
    const loudMask = edgeMask(loud);

    // Assert
    expect(loudMask.low).to.be.greaterThan(quietMask.low);
    expect(loudMask.high).to.be.greaterThan(quietMask.high);
  });

  describe('automatic thresholds on the same square at two contrasts', () => {
    // Steps of 40 and 200 grey levels on the same background: the second is
    // five times the first, and so should its thresholds be.
    const square: Rect = { x0: 20, y0: 20, x1: 75, y1: 75 };
    let faint: EdgeMask;
    let bold: EdgeMask;

    before(() => {
      // Arrange, Act
      faint = edgeMask(rectangle(96, 96, square, 80, 40));
      bold = edgeMask(rectangle(96, 96, square, 240, 40));
    });

    it('scales the high threshold with the contrast', () => {
      // Assert: a step of 40 peaks at about 20 after smoothing, 200 at about 100.
      expect(faint.high).to.be.within(15, 25);
      expect(bold.high / faint.high).to.be.within(4.5, 5.5);
      expect(bold.low).to.be.greaterThan(faint.low);
      expect(bold.low).to.equal(DEFAULT_LOW_RATIO * bold.high);
    });

    it('still draws the whole outline at both contrasts', () => {
      // Assert: every point of a clean contour is about as strong as the
      // percentile itself, and the inclusive comparison keeps them all.
      for (const mask of [faint, bold]) {
        expect(boundaryCoverage(mask, square)).to.be.at.least(0.95);
        expect(reachableFromCorner(mask, 48, 48)).to.equal(false);
        expect(edgePixels(mask).filter(([x, y]) => distanceToBoundary(square, x, y) > 1)).to.deep.equal([]);
      }
    });
  });

  it('keeps every point of a line whose ridges are equally strong, even at the top percentile', () => {
    // Arrange: the ridge of a vertical step has the same magnitude on every row.
    const image = verticalStep(32, 24, 16, 30, 220);

    // Act
    const mask = edgeMask(image, { highPercentile: 1, lowRatio: 1 });

    // Assert
    expect(mask.low).to.equal(mask.high);
    expect(rowsWithEdges(mask)).to.equal(24);
  });

  describe('a sparse picture with one much stronger edge', () => {
    // A bright disc (200 grey levels off the background) and a grey square
    // (60 off): only the disc is in the strongest fifth of the ridges, and the
    // square's ridges are under 40 % of the disc's.
    const square: Rect = { x0: 70, y0: 60, x1: 115, y1: 105 };
    const image = paint(128, 128, (x, y) => (x - 32) ** 2 + (y - 32) ** 2 <= 20 * 20, 240, 40);
    for (let y = square.y0; y <= square.y1; y++) image.data.fill(100, y * 128 + square.x0, y * 128 + square.x1 + 1);

    it('keeps the weaker outline too', () => {
      // Act
      const mask = edgeMask(image);

      // Assert
      expect(boundaryCoverage(mask, square)).to.be.at.least(0.95);
      expect(mask.high).to.be.above(EDGE_LOW_FLOOR);
    });

    it('would lose it to the percentile alone (control)', () => {
      // Act
      const mask = edgeMask(image, { minSeedDensity: 0 });

      // Assert
      expect(boundaryCoverage(mask, square)).to.be.below(0.05);
      expect(edgeWithin1(mask, 32, 12)).to.equal(true);
    });
  });

  it('ignores a step too faint to see', () => {
    // Arrange: 12 grey levels peak at about 6 after smoothing, under the floor.
    const image = rectangle(64, 64, { x0: 16, y0: 16, x1: 47, y1: 47 }, 112, 100);

    // Act
    const mask = edgeMask(image);

    // Assert
    expect(mask.density).to.equal(0);
    expect([mask.low, mask.high]).to.deep.equal([EDGE_LOW_FLOOR, EDGE_LOW_FLOOR]);
  });

  it('trades edges for strength with highPercentile and lowRatio', () => {
    // Arrange: texture, whose ridges come in every strength.
    const image = withNoise(flat(128, 128, 128), 40, 13);

    // Act
    const standard = edgeMask(image);
    const stricter = edgeMask(image, { highPercentile: 0.95 });
    const shorter = edgeMask(image, { lowRatio: 0.8 });

    // Assert
    expect(stricter.high).to.be.greaterThan(standard.high);
    expect(stricter.density).to.be.below(standard.density);
    expect(shorter.high).to.equal(standard.high);
    expect(shorter.low).to.be.greaterThan(standard.low);
    expect(shorter.density).to.be.below(standard.density);
  });

  describe('on a photograph (chelsea.png, a tabby cat, 1152×768)', () => {
    let cat: GreyImage;
    let mask: EdgeMask;

    before(async () => {
      // Arrange, Act
      cat = await photo('chelsea.png', 1152, 768);
      mask = edgeMask(cat);
    });

    it('marks a line drawing\'s share of the pixels', () => {
      expect(mask.density).to.be.within(0.02, 0.15);
    });

    it('takes its thresholds from the picture, not from the floor', () => {
      // The old median rule gave 8 and 9 here, like on every other photo.
      expect(mask.high).to.be.at.least(1.5 * EDGE_LOW_FLOOR);
      expect(mask.low).to.be.at.least(EDGE_LOW_FLOOR);
      expect(mask.low).to.be.below(mask.high);
    });

    it('keeps fewer edges than the floor alone would', () => {
      // Act: the floor as fixed thresholds, which is what the old rule came to.
      const floorOnly = edgeMask(cat, { low: EDGE_LOW_FLOOR, high: EDGE_LOW_FLOOR + 1 });

      // Assert: the fur texture goes, so clearly fewer edges.
      expect(mask.density).to.be.below(0.75 * floorOnly.density);
    });
  });

  it('adapts the thresholds to each sample photograph', async () => {
    // Arrange
    const files = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'];
    const images = await Promise.all(files.map((file) => photo(file, 768, 512)));

    // Act
    const masks = images.map((image) => edgeMask(image));

    // Assert: all above the floor, not all alike, all sparse line drawings.
    for (const [i, mask] of masks.entries()) {
      expect(mask.high, files[i]).to.be.above(1.5 * EDGE_LOW_FLOOR);
      expect(mask.density, files[i]).to.be.within(0.01, 0.15);
    }
    const highs = masks.map((mask) => mask.high);
    expect(Math.max(...highs) / Math.min(...highs)).to.be.above(1.5);
  });

  it('finds fewer edges with more smoothing', () => {
    // Arrange
    const image = withNoise(flat(96, 96, 128), 25, 11);

    // Act
    const sharp = edgeMask(image, { sigma: 0.5, low: 10, high: 20 });
    const smooth = edgeMask(image, { sigma: 3, low: 10, high: 20 });

    // Assert
    expect(smooth.density).to.be.below(sharp.density);
  });
});

describe('gaussianKernel', () => {
  const total = (half: Int32Array): number => half.reduce((sum, w, k) => sum + (k === 0 ? w : 2 * w), 0);

  for (const sigma of [0.5, 1, 1.4, 2, 2.5, 5, 32]) {
    it(`sums to exactly 2^bits and falls off from the centre at sigma ${sigma}`, () => {
      // Act
      const { half, bits } = gaussianKernel(sigma);

      // Assert: a flat picture stays flat, and the weights are a Gaussian's shape.
      expect(total(half)).to.equal(2 ** bits);
      for (let k = 1; k < half.length; k++) expect(half[k]!).to.be.at.most(half[k - 1]!);
      expect(half.length - 1).to.be.at.most(Math.ceil(3 * sigma));
      expect(half[half.length - 1]).to.be.above(0);
    });
  }

  it('stays within one unit of the exact weights', () => {
    // Arrange
    const sigma = 1.4;
    const radius = Math.ceil(3 * sigma);
    const exact = Array.from({ length: radius + 1 }, (_, k) => Math.exp(-(k * k) / (2 * sigma * sigma)));
    const sum = exact.reduce((s, w, k) => s + (k === 0 ? w : 2 * w), 0);

    // Act
    const { half, bits } = gaussianKernel(sigma);

    // Assert: 8 bits per pass at the default, and the dropped tap rounds to 0.
    expect(bits).to.equal(8);
    expect(half.length).to.equal(radius);
    for (let k = 0; k <= radius; k++) expect(Math.abs((half[k] ?? 0) - (exact[k]! / sum) * 2 ** bits), `tap ${k}`).to.be.below(1);
  });

  it('gives wide kernels more bits, so their tails are not rounded away', () => {
    expect(gaussianKernel(5).bits).to.equal(11);
    expect(gaussianKernel(5).half.length - 1).to.be.at.least(12);
  });

  it('is the identity at sigma 0', () => {
    expect([...gaussianKernel(0).half]).to.deep.equal([1]);
    expect(gaussianKernel(0).bits).to.equal(0);
  });
});

describe('edgeMask against a floating-point Canny', () => {
  // The same steps in double precision without any of the integer tricks
  // (unrounded blur, Math.sqrt magnitudes, atan2 sectors): the fixed-point
  // pipeline may differ only where rounding decides a tie.
  const floatCanny = (image: GreyImage, low: number, high: number): Uint8Array => {
    const { width, height, data } = image;
    const at = (buffer: ArrayLike<number>, x: number, y: number): number =>
      buffer[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]!;
    const sigma = 1.4;
    const radius = Math.ceil(3 * sigma);
    const weights = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
    const sum = weights.reduce((a, b) => a + b, 0);
    const rows = new Float64Array(width * height);
    const smooth = new Float64Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rows[y * width + x] = weights.reduce((s, w, i) => s + w * at(data, x + i - radius, y), 0) / sum;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) smooth[y * width + x] = weights.reduce((s, w, i) => s + w * at(rows, x, y + i - radius), 0) / sum;
    const magnitude = new Float64Array(width * height);
    const angle = new Float64Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const gx = at(smooth, x + 1, y - 1) + 2 * at(smooth, x + 1, y) + at(smooth, x + 1, y + 1) - at(smooth, x - 1, y - 1) - 2 * at(smooth, x - 1, y) - at(smooth, x - 1, y + 1);
        const gy = at(smooth, x - 1, y + 1) + 2 * at(smooth, x, y + 1) + at(smooth, x + 1, y + 1) - at(smooth, x - 1, y - 1) - 2 * at(smooth, x, y - 1) - at(smooth, x + 1, y - 1);
        magnitude[y * width + x] = Math.hypot(gx, gy) / 4;
        angle[y * width + x] = ((Math.atan2(gy, gx) * 180) / Math.PI + 180) % 180;
      }
    }
    const ridges = new Float64Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const m = magnitude[y * width + x]!;
        const a = angle[y * width + x]!;
        const [dx, dy] = a < 22.5 || a >= 157.5 ? [1, 0] : a < 67.5 ? [1, 1] : a < 112.5 ? [0, 1] : [-1, 1];
        if (m > 0 && m > at(magnitude, x - dx, y - dy) && m >= at(magnitude, x + dx, y + dy)) ridges[y * width + x] = m;
      }
    }
    const out = new Uint8Array(width * height);
    const stack: number[] = [];
    for (let i = 0; i < out.length; i++) {
      if (ridges[i]! >= high && out[i] === 0) (out[i] = 255), stack.push(i);
      while (stack.length > 0) {
        const j = stack.pop()!;
        const px = j % width;
        const py = (j - px) / width;
        for (let ny = py - 1; ny <= py + 1; ny++) {
          for (let nx = px - 1; nx <= px + 1; nx++) {
            const k = ny * width + nx;
            if (nx >= 0 && ny >= 0 && nx < width && ny < height && out[k] === 0 && ridges[k]! > 0 && ridges[k]! >= low) (out[k] = 255), stack.push(k);
          }
        }
      }
    }
    return out;
  };

  it('marks almost exactly the same pixels on a photograph', async () => {
    // Arrange
    const image = await photo('coffee.png', 384, 256);
    const mask = edgeMask(image);

    // Act
    const reference = floatCanny(image, mask.low, mask.high);

    // Assert: of the pixels either one marks, at least 90 % are marked by both
    // (the edges shift by a pixel here and there where rounding breaks a tie).
    let either = 0;
    let both = 0;
    for (let i = 0; i < reference.length; i++) {
      if (reference[i] !== 0 || mask.data[i] !== 0) either++;
      if (reference[i] !== 0 && mask.data[i] !== 0) both++;
    }
    expect(either).to.be.above(1000);
    expect(both / either).to.be.above(0.9);
  });
});

describe('edgeMask against a plain integer Canny', () => {
  // The definition edgeMask implements, written plainly: whole-picture
  // passes with clamped reads, the integer kernel, exact Sobel squares, the
  // same Q15 sectors and inclusive/strict comparisons. edgeMask streams rows
  // through rings and blurs and differentiates eight pixels at a time (SIMD),
  // which is where the ends of rows, odd widths and the first and last rows
  // could go wrong: the masks must be identical, pixel for pixel.
  const integerCanny = (image: GreyImage, sigma: number, low: number, high: number): Uint8Array => {
    const { width, height, data } = image;
    const clamp = (v: number, max: number): number => Math.min(max, Math.max(0, v));
    const { half, bits } = gaussianKernel(sigma);
    const radius = half.length - 1;
    const weight = (k: number): number => half[Math.abs(k)]!;
    const smooth = new Int32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let j = -radius; j <= radius; j++) {
          for (let i = -radius; i <= radius; i++) sum += weight(j) * weight(i) * data[clamp(y + j, height - 1) * width + clamp(x + i, width - 1)]!;
        }
        smooth[y * width + x] = bits === 0 ? sum : Math.floor((sum + 2 ** (2 * bits - 1)) / 2 ** (2 * bits));
      }
    }
    const s = (x: number, y: number): number => smooth[clamp(y, height - 1) * width + clamp(x, width - 1)]!;
    const squared = new Int32Array(width * height);
    const sector = new Int32Array(width * height);
    const tan = Math.round((Math.SQRT2 - 1) * 2 ** 15);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const gx = s(x + 1, y - 1) + 2 * s(x + 1, y) + s(x + 1, y + 1) - s(x - 1, y - 1) - 2 * s(x - 1, y) - s(x - 1, y + 1);
        const gy = s(x - 1, y + 1) + 2 * s(x, y + 1) + s(x + 1, y + 1) - s(x - 1, y - 1) - 2 * s(x, y - 1) - s(x + 1, y - 1);
        const ax = Math.abs(gx);
        const ay = Math.abs(gy);
        squared[y * width + x] = gx * gx + gy * gy;
        sector[y * width + x] = ay * 2 ** 15 <= ax * tan ? 0 : ax * 2 ** 15 <= ay * tan ? 1 : Math.sign(gx) * Math.sign(gy) < 0 ? 3 : 2;
      }
    }
    const m = (x: number, y: number): number => squared[clamp(y, height - 1) * width + clamp(x, width - 1)]!;
    const weak = Math.max(1, Math.ceil(16 * low * low));
    const strong = Math.max(weak, Math.ceil(16 * high * high));
    const ridge = new Int32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [dx, dy] = [[1, 0], [0, 1], [1, 1], [-1, 1]][sector[y * width + x]!]!;
        const c = m(x, y);
        if (c > m(x - dx!, y - dy!) && c >= m(x + dx!, y + dy!)) ridge[y * width + x] = c;
      }
    }
    const out = new Uint8Array(width * height);
    const stack: number[] = [];
    for (let i = 0; i < out.length; i++) {
      if (ridge[i]! >= strong && out[i] === 0) (out[i] = 255), stack.push(i);
      while (stack.length > 0) {
        const j = stack.pop()!;
        const px = j % width;
        const py = (j - px) / width;
        for (let ny = Math.max(0, py - 1); ny <= Math.min(height - 1, py + 1); ny++) {
          for (let nx = Math.max(0, px - 1); nx <= Math.min(width - 1, px + 1); nx++) {
            const k = ny * width + nx;
            if (out[k] === 0 && ridge[k]! >= weak) (out[k] = 255), stack.push(k);
          }
        }
      }
    }
    return out;
  };

  const sizes: Array<[number, number]> = [[1, 1], [1, 12], [12, 1], [2, 3], [7, 5], [8, 8], [9, 9], [15, 4], [16, 17], [17, 10], [33, 21], [70, 45]];
  for (const [width, height] of sizes) {
    for (const sigma of [1.4, 0.8, 2, 0]) {
      it(`marks exactly the same pixels at ${width}×${height}, sigma ${sigma}`, () => {
        // Arrange: shapes and noise, several contours per row at these sizes
        const image = scene(width, height, 12, width * 31 + height);
        const automatic = edgeMask(image, { sigma });
        const fixed = edgeMask(image, { sigma, low: 4, high: 12 });

        // Act
        const expectedAutomatic = integerCanny(image, sigma, automatic.low, automatic.high);
        const expectedFixed = integerCanny(image, sigma, 4, 12);

        // Assert
        expect(Array.from(automatic.data)).to.deep.equal(Array.from(expectedAutomatic));
        expect(Array.from(fixed.data)).to.deep.equal(Array.from(expectedFixed));
      });
    }
  }
});

describe('toGrey', () => {
  const rgb = (...pixels: number[][]): Uint8Array => Uint8Array.from(pixels.flat());

  it('maps RGB to Rec. 601 luma', () => {
    // Arrange
    const pixels = rgb([255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [100, 150, 200]);

    // Act
    const grey = toGrey(pixels, 6, 1, 3);

    // Assert: 0.299 R + 0.587 G + 0.114 B, rounded.
    expect([...grey.data]).to.deep.equal([76, 150, 29, 255, 0, 141]);
    expect([grey.width, grey.height]).to.deep.equal([6, 1]);
  });

  it('ignores alpha in RGBA', () => {
    // Arrange
    const pixels = rgb([255, 0, 0, 0], [0, 255, 0, 128], [0, 0, 255, 255], [255, 255, 255, 7]);

    // Act
    const grey = toGrey(pixels, 2, 2, 4);

    // Assert
    expect([...grey.data]).to.deep.equal([76, 150, 29, 255]);
  });

  it('passes one channel through, as a copy', () => {
    // Arrange
    const pixels = Uint8Array.of(0, 17, 128, 255);

    // Act
    const grey = toGrey(pixels, 2, 2, 1);
    pixels[0] = 99;

    // Assert
    expect([...grey.data]).to.deep.equal([0, 17, 128, 255]);
  });

  it('takes the grey of grey-plus-alpha', () => {
    // Arrange
    const pixels = Uint8Array.of(10, 255, 200, 0);

    // Act
    const grey = toGrey(pixels, 2, 1, 2);

    // Assert
    expect([...grey.data]).to.deep.equal([10, 200]);
  });
});

describe('input validation', () => {
  const image = (width: number, height: number, length = width * height): GreyImage => ({
    width,
    height,
    data: new Uint8Array(length),
  });

  const cases: Array<[string, () => unknown, string]> = [
    ['width 0', () => edgeMask(image(0, 4)), 'Expected a positive integer for width but received 0'],
    ['fractional width', () => edgeMask(image(2.5, 4, 10)), 'Expected a positive integer for width but received 2.5'],
    ['negative height', () => edgeMask(image(4, -1, 0)), 'Expected a positive integer for height but received -1'],
    ['NaN height', () => edgeMask(image(4, Number.NaN, 0)), 'Expected a positive integer for height but received NaN'],
    [
      'short data',
      () => edgeMask(image(4, 4, 15)),
      'Expected 16 (width × height = 4 × 4) for data.length but received 15',
    ],
    [
      'data not bytes',
      () => edgeMask({ width: 1, height: 1, data: [0] as unknown as Uint8Array }),
      'Expected a Uint8Array for data but received Array',
    ],
    ['negative sigma', () => edgeMask(image(4, 4), { sigma: -1 }), 'Expected a number from 0 to 32 for options.sigma but received -1'],
    ['huge sigma', () => edgeMask(image(4, 4), { sigma: 1000 }), 'Expected a number from 0 to 32 for options.sigma but received 1000'],
    [
      'highPercentile above 1',
      () => edgeMask(image(4, 4), { highPercentile: 2 }),
      'Expected a number from 0 to 1 for options.highPercentile but received 2',
    ],
    [
      'NaN highPercentile',
      () => edgeMask(image(4, 4), { highPercentile: Number.NaN }),
      'Expected a number from 0 to 1 for options.highPercentile but received NaN',
    ],
    [
      'minSeedDensity above 1',
      () => edgeMask(image(4, 4), { minSeedDensity: 1.5 }),
      'Expected a number from 0 to 1 for options.minSeedDensity but received 1.5',
    ],
    [
      'negative lowRatio',
      () => edgeMask(image(4, 4), { lowRatio: -0.5 }),
      'Expected a number from 0 to 1 for options.lowRatio but received -0.5',
    ],
    [
      'high without low',
      () => edgeMask(image(4, 4), { high: 20 }),
      'Expected a finite number >= 0 (set with high) for options.low but received nothing',
    ],
    [
      'low without high',
      () => edgeMask(image(4, 4), { low: 10 }),
      'Expected a finite number >= low = 10 (set with low) for options.high but received nothing',
    ],
    [
      'high below low',
      () => edgeMask(image(4, 4), { low: 10, high: 5 }),
      'Expected a finite number >= low = 10 (set with low) for options.high but received 5',
    ],
    ['channels 0', () => toGrey(new Uint8Array(4), 2, 2, 0), 'Expected an integer from 1 to 4 for channels but received 0'],
    ['channels 5', () => toGrey(new Uint8Array(20), 2, 2, 5), 'Expected an integer from 1 to 4 for channels but received 5'],
    [
      'RGB length',
      () => toGrey(new Uint8Array(47), 4, 4, 3),
      'Expected 48 (width × height × channels = 4 × 4 × 3) for pixels.length but received 47',
    ],
    ['toGrey width', () => toGrey(new Uint8Array(3), 0, 1, 3), 'Expected a positive integer for width but received 0'],
  ];

  for (const [what, act, message] of cases) {
    it(`rejects ${what}`, () => {
      // Arrange: see the table.
      let caught: unknown;

      // Act
      try {
        act();
      } catch (error) {
        caught = error;
      }

      // Assert: the whole message (chai's throw(…, string) would accept a substring).
      expect(caught).to.be.instanceOf(RangeError);
      expect((caught as RangeError).message).to.equal(message);
    });
  }
});
