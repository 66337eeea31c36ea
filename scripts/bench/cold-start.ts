/**
 * Cold start of the two function bundles: each `require` of
 * dist/functions/<name>/index.js in a fresh Node process, with the
 * environment the handler reads at load, timed inside that process (Node's
 * own start-up is the same for every bundle and not ours to cut). The
 * bundles are built for this run into a temporary folder by
 * scripts/build-functions.ts, with exactly the deploy's options.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildFunctions, bundleDir, FUNCTIONS, ROOT, type FunctionName } from '../build-functions';
import { fixed, median, printTable, verdict, type GoalResult } from './common';

const run = promisify(execFile);

export const COLD_START_GOALS_MS: Record<FunctionName, number> = { generate: 100, prepare: 150 };

const ENV = {
  MODEL_ID: 'us.stability.stable-image-control-sketch-v1:0',
  STAGING_BUCKET: 'x',
  OUTPUT_BUCKET: 'x',
  AWS_REGION: 'us-east-1',
  // The SDK warns on Node 20 at load; the warning is not part of a Lambda (Node 22) cold start.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // The bundles live outside the repository; sharp comes from its node_modules, as from the layer in Lambda.
  NODE_PATH: join(ROOT, 'node_modules'),
};

const importMs = async (file: string): Promise<number> => {
  const script = `const s = performance.now(); require(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - s));`;
  const { stdout } = await run(process.execPath, ['-e', script], { env: { ...process.env, ...ENV } });
  return Number(stdout);
};

export const benchColdStart = async (smoke: boolean, tempDir: string): Promise<GoalResult[]> => {
  const outRoot = join(tempDir, 'bundles');
  await buildFunctions({ outRoot });
  const samples: Record<FunctionName, number[]> = { generate: [], prepare: [] };
  const rounds = smoke ? 1 : 15;
  // Alternating, so contention on the machine hits both bundles alike.
  for (let round = 0; round < rounds; round++) {
    for (const name of FUNCTIONS) samples[name].push(await importMs(join(bundleDir(name, outRoot), 'index.js')));
  }
  console.log('');
  console.log('cold start: module init of the built bundles (require in a fresh node process)');
  const rows: string[][] = [['function', 'init ms (median)', 'min', 'max', 'bundle KiB', 'goal ms']];
  const goals: GoalResult[] = [];
  for (const name of FUNCTIONS) {
    const ms = median(samples[name]);
    const { size } = await stat(join(bundleDir(name, outRoot), 'index.js'));
    rows.push([name, fixed(ms), fixed(Math.min(...samples[name])), fixed(Math.max(...samples[name])), fixed(size / 1024, 0), String(COLD_START_GOALS_MS[name])]);
    goals.push({
      goal: `${name} module init <= ${COLD_START_GOALS_MS[name]} ms`,
      measured: `${fixed(ms)} ms (${fixed(size / 1024, 0)} KiB bundle)`,
      verdict: verdict(ms <= COLD_START_GOALS_MS[name]),
    });
  }
  printTable(rows);
  console.log(`${rounds} fresh processes per bundle, alternating; bundle KiB without the source map. Env: ${Object.keys(ENV).join(', ')}.`);
  return goals;
};
