/**
 * Performance against the real anchors, measured in the same run:
 * `npm run bench` (full) or `npm run bench -- --smoke` (tiny sizes, one
 * round: checks that every section runs, says nothing about speed).
 *
 * - edge mask: edgeMask vs OpenCV's GaussianBlur + Canny (scripts/bench/edges.ts)
 * - prepare: preparePicture vs vipsthumbnail, and its peak RSS (scripts/bench/prepare.ts)
 * - cold start: module init of the built function bundles (scripts/bench/cold-start.ts)
 *
 * Then one table of the goals with PASS / FAIL, or SKIPPED when an anchor is
 * missing (python3-opencv or libvips-tools not installed): the run still
 * prints our own figures and exits 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchColdStart } from './bench/cold-start';
import { printTable, type GoalResult } from './bench/common';
import { benchEdges } from './bench/edges';
import { benchPrepare } from './bench/prepare';

const smoke = process.argv.includes('--smoke');
const tempDir = await mkdtemp(join(tmpdir(), 'icp-bench-'));
const started = performance.now();
console.log(`Node ${process.version}, ${process.arch}${smoke ? ', smoke run (tiny sizes, one round: the figures mean nothing)' : ''}`);
try {
  const goals: GoalResult[] = [
    ...(await benchEdges(smoke, tempDir)),
    ...(await benchPrepare(smoke, tempDir)),
    ...(await benchColdStart(smoke, tempDir)),
  ];
  console.log('');
  console.log('goals');
  printTable([['goal', 'measured', 'verdict'], ...goals.map((g) => [g.goal, g.measured, g.verdict])]);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await rm(tempDir, { recursive: true, force: true });
}
