/**
 * prepare's whole picture work (preparePicture: decode, orient, size, edge
 * mask, both PNGs) against libvips' own `vipsthumbnail` (Debian
 * libvips-tools) doing decode, resize and PNG encode of the same JPEG to the
 * same size. They alternate run by run; vipsthumbnail is a process per run,
 * so its start-up (measured on a 16×16 JPEG, alternating too) is subtracted:
 * what remains is its decode-resize-encode. BENCH_VIPSTHUMBNAIL overrides the
 * binary (a path that does not exist exercises the missing anchor).
 *
 * Then the peak RSS of one cold preparePicture in a fresh process: the worker
 * (scripts/bench/prepare-worker.ts) bundled to plain JS first, so the figure
 * is prepare's and Node's, not a TypeScript loader's.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import sharp from 'sharp';
import { requireAllowedFormat } from '../../functions/core/format';
import { adapterFor } from '../../functions/core/models';
import { preparePicture, type PictureOptions } from '../../functions/prepare/picture';
import { seededRandom } from '../../test/helpers/shapes';
import { fixed, median, printTable, verdict, type GoalResult } from './common';
import type { WorkerResult } from './prepare-worker';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VIPSTHUMBNAIL = process.env.BENCH_VIPSTHUMBNAIL ?? 'vipsthumbnail';
export const PREPARE_RATIO_GOAL = 1.0;
export const RSS_GOAL_MIB = 150;
/** The default model's sizing, as prepare uses it when MODEL_ID is not set. */
const DEFAULT_MODEL_ID = 'us.stability.stable-image-control-sketch-v1:0';
/** MAX_INPUT_PIXELS' default in functions/prepare/config.ts. */
const MAX_INPUT_PIXELS = 60_000_000;

interface PrepareCase {
  readonly name: string;
  readonly file: () => Promise<string>;
  readonly rounds: number;
  /** Whether this case carries the peak-memory goal. */
  readonly memoryGoal: boolean;
}

/**
 * A big JPEG from a real photograph: upscaled, with seeded noise so it
 * compresses (and decodes) like a camera's picture rather than a smooth blur.
 */
const generatedJpeg = (tempDir: string, width: number, height: number) => async (): Promise<string> => {
  const path = join(tempDir, `rocket-${width}x${height}.jpg`);
  const source = await readFile(join(ROOT, 'test/fixtures/photos/rocket.jpg'));
  const { data, info } = await sharp(source).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const random = seededRandom(24);
  for (let i = 0; i < data.length; i++) {
    const value = data[i]! + Math.round((random() - 0.5) * 24);
    data[i] = value < 0 ? 0 : value > 255 ? 255 : value;
  }
  await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 90 }).toFile(path);
  return path;
};

const cases = (smoke: boolean, tempDir: string): PrepareCase[] =>
  smoke
    ? [
        { name: 'rocket.jpg', file: async () => join(ROOT, 'test/fixtures/photos/rocket.jpg'), rounds: 1, memoryGoal: false },
        { name: 'generated 800x600', file: generatedJpeg(tempDir, 800, 600), rounds: 1, memoryGoal: true },
      ]
    : [
        { name: 'safe-landing 5120x2880', file: async () => join(ROOT, 'test/fixtures/large/safe-landing-5120x2880.jpg'), rounds: 15, memoryGoal: false },
        { name: 'generated 24 MP 6000x4000', file: generatedJpeg(tempDir, 6000, 4000), rounds: 11, memoryGoal: true },
      ];

/** Wall time of one vipsthumbnail process; throws if it cannot run. */
const vipsthumbnail = async (file: string, width: number, height: number, output: string): Promise<number> => {
  const start = performance.now();
  // --smartcrop centre fills the box by cropping the centre, as prepare does.
  await run(VIPSTHUMBNAIL, [file, '--size', `${width}x${height}`, '--smartcrop', 'centre', '-o', output]);
  return performance.now() - start;
};

