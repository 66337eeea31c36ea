/**
 * `npm start`: answers `--help` at once; otherwise builds the function bundles and synthesizes
 * the stack (`npm run synth`, about 13 s) and runs the local pipeline (scripts/local/run.ts)
 * with the same arguments.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { START_USAGE, wantsHelp } from './start-options';

if (wantsHelp(process.argv.slice(2))) {
  console.log(START_USAGE);
  process.exit(0);
}
// Not imported from build-functions.ts: that loads esbuild, and --help must not wait for it.
const root = fileURLToPath(new URL('../..', import.meta.url));
const synth = spawnSync('npm', ['run', 'synth', '--silent'], { cwd: root, stdio: 'inherit' });
if (synth.status !== 0) process.exit(synth.status ?? 1);
await import('../local/run');
