/**
 * Prepare's picture pipeline against the straightforward way, for
 * scripts/bench.ts. Each variant runs in its own child process
 * (scripts/bench/prepare-worker.ts), one after the other, so each one's peak
 * RSS is its own: a child that only loads the same modules (sharp included)
 * and reads the file gives the floor subtracted from the others' peaks.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Variant, WorkerResult } from './prepare-worker';

interface PrepareCase {
  readonly name: string;
  /** Relative to the repository root. */
  readonly file: string;
  readonly warmup: number;
  readonly runs: number;
}

const CASES: readonly PrepareCase[] = [
  { name: 'safe-landing.jpg', file: 'test/fixtures/large/safe-landing-5120x2880.jpg', warmup: 3, runs: 7 },
  { name: 'rocket.jpg', file: 'test/fixtures/photos/rocket.jpg', warmup: 3, runs: 15 },
];

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./prepare-worker.ts', import.meta.url));

const run = promisify(execFile);

const child = async (variant: Variant, benchCase: PrepareCase): Promise<WorkerResult> => {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', WORKER, variant, benchCase.file, String(benchCase.warmup), String(benchCase.runs)],
    { cwd: ROOT, maxBuffer: 1 << 20 },
  );
  const line = stdout.trim().split('\n').at(-1);
  if (!line) throw new Error(`The ${variant} worker for ${benchCase.file} printed nothing`);
  return JSON.parse(line) as WorkerResult;
};

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const mb = (kb: number): number => kb / 1024;
const size = (s: { width: number; height: number } | undefined): string => (s ? `${s.width}x${s.height}` : '?');

export const benchPrepare = async (): Promise<void> => {
  const started = performance.now();
  const rows: string[][] = [
    [
      'case',
      'ours ms',
      'baseline ms',
      'speedup',
      'ours peak MB',
      'baseline peak MB',
      'memory ratio',
      'decode+size ms ours/baseline',
      `peak MB after all runs ours/baseline`,
      'idle MB',
    ],
  ];
  for (const benchCase of CASES) {
    // Sequential: two children at once would share the CPUs and the page cache.
    const idle = await child('idle', benchCase);
    const ours = await child('ours', benchCase);
    const baseline = await child('baseline', benchCase);
    if (size(ours.output) !== size(baseline.output)) {
      throw new Error(`${benchCase.name}: ours made ${size(ours.output)} but the baseline ${size(baseline.output)}`);
    }
    const oursMs = median(ours.samples);
    const baselineMs = median(baseline.samples);
    const oursPeak = mb(ours.peakAfterFirstKb - idle.peakAfterFirstKb);
    const baselinePeak = mb(baseline.peakAfterFirstKb - idle.peakAfterFirstKb);
    rows.push([
      `${benchCase.name} ${size(ours.source)} -> ${size(ours.output)}`,
      oursMs.toFixed(1),
      baselineMs.toFixed(1),
      (baselineMs / oursMs).toFixed(2),
      oursPeak.toFixed(1),
      baselinePeak.toFixed(1),
      (baselinePeak / oursPeak).toFixed(2),
      `${median(ours.decodeSamples).toFixed(0)} / ${median(baseline.decodeSamples).toFixed(0)}`,
      `${mb(ours.peakKb - idle.peakKb).toFixed(1)} / ${mb(baseline.peakKb - idle.peakKb).toFixed(1)}`,
      mb(idle.peakKb).toFixed(1),
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log('');
  console.log('prepare: preparePicture (ours) vs full-size decode then resize/crop from raw pixels (baseline)');
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
  console.log(
    `ms = median wall time of preparePicture-equivalent runs (${CASES.map((c) => `${c.name}: ${c.warmup} warm-up + ${c.runs} timed`).join(', ')}), ` +
      'each variant in its own child process; speedup = baseline / ours.',
  );
  console.log(
    'peak MB = child maxRSS after its first (cold) run minus the idle child\'s (same modules, file read, nothing run); ' +
      'memory ratio = baseline / ours; "after all runs" is the same difference at the end of the timed runs. ' +
      `Default model sizing (us.stability.stable-image-control-sketch-v1:0); total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
};
