import { expect } from 'chai';
import { freeSize, MAX_SOURCE_ASPECT, MIN_SOURCE_SIDE, nearestSize, planCover, type FreeSizeRules, type Size } from '../../functions/core/sizing';
import { TITAN_SIZES } from '../../functions/core/models/titan';
import { expectPipelineError, expectThrows } from '../helpers/assertions';

const size = (width: number, height: number): Size => ({ width, height });
const logRatio = (s: Size): number => Math.log(s.width / s.height);

/** Sources of many shapes: landscape, portrait, square, odd sides, tiny and large. */
const SOURCES: Size[] = [];
for (const width of [64, 65, 99, 451, 640, 1023, 1920, 4032, 5120, 8191]) {
  for (const height of [64, 77, 300, 768, 1080, 2880, 4000, 7000]) SOURCES.push(size(width, height));
}

describe('core/sizing', () => {
  describe('nearestSize (Titan list)', () => {
    it('picks 1152×640 for a 16:9 photo (5120×2880): ratio 1.8 is nearer 1.778 than 1408×768 / 1173×640 (≈1.833) or 1280×768 (≈1.667)', () => {
      // By hand: |ln(1.8/1.778)| ≈ 0.012, |ln(1.833/1.778)| ≈ 0.031, |ln(1.778/1.667)| ≈ 0.065.
      const chosen = nearestSize(size(5120, 2880), TITAN_SIZES);
      expect(chosen).to.deep.equal(size(1152, 640));
      const distance = (s: Size) => Math.abs(logRatio(s) - Math.log(16 / 9));
      for (const other of TITAN_SIZES.filter((s) => s !== chosen)) {
        expect(distance(other), `${other.width}×${other.height}`).to.be.greaterThan(distance(chosen));
      }
    });

    it('picks 1024×1024 for a square photo: the largest of the equally near 1024², 768², 512²', () => {
      expect(nearestSize(size(3000, 3000), TITAN_SIZES)).to.deep.equal(size(1024, 1024));
    });

    it('picks 1152×768 for a 3:2 photo, not the equally near 576×384', () => {
      expect(nearestSize(size(6000, 4000), TITAN_SIZES)).to.deep.equal(size(1152, 768));
    });

    it('picks a portrait pair for a portrait photo (2880×5120 → 768×1408, larger than the equally near 384×704)', () => {
      const chosen = nearestSize(size(2880, 5120), TITAN_SIZES);
      expect(chosen).to.deep.equal(size(768, 1408));
      expect(chosen.height).to.be.greaterThan(chosen.width);
    });

    it('prefers an exact ratio match (11:6 → 1408×768) over a near one (1173×640)', () => {
      expect(nearestSize(size(2200, 1200), TITAN_SIZES)).to.deep.equal(size(1408, 768));
      expect(nearestSize(size(1173, 640), TITAN_SIZES)).to.deep.equal(size(1173, 640));
    });

    it('always returns the nearest ratio, and the largest among equally near ones, for many shapes', () => {
      for (const source of SOURCES) {
        const chosen = nearestSize(source, TITAN_SIZES);
        const d = (s: Size) => Math.abs(logRatio(s) - logRatio(source));
        const best = Math.min(...TITAN_SIZES.map(d));
        const tied = TITAN_SIZES.filter((s) => Math.abs(d(s) - best) <= 1e-9);
        const largest = Math.max(...tied.map((s) => s.width * s.height));
        expect(d(chosen), `${source.width}×${source.height}`).to.be.closeTo(best, 1e-9);
        expect(chosen.width * chosen.height, `${source.width}×${source.height}`).to.equal(largest);
      }
    });

    it('throws RangeError on an empty list', () => {
      expectThrows(() => nearestSize(size(100, 100), []), RangeError, 'Expected at least one size but received an empty list');
    });
  });

  describe('planCover', () => {
    it('plans 5120×2880 → 1152×640: scale to 1152×648, cut 4 rows top and bottom, keep 5120×2844 of the source', () => {
      expect(planCover(size(5120, 2880), size(1152, 640))).to.deep.equal({
        target: size(1152, 640),
        resize: size(1152, 648),
        extract: { left: 0, top: 4, width: 1152, height: 640 },
        crop: { left: 0, top: 18, width: 5120, height: 2844 },
      });
    });

    it('upscales a source smaller than the target (451×300 → 1152×768)', () => {
      const plan = planCover(size(451, 300), size(1152, 768));
      expect(plan.resize).to.deep.equal(size(1155, 768));
      expect(plan.extract).to.deep.equal({ left: 1, top: 0, width: 1152, height: 768 });
      expect(plan.crop).to.deep.equal({ left: 0, top: 0, width: 450, height: 300 });
    });

    it('keeps the whole source when the aspect ratios match', () => {
      const plan = planCover(size(2048, 1024), size(1024, 512));
      expect(plan.resize).to.deep.equal(size(1024, 512));
      expect(plan.extract).to.deep.equal({ left: 0, top: 0, width: 1024, height: 512 });
      expect(plan.crop).to.deep.equal({ left: 0, top: 0, width: 2048, height: 1024 });
    });

    it('for every accepted source and Titan size: covers the target, crops one dimension only, centred, inside the source, at the target ratio', () => {
      const accepted = SOURCES.filter((s) => Math.max(s.width / s.height, s.height / s.width) <= MAX_SOURCE_ASPECT);
      expect(accepted.length).to.be.greaterThan(SOURCES.length / 2);
      for (const source of accepted) {
        for (const target of TITAN_SIZES) {
          const plan = planCover(source, target);
          const { resize, extract, crop } = plan;
          const label = `${source.width}×${source.height} → ${target.width}×${target.height}`;

          // Target fully covered, no bars.
          expect(resize.width, label).to.be.at.least(target.width);
          expect(resize.height, label).to.be.at.least(target.height);
          expect(extract.width, label).to.equal(target.width);
          expect(extract.height, label).to.equal(target.height);
          // Only one dimension loses pixels.
          expect(resize.width === target.width || resize.height === target.height, label).to.equal(true);
          expect(crop.width === source.width || crop.height === source.height, label).to.equal(true);
          // Extract centred in the resized picture (odd leftovers: one pixel more at the end).
          expect(resize.width - target.width - 2 * extract.left, label).to.be.oneOf([0, 1]);
          expect(resize.height - target.height - 2 * extract.top, label).to.be.oneOf([0, 1]);
          // Crop box inside the source.
          expect(crop.left, label).to.be.at.least(0);
          expect(crop.top, label).to.be.at.least(0);
          expect(crop.left + crop.width, label).to.be.at.most(source.width);
          expect(crop.top + crop.height, label).to.be.at.most(source.height);
          // Crop centred in the source, within one resized pixel's worth of source pixels.
          const sourcePerPixel = Math.max(source.width / resize.width, source.height / resize.height);
          const slack = Math.ceil(sourcePerPixel) + 1;
          expect(Math.abs(crop.left - (source.width - crop.left - crop.width)), label).to.be.at.most(slack);
          expect(Math.abs(crop.top - (source.height - crop.top - crop.height)), label).to.be.at.most(slack);
          // Crop has the target's aspect ratio, up to rounding of a few source pixels.
          const ratioError = Math.abs(logRatio(crop) - logRatio(target));
          expect(ratioError, label).to.be.at.most(3 / crop.width + 3 / crop.height);
        }
      }
    });

    it(`accepts a ${MIN_SOURCE_SIDE}×${MIN_SOURCE_SIDE} source`, () => {
      expect(planCover(size(64, 64), size(1024, 1024)).crop).to.deep.equal({ left: 0, top: 0, width: 64, height: 64 });
    });

    for (const [width, height] of [[20000, 64], [64, 600], [8001, 1000]] as const) {
      it(`refuses ${width}×${height}, beyond ${MAX_SOURCE_ASPECT}:1, with IMAGE_DIMENSIONS`, () => {
        expectPipelineError(
          () => planCover(size(width, height), size(1024, 1024)),
          'IMAGE_DIMENSIONS',
          `Expected an aspect ratio between 1:8 and 8:1 but received ${width}×${height}`,
        );
      });
    }

    it('accepts exactly 8:1 and 1:8', () => {
      expect(planCover(size(8000, 1000), size(1408, 640)).target).to.deep.equal(size(1408, 640));
      expect(planCover(size(1000, 8000), size(640, 1408)).target).to.deep.equal(size(640, 1408));
    });

    for (const [width, height] of [[1, 1], [20000, 10], [63, 4000], [4000, 63]] as const) {
      it(`refuses ${width}×${height} with IMAGE_DIMENSIONS`, () => {
        expectPipelineError(
          () => planCover(size(width, height), size(1024, 1024)),
          'IMAGE_DIMENSIONS',
          `Expected each side at least 64 px but received ${width}×${height}`,
        );
      });
    }
  });

  describe('freeSize', () => {
    const NOVA: FreeSizeRules = { targetPixels: 1024 * 1024, maxPixels: 4_194_304, minSide: 320, maxSide: 4096, multiple: 16, maxAspect: 4 };
    const STABILITY: FreeSizeRules = { targetPixels: 1024 * 1024, maxPixels: 9_437_184, minSide: 64, maxSide: 8192, multiple: 8, maxAspect: 2.5 };
    const STABILITY_ANY: FreeSizeRules = { ...STABILITY, multiple: 1 };
    const EXTREMES: Size[] = [
      size(10000, 100),
      size(100, 10000),
      size(1_000_000, 1),
      size(1, 1),
      size(64, 64),
      size(5120, 2880),
      size(2880, 5120),
      size(333, 777),
      size(4096, 4096),
    ];

    const expectWithinRules = (result: Size, rules: FreeSizeRules, label: string): void => {
      for (const side of [result.width, result.height]) {
        expect(side, label).to.be.within(rules.minSide, rules.maxSide);
        expect(side % rules.multiple, label).to.equal(0);
      }
      expect(result.width * result.height, label).to.be.at.most(rules.maxPixels);
      expect(result.width / result.height, label).to.be.at.most(rules.maxAspect);
      expect(result.height / result.width, label).to.be.at.most(rules.maxAspect);
    };

    for (const [name, rules] of [['Nova-like', NOVA], ['Stability-like (multiple 8)', STABILITY], ['Stability-like (multiple 1)', STABILITY_ANY]] as const) {
      it(`keeps every ${name} limit for extreme inputs, and lands near the target area`, () => {
        for (const source of EXTREMES) {
          const label = `${name} ${source.width}×${source.height}`;
          const result = freeSize(source, rules);
          expectWithinRules(result, rules, label);
          expect(result.width * result.height, label).to.be.within(rules.targetPixels * 0.95, rules.targetPixels * 1.05);
        }
      });
    }

    it('clamps 10000×100 to the widest allowed ratio (4:1 for Nova → 2048×512)', () => {
      expect(freeSize(size(10000, 100), NOVA)).to.deep.equal(size(2048, 512));
      expect(freeSize(size(100, 10000), NOVA)).to.deep.equal(size(512, 2048));
    });

    it('gives a square of the target area for a square source (1024×1024)', () => {
      expect(freeSize(size(3000, 3000), NOVA)).to.deep.equal(size(1024, 1024));
    });

    it('keeps the source ratio when it is allowed (16:9 → 1360×768 on a 16-pixel grid)', () => {
      const result = freeSize(size(5120, 2880), NOVA);
      expect(result).to.deep.equal(size(1360, 768));
      expect(result.width / result.height).to.be.closeTo(16 / 9, 0.02);
    });

    it('shrinks below an over-large target area until the pixel limit holds, staying close to it', () => {
      const rules = { ...NOVA, targetPixels: 64_000_000 };
      for (const source of EXTREMES) {
        const label = `${source.width}×${source.height}`;
        const result = freeSize(source, rules);
        expectWithinRules(result, rules, label);
        expect(result.width * result.height, label).to.be.at.least(rules.maxPixels * 0.85);
      }
    });
  });
});