const bundleWorker = async (): Promise<string> => {
  // Inside the repository so the bundle's `import 'sharp'` resolves from node_modules.
  const outdir = join(ROOT, 'node_modules', '.cache', 'icp-bench');
  await mkdir(outdir, { recursive: true });
  const outfile = join(outdir, 'prepare-worker.mjs');
  await build({
    entryPoints: [join(ROOT, 'scripts/bench/prepare-worker.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['sharp'],
    logLevel: 'warning',
  });
  return outfile;
};

const peak = async (worker: string, variant: 'ours' | 'idle', file: string): Promise<WorkerResult> => {
  const { stdout } = await run(process.execPath, [worker, variant, file, '1', '0'], { cwd: ROOT, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as WorkerResult;
};

export const benchPrepare = async (smoke: boolean, tempDir: string): Promise<GoalResult[]> => {
  const tiny = join(tempDir, 'tiny.jpg');
  await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).jpeg().toFile(tiny);
  let missing: string | undefined;
  try {
    await vipsthumbnail(tiny, 16, 16, join(tempDir, 'tiny.png'));
  } catch (error) {
    missing = `${VIPSTHUMBNAIL} could not run (${(error as Error).message.split('\n')[0]}); install libvips-tools`;
  }
  console.log('');
  console.log(
    missing
      ? `prepare: vipsthumbnail anchor missing: ${missing}; ratios skipped`
      : 'prepare: preparePicture vs vipsthumbnail (libvips-tools: decode with shrink-on-load, resize, centre crop, PNG)',
  );
  const worker = await bundleWorker();
  const rows: string[][] = [['case', 'size', 'prepare ms', 'vipsthumbnail ms', 'ratio', 'peak RSS MiB', 'idle RSS MiB', 'prepare decode/edges/encode ms']];
  const goals: GoalResult[] = [];
  for (const prepareCase of cases(smoke, tempDir)) {
    const file = await prepareCase.file();
    const bytes = await readFile(file);
    const options: PictureOptions = {
      format: requireAllowedFormat(bytes, file),
      maxInputPixels: MAX_INPUT_PIXELS,
      targetSize: adapterFor(DEFAULT_MODEL_ID).targetSize,
      objectName: file,
    };
    const first = await preparePicture(bytes, options);
    const { width, height } = first.plan.target;
    if (!smoke) await preparePicture(bytes, options);
    const ours: number[] = [];
    const stages: Array<[number, number, number]> = [];
    const vips: number[] = [];
    const floor: number[] = [];
    for (let round = 0; round < prepareCase.rounds; round++) {
      const start = performance.now();
      const prepared = await preparePicture(bytes, options);
      ours.push(performance.now() - start);
      stages.push([prepared.timings.decodeMs, prepared.timings.edgesMs, prepared.timings.encodeMs]);
      if (!missing) {
        vips.push(await vipsthumbnail(file, width, height, join(tempDir, 'vips.png')));
        floor.push(await vipsthumbnail(tiny, 16, 16, join(tempDir, 'tiny.png')));
      }
    }
    const oursMs = median(ours);
    const vipsMs = median(vips) - median(floor);
    const idle = await peak(worker, 'idle', file);
    const cold = await peak(worker, 'ours', file);
    const peakMiB = cold.peakAfterFirstKb / 1024;
    rows.push([
      prepareCase.name,
      `${width}x${height}`,
      fixed(oursMs),
      missing ? 'missing' : `${fixed(vipsMs)} (${fixed(median(vips))} - ${fixed(median(floor))} start-up)`,
      missing ? 'skipped' : `${fixed(oursMs / vipsMs, 2)}x`,
      fixed(peakMiB),
      fixed(idle.peakAfterFirstKb / 1024),
      [0, 1, 2].map((stage) => fixed(median(stages.map((s) => s[stage]!)), 0)).join(' / '),
    ]);
    goals.push({
      goal: `prepare <= ${fixed(PREPARE_RATIO_GOAL)}x vipsthumbnail, ${prepareCase.name}`,
      measured: missing ? 'vipsthumbnail missing' : `${fixed(oursMs / vipsMs, 2)}x (${fixed(oursMs)} vs ${fixed(vipsMs)} ms)`,
      verdict: verdict(missing ? undefined : oursMs <= PREPARE_RATIO_GOAL * vipsMs),
    });
    if (prepareCase.memoryGoal) {
      goals.push({
        goal: `prepare peak RSS <= ${RSS_GOAL_MIB} MiB, ${prepareCase.name}`,
        measured: `${fixed(peakMiB)} MiB`,
        verdict: verdict(peakMiB <= RSS_GOAL_MIB),
      });
    }
  }
  printTable(rows);
  console.log(
    'ms = median wall time, preparePicture in this process and vipsthumbnail alternating run by run; vipsthumbnail = its run minus its start-up ' +
      '(a 16x16 JPEG); ratio = prepare / vipsthumbnail. peak RSS = maxRSS of a fresh Node process after one cold preparePicture ' +
      '(idle: the same process, modules loaded, nothing run). Default model sizing.',
  );
  return goals;
};
