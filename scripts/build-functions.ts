/**
 * Bundles each function into dist/functions/<name>/index.js with esbuild:
 * one CommonJS file per function (Lambda's layer resolution for `sharp` works
 * through require), minified, with a source map. `sharp` stays external: it
 * comes from the Lambda layer (scripts/build-layer.ts), and locally from
 * node_modules.
 */
import { build } from 'esbuild';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FUNCTIONS = ['prepare', 'generate'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];
export const bundleDir = (name: FunctionName, outRoot = join(ROOT, 'dist')): string => join(outRoot, 'functions', name);

export interface BuildOptions {
  /**
   * Where `functions/<name>/` go instead of dist/: the benchmark measures
   * cold starts on bundles of its own without replacing the ones a test run
   * beside it may be loading. The local runner's worker is only built into dist/.
   */
  readonly outRoot?: string;
}

export const buildFunctions = async (options: BuildOptions = {}): Promise<Record<FunctionName, number>> => {
  const sizes = {} as Record<FunctionName, number>;
  for (const name of FUNCTIONS) {
    const outdir = bundleDir(name, options.outRoot);
    await rm(outdir, { recursive: true, force: true });
    await mkdir(outdir, { recursive: true });
    const result = await build({
      entryPoints: [join(ROOT, 'functions', name, 'handler.ts')],
      outfile: join(outdir, 'index.js'),
      bundle: true,
      platform: 'node',
      // Runs on nodejs22.x in Lambda and on the machine's Node 20 locally.
      target: 'node20',
      format: 'cjs',
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      external: ['sharp'],
      // The AWS SDK's packages ship ES module builds that esbuild can tree-shake;
      // their CommonJS `main` pulls in whole modules. Preferring `module` made
      // generate's bundle 28 % smaller and its module init about a third faster
      // (`npm run bench`, cold start). Node's own resolution is not involved:
      // everything but sharp is inlined.
      mainFields: ['module', 'main'],
      metafile: true,
      logLevel: 'warning',
      // Deterministic output: the same source gives the same zip hash, so unchanged code does not redeploy.
      legalComments: 'none',
    });
    // The repository is an ES module package; this folder is not.
    await writeFile(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
    sizes[name] = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  }
  if (options.outRoot !== undefined) return sizes;
  // The local runner's execution environment, plain JS so the child runs without a TypeScript loader.
  await build({
    entryPoints: [join(ROOT, 'scripts', 'local', 'lambda-worker.ts')],
    outfile: join(ROOT, 'dist', 'local', 'lambda-worker.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  return sizes;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = await buildFunctions();
  for (const [name, bytes] of Object.entries(sizes)) console.log(`built dist/functions/${name}/index.js (${(bytes / 1024).toFixed(0)} KiB with map)`);
}
