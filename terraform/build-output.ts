import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the build scripts leave what the stack packages, relative to the dist directory. */
export const BuildLayout = {
  PREPARE: 'functions/prepare',
  GENERATE: 'functions/generate',
  LAYER: 'layer',
} as const;

/** Absolute paths of the directories the stack zips into Lambda code and layer. */
export interface BuildOutput {
  readonly prepare: string;
  readonly generate: string;
  readonly layer: string;
}

// Lambda's Node runtime resolves handler "index.handler" to the first of these that exists.
const HANDLER_FILES = ['index.mjs', 'index.js', 'index.cjs'] as const;
const LAYER_MARKER = 'nodejs/node_modules/sharp/package.json';

const isDirectory = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

/**
 * Finds the build output under `distDir` and checks it looks deployable.
 * Synthesizing without it would package an empty or stale zip (or fail deep
 * inside cdktf's asset code), so every missing piece is reported at once.
 *
 * @throws Error listing what is missing and saying to run the build.
 */
export const locateBuildOutput = (distDir: string): BuildOutput => {
  const output: BuildOutput = {
    prepare: join(distDir, BuildLayout.PREPARE),
    generate: join(distDir, BuildLayout.GENERATE),
    layer: join(distDir, BuildLayout.LAYER),
  };
  const problems: string[] = [];
  for (const dir of [output.prepare, output.generate]) {
    if (!isDirectory(dir)) {
      problems.push(`${dir} does not exist`);
    } else if (!HANDLER_FILES.some((file) => existsSync(join(dir, file)))) {
      problems.push(`${dir} holds none of ${HANDLER_FILES.join(', ')}`);
    }
  }
  if (!isDirectory(output.layer)) {
    problems.push(`${output.layer} does not exist`);
  } else if (!existsSync(join(output.layer, LAYER_MARKER))) {
    problems.push(`${output.layer} holds no ${LAYER_MARKER}`);
  }
  if (problems.length > 0) {
    throw new Error(`Build output in ${distDir} is incomplete: ${problems.join('; ')}. Run npm run build first.`);
  }
  return Object.freeze(output);
};
