/**
 * The benchmark's smoke mode (`scripts/bench.ts --smoke`): every section runs
 * end to end at tiny sizes, prints its figures and ratio lines, and a missing
 * anchor is reported and skipped rather than crashing. No timing is asserted:
 * the figures of a smoke run mean nothing. CI does not install the anchors,
 * so there the default run takes the missing-anchor path too.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const bench = async (env: Record<string, string> = {}): Promise<string> => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', '--smoke'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 22,
  });
  return stdout;
};

const goalLine = (output: string, start: string): string | undefined => output.split('\n').find((line) => line.startsWith(start));

describe('npm run bench -- --smoke', function () {
  this.timeout(180_000);

  describe('with the anchors as this machine has them', () => {
    let output: string;
    before(async () => {
      output = await bench();
    });

    it('prints every section', () => {
      expect(output).to.match(/^edge mask: /m);
      expect(output).to.match(/^prepare: /m);
      expect(output).to.match(/^cold start: /m);
      expect(output).to.match(/^prepare module init <= 150 ms\s+[\d.]+ ms \(\d+ KiB bundle\)\s+(PASS|FAIL)$/m);
      expect(output).to.match(/^generate module init <= 100 ms\s+[\d.]+ ms \(\d+ KiB bundle\)\s+(PASS|FAIL)$/m);
    });

    it('prints a ratio for each anchor, or says it is missing', () => {
      const edges = goalLine(output, 'edge mask <= 5x OpenCV')!;
      expect(edges).to.match(/[\d.]+x\s+(PASS|FAIL)$|OpenCV missing\s+SKIPPED$/);
      const prepare = goalLine(output, 'prepare <= 1.0x vipsthumbnail, rocket.jpg')!;
      expect(prepare).to.match(/[\d.]+x \([\d.]+ vs [\d.]+ ms\)\s+(PASS|FAIL)$|vipsthumbnail missing\s+SKIPPED$/);
      expect(output).to.match(/^prepare peak RSS <= 150 MiB, generated 800x600\s+[\d.]+ MiB\s+(PASS|FAIL)$/m);
    });
  });

  describe('without the anchors', () => {
    let output: string;
    before(async () => {
      output = await bench({ BENCH_PYTHON: '/nonexistent/python3', BENCH_VIPSTHUMBNAIL: '/nonexistent/vipsthumbnail' });
    });

    it('says plainly which anchor is missing', () => {
      expect(output).to.match(/^edge mask: OpenCV anchor missing: .*install python3-opencv/m);
      expect(output).to.match(/^prepare: vipsthumbnail anchor missing: .*install libvips-tools/m);
    });

    it('still measures our side and skips only the ratios', () => {
      expect(output).to.match(/^scene\+noise 96x64\s+[\d.]+\s+missing\s+skipped/m);
      expect(output).to.match(/^rocket\.jpg\s+\d+x\d+\s+[\d.]+\s+missing\s+skipped/m);
      expect(goalLine(output, 'edge mask <= 5x OpenCV')).to.match(/OpenCV missing\s+SKIPPED$/);
      expect(goalLine(output, 'pixel agreement with OpenCV')).to.match(/OpenCV missing\s+SKIPPED$/);
      expect(goalLine(output, 'prepare <= 1.0x vipsthumbnail, rocket.jpg')).to.match(/vipsthumbnail missing\s+SKIPPED$/);
      expect(output).to.match(/^prepare peak RSS <= 150 MiB, generated 800x600\s+[\d.]+ MiB\s+(PASS|FAIL)$/m);
    });
  });
});
