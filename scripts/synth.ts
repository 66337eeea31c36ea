// Synthesizes the stack with plain Node, without the cdktf CLI:
//   npx tsx scripts/synth.ts            (ICP_MODEL_ID / ICP_REGION select model and region)
// Writes cdktf.out/stacks/image-conditioning-pipeline/cdk.tf.json plus the zipped
// assets next to it, and prints the JSON's path. Needs the build output (npm run build).
import { join } from 'node:path';
import { createApp, REPO_ROOT, stackJsonPath } from '../terraform/app.js';
import { readSynthConfig } from '../terraform/synth-config.js';

const outdir = join(REPO_ROOT, 'cdktf.out');
try {
  createApp({ outdir, synth: readSynthConfig(process.env) }).synth();
  console.log(stackJsonPath(outdir));
} catch (error) {
  console.error(`Synth failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
