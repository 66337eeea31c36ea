/**
 * Makes sure dist/ holds bundles built from the current sources, once per mocha
 * process: builds when a bundle or the local worker is missing, or when any
 * source under functions/ (or the worker's source) is newer than the bundles.
 * Tests never rely on a build made by hand.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildFunctions, FUNCTIONS, ROOT } from '../../scripts/build-functions';

const outputs = (): string[] => [
  ...FUNCTIONS.map((name) => join(ROOT, 'dist', 'functions', name, 'index.js')),
  join(ROOT, 'dist', 'local', 'lambda-worker.cjs'),
];

const newestSource = (dir: string): number => {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
};

const isStale = (): boolean => {
  const built = outputs();
  if (!built.every((path) => existsSync(path))) return true;
  const oldestOutput = Math.min(...built.map((path) => statSync(path).mtimeMs));
  const sources = Math.max(newestSource(join(ROOT, 'functions')), statSync(join(ROOT, 'scripts', 'local', 'lambda-worker.ts')).mtimeMs);
  return sources > oldestOutput;
};

let once: Promise<void> | undefined;

/** Builds dist/functions/* and dist/local/lambda-worker.cjs if they are missing or stale; at most once per process. */
export const ensureBuilt = (): Promise<void> => {
  once ??= (async () => {
    if (isStale()) await buildFunctions();
  })();
  return once;
};
