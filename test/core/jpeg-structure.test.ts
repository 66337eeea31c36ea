import { expect } from 'chai';
import sharp from 'sharp';
import { PipelineError } from '../../functions/core/errors';
import { DEFAULT_MAX_JPEG_SCANS, readJpegStructure, requireJpegScansWithin } from '../../functions/core/jpeg-structure';
import { hostileProgressiveJpeg, hostileScanCount } from '../helpers/hostile-jpeg';

/** Noise: entropy-coded data full of 0xFF bytes, so byte stuffing (0xFF 0x00) is exercised. */
const noisy = (width = 320, height = 240) =>
  sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } });

const countPairs = (bytes: Uint8Array, second: (byte: number) => boolean): number => {
  let count = 0;
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && second(bytes[i + 1]!)) count++;
  return count;
};
const isRst = (byte: number): boolean => byte >= 0xd0 && byte <= 0xd7;

/** A tiny deterministic PRNG, so a failing garbage case can be replayed. */
const prng = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) >>> 0;
  return seed >>> 24;
};

const seg = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
const SOF2_8x8 = seg(0xc2, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
const SOS_1 = seg(0xda, [1, 1, 0x00, 0, 0, 0]);

describe('core/jpeg-structure', () => {
  describe('JPEGs written by sharp (libjpeg-turbo/mozjpeg)', () => {
    const cases: [string, () => Promise<Buffer>, { scans: number; components: number; progressive: boolean }][] = [
      ['baseline', () => noisy().jpeg({ mozjpeg: false }).toBuffer(), { scans: 1, components: 3, progressive: false }],
      ['progressive (libjpeg default script)', () => noisy().jpeg({ progressive: true }).toBuffer(), { scans: 10, components: 3, progressive: true }],
      ['grey progressive', () => noisy().toColourspace('b-w').jpeg({ progressive: true }).toBuffer(), { scans: 6, components: 1, progressive: true }],
      ['CMYK baseline', () => noisy().toColourspace('cmyk').jpeg().toBuffer(), { scans: 1, components: 4, progressive: false }],
      ['CMYK progressive', () => noisy().toColourspace('cmyk').jpeg({ progressive: true }).toBuffer(), { scans: 18, components: 4, progressive: true }],
    ];
    for (const [name, make, expected] of cases) {
      it(`reads a ${name} JPEG: ${expected.scans} scan(s), ${expected.components} components`, async () => {
        const bytes = await make();
        expect(countPairs(bytes, (b) => b === 0x00), 'stuffed 0xFF bytes in the data').to.be.greaterThan(10);
        expect(readJpegStructure(bytes)).to.deep.equal({ ...expected, width: 320, height: 240, end: 'eoi' });
        requireJpegScansWithin(bytes, DEFAULT_MAX_JPEG_SCANS, 's3://b/k');
      });
    }

    it('reads mozjpeg\'s optimised progressive scripts as a handful of scans, far under the limit', async () => {
      for (const image of [noisy(), noisy().toColourspace('b-w')]) {
        const bytes = await image.jpeg({ progressive: true, mozjpeg: true }).toBuffer();
        const structure = readJpegStructure(bytes);
        expect(structure.progressive).to.equal(true);
        expect(structure.end).to.equal('eoi');
        expect(structure.scans).to.be.within(2, 20);
      }
    });
  });

  describe('JPEGs from the hostile generator (test/helpers/hostile-jpeg.ts)', () => {
    it('counts every scan of a decodable file with restart markers and stuffed bytes in its data', async () => {
      for (const options of [
        { width: 200, height: 120, coefficients: 4, approximation: 1, restartInterval: 7 },
        { width: 64, height: 64, components: 1 as const, coefficients: 63, approximation: 13, restartInterval: 1 },
        { width: 1000, height: 600, components: 4 as const, coefficients: 5, approximation: 2, restartInterval: 250 },
      ]) {
        const bytes = hostileProgressiveJpeg(options);
        expect(countPairs(bytes, isRst), 'RSTn markers').to.be.greaterThan(100);
        expect(readJpegStructure(bytes)).to.deep.equal({
          scans: hostileScanCount(options),
          components: options.components ?? 3,
          width: options.width,
          height: options.height,
          progressive: true,
          end: 'eoi',
        });
        // A valid file: libjpeg decodes it without a single warning.
        const { info } = await sharp(bytes, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height]).to.deep.equal([options.width, options.height]);
      }
    });

    it('writes the reported case: 7680×7680 CMYK, 3529 scans, under a megabyte, and libvips takes it for a JPEG', async () => {
      const options = { width: 7680, height: 7680, components: 4 as const };
      const bytes = hostileProgressiveJpeg(options);
      expect(hostileScanCount(options)).to.equal(3529);
      expect(bytes.length).to.be.below(1_000_000);
      const metadata = await sharp(bytes, { failOn: 'error' }).metadata();
      expect([metadata.format, metadata.width, metadata.height, metadata.space, metadata.isProgressive]).to.deep.equal(['jpeg', 7680, 7680, 'cmyk', true]);
      expect(readJpegStructure(bytes)).to.deep.equal({ scans: 3529, components: 4, width: 7680, height: 7680, progressive: true, end: 'eoi' });
      expect(() => requireJpegScansWithin(bytes, DEFAULT_MAX_JPEG_SCANS, 's3://input/hostile.jpg'))
        .to.throw(PipelineError, 's3://input/hostile.jpg is a progressive JPEG with 3529 scans; at most 100 are accepted (MAX_JPEG_SCANS)')
        .with.property('reason', 'DECODER_LIMIT');
    });

    it('a small copy of the same shape decodes in full: the refused file is a real JPEG, not a broken one', async () => {
      const bytes = hostileProgressiveJpeg({ width: 96, height: 64, components: 4 });
      expect((await sharp(bytes).metadata()).channels).to.equal(4);
      const { info } = await sharp(bytes, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).to.deep.equal([96, 64]);
    });
  });

  describe('the limit', () => {
    // Grey: 1 + coefficients × (approximation + 1) scans, any count can be hit exactly.
    const grey = (coefficients: number, approximation: number) => hostileProgressiveJpeg({ width: 64, height: 64, components: 1, coefficients, approximation });

    it('accepts exactly maxScans and refuses one more, with DECODER_LIMIT naming the object, the count and the setting', () => {
      const hundred = grey(33, 2);
      const hundredAndOne = grey(50, 1);
      expect(readJpegStructure(hundred).scans).to.equal(100);
      expect(requireJpegScansWithin(hundred, 100, 's3://b/k.jpg').scans).to.equal(100);
      let error: unknown;
      try {
        requireJpegScansWithin(hundredAndOne, 100, 's3://b/k.jpg');
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(PipelineError);
      expect((error as PipelineError).reason).to.equal('DECODER_LIMIT');
      expect((error as PipelineError).permanent).to.equal(true);
      expect((error as PipelineError).message).to.match(/^s3:\/\/b\/k\.jpg is a progressive JPEG with 101 scans; at most 100 are accepted \(MAX_JPEG_SCANS\)/);
    });

    it('counts the scans before a truncation ("at least"): libjpeg would go through them before failing', () => {
      const bytes = grey(63, 13);
      const cut = bytes.subarray(0, Math.floor(bytes.length * 0.6));
      const structure = readJpegStructure(cut);
      expect(structure.end).to.equal('truncated');
      expect(structure.scans).to.be.within(101, hostileScanCount({ width: 64, height: 64, components: 1 }) - 1);
      expect(() => requireJpegScansWithin(cut, 100, 's3://b/cut.jpg')).to.throw(PipelineError, /with at least \d+ scans/);
    });

    it('lets malformed and truncated files with few scans through to the decoder (which reports them itself)', () => {
      expect(requireJpegScansWithin(Uint8Array.from([0xff, 0xd8, 0xff]), 100, 's3://b/k').end).to.equal('truncated');
      expect(requireJpegScansWithin(Uint8Array.from([0xff, 0xd8, 0xff, 0xc4, 0x00, 0x01]), 100, 's3://b/k').end).to.equal('malformed');
    });
  });

  describe('robustness', () => {
    it('skips stuffed bytes, fill bytes and restart markers inside entropy-coded data', () => {
      const data = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56, 0xff, 0xff, 0x00, 0x78, 0xff, 0xd7, 0xff, 0x00];
      const bytes = Uint8Array.from([0xff, 0xd8, ...SOF2_8x8, ...SOS_1, ...data, ...SOS_1, ...data, 0xff, 0xff, 0xff, 0xd9]);
      expect(readJpegStructure(bytes)).to.deep.equal({ scans: 2, components: 1, width: 8, height: 8, progressive: true, end: 'eoi' });
    });

    it('still counts scans hidden behind extraneous bytes, which libjpeg skips with a mere warning', async () => {
      const options = { width: 64, height: 64, components: 1 as const, coefficients: 63, approximation: 1 };
      const clean = hostileProgressiveJpeg(options);
      // Garbage between SOI and the first segment, and a stuffed pair and an RST where a marker is expected.
      const dirty = Buffer.concat([clean.subarray(0, 2), Buffer.from([0x00, 0x41, 0x42, 0xff, 0x00, 0xff, 0xd0, 0x43]), clean.subarray(2)]);
      expect(readJpegStructure(dirty).scans).to.equal(hostileScanCount(options));
      // libvips at prepare's failOn: 'error' decodes it all the same: the scans would be decoded.
      const { info } = await sharp(dirty, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
      expect(info.width).to.equal(64);
    });

    it('stops at EOI: what follows (a second image, a trailer) is not read', () => {
      const one = hostileProgressiveJpeg({ width: 16, height: 16, components: 1, coefficients: 2, approximation: 0 });
      const structure = readJpegStructure(Buffer.concat([one, hostileProgressiveJpeg({ width: 16, height: 16, components: 1 })]));
      expect(structure).to.include({ scans: 3, end: 'eoi' });
    });

    it('reports structural errors as results, never throws', () => {
      const cases: [string, number[], string][] = [
        ['empty', [], 'truncated'],
        ['one byte', [0xff], 'truncated'],
        ['not a JPEG', [0x89, 0x50, 0x4e, 0x47], 'malformed'],
        ['a segment length of 1', [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01], 'malformed'],
        ['a segment longer than the file', [0xff, 0xd8, 0xff, 0xe0, 0x10, 0x00, 0x00], 'truncated'],
        ['SOS before SOF', [0xff, 0xd8, ...SOS_1, 0x00, 0xff, 0xd9], 'malformed'],
        ['two SOFs', [0xff, 0xd8, ...SOF2_8x8, ...SOF2_8x8, 0xff, 0xd9], 'malformed'],
        ['a short SOF', [0xff, 0xd8, ...seg(0xc0, [8, 0, 8]), 0xff, 0xd9], 'malformed'],
        ['a second SOI', [0xff, 0xd8, 0xff, 0xd8], 'malformed'],
        ['only fill bytes', [0xff, 0xd8, 0xff, 0xff, 0xff], 'truncated'],
      ];
      for (const [name, bytes, end] of cases) {
        const structure = readJpegStructure(Uint8Array.from(bytes));
        expect(structure.end, name).to.equal(end);
        if (end === 'malformed') expect(structure.problem, name).to.be.a('string');
      }
    });

    it('survives every prefix of a real progressive JPEG, counting no more scans than the whole file', async () => {
      const bytes = await noisy(48, 32).jpeg({ progressive: true }).toBuffer();
      let previous = 0;
      for (let length = 0; length < bytes.length; length++) {
        const structure = readJpegStructure(bytes.subarray(0, length));
        expect(structure.end, `prefix of ${length} bytes`).to.equal('truncated');
        expect(structure.scans).to.be.at.least(previous).and.at.most(10);
        previous = structure.scans;
      }
      expect(readJpegStructure(bytes).scans).to.equal(10);
    });

    it('survives random garbage after a JPEG signature and random corruption of a real file', async () => {
      const real = await noisy(64, 48).jpeg({ progressive: true }).toBuffer();
      const random = prng(8);
      for (let round = 0; round < 300; round++) {
        const garbage = Uint8Array.from({ length: 1 + (round % 50) * 20 }, () => (random() < 40 ? 0xff : random()));
        garbage.set([0xff, 0xd8].slice(0, garbage.length));
        expect(readJpegStructure(garbage).scans).to.be.at.least(0);
        const corrupt = Buffer.from(real);
        for (let i = 0; i < 4; i++) corrupt[2 + Math.floor(((random() << 8) | random()) % (corrupt.length - 2))] = random();
        expect(readJpegStructure(corrupt).scans).to.be.at.least(0);
      }
    });

    it('takes linear time on pathological byte runs (mocha\'s timeout is the bound)', function () {
      this.timeout(10_000);
      const size = 20 * 1024 * 1024;
      // All fill bytes; all stuffed pairs inside one scan; all restart markers; a file of empty COM segments.
      const fill = Buffer.alloc(size, 0xff);
      fill.set([0xff, 0xd8]);
      const stuffed = Buffer.concat([Buffer.from([0xff, 0xd8, ...SOF2_8x8, ...SOS_1]), Buffer.alloc(size, 0).fill(Buffer.from([0xff, 0x00]))]);
      const restarts = Buffer.concat([Buffer.from([0xff, 0xd8, ...SOF2_8x8, ...SOS_1]), Buffer.alloc(size).fill(Buffer.from([0xff, 0xd0]))]);
      const comments = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(size).fill(Buffer.from([0xff, 0xfe, 0x00, 0x02]))]);
      expect(readJpegStructure(fill).end).to.equal('truncated');
      expect(readJpegStructure(stuffed)).to.include({ scans: 1, end: 'truncated' });
      expect(readJpegStructure(restarts)).to.include({ scans: 1, end: 'truncated' });
      expect(readJpegStructure(comments)).to.include({ scans: 0, end: 'truncated' });
    });
  });
});
