// Builds dist/layer, the Lambda layer holding sharp for linux-arm64 (glibc), without Docker:
//   npx tsx scripts/build-layer.ts
// sharp ships prebuilt binaries per platform as optional packages (@img/sharp-<platform>,
// @img/sharp-libvips-<platform>), so npm can install the arm64 ones on any host when told
// the target's os/cpu/libc. The version is the one pinned in package.json, so the layer and
// the local tests use the same sharp. A stamp file makes a repeated build a no-op.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalidParameterMessage } from '../functions/core/is.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAYER_DIR = join(REPO_ROOT, 'dist', 'layer');
/** Outside `nodejs/`, so the Node runtime never sees it; Lambda ignores other files in /opt. */
const STAMP_FILE = 'build-stamp.json';

/** The Lambda target: the `arm64` architecture of the functions, on Amazon Linux (glibc). */
const TARGET = { os: 'linux', cpu: 'arm64', libc: 'glibc' } as const;
const NATIVE_PACKAGES = ['@img/sharp-linux-arm64', '@img/sharp-libvips-linux-arm64'] as const;

interface Stamp {
  readonly sharp: string;
  readonly os: string;
  readonly cpu: string;
  readonly libc: string;
}

const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

const pinnedSharpVersion = (): string => {
  const pkg = readJson(join(REPO_ROOT, 'package.json'));
  const version = (pkg.dependencies as Record<string, unknown> | undefined)?.sharp;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+$/.test(version)) {
    // A range would let the layer drift from the sharp the tests ran against.
    throw new Error(invalidParameterMessage('dependencies.sharp in package.json', 'an exact version such as 0.35.5', version));
  }
  return version;
};

/** Problems with the layer rooted at `root` (empty when it holds sharp `version` with its arm64 binaries). */
const layerProblems = (root: string, version: string): string[] => {
  const modules = join(root, 'nodejs', 'node_modules');
  const sharpManifest = join(modules, 'sharp', 'package.json');
  if (!existsSync(sharpManifest)) {
    return [`${sharpManifest} is missing`];
  }
  const sharp = readJson(sharpManifest);
  if (sharp.version !== version) {
    return [`sharp is ${String(sharp.version)}, expected ${version}`];
  }
  const wanted = (sharp.optionalDependencies ?? {}) as Record<string, string>;
  const problems: string[] = [];
  for (const name of NATIVE_PACKAGES) {
    const manifest = join(modules, name, 'package.json');
    if (!existsSync(manifest)) {
      problems.push(`${name} is missing`);
    } else if (readJson(manifest).version !== wanted[name]) {
      problems.push(`${name} is ${String(readJson(manifest).version)}, sharp ${version} wants ${wanted[name]}`);
    }
  }
  return problems;
};

const isUpToDate = (version: string): boolean => {
  const stampPath = join(LAYER_DIR, STAMP_FILE);
  if (!existsSync(stampPath)) {
    return false;
  }
  const stamp = readJson(stampPath);
  const expected: Stamp = { sharp: version, ...TARGET };
  const sameBuild = Object.entries(expected).every(([key, value]) => stamp[key] === value);
  return sameBuild && layerProblems(LAYER_DIR, version).length === 0;
};

const install = (root: string, version: string): void => {
  const prefix = join(root, 'nodejs');
  mkdirSync(prefix, { recursive: true });
  const args = [
    'install',
    '--prefix', prefix,
    `--os=${TARGET.os}`,
    `--cpu=${TARGET.cpu}`,
    `--libc=${TARGET.libc}`,
    // Scripts would run on this host, not on the target; sharp needs none with prebuilt binaries.
    '--ignore-scripts',
    '--no-bin-links',
    '--omit=dev',
    '--no-save',
    '--no-package-lock',
    '--no-audit',
    '--no-fund',
    `sharp@${version}`,
  ];
  const result = spawnSync('npm', args, { stdio: 'inherit' });
  if (result.error) {
    throw new Error(`Could not run npm: ${result.error.message}`, { cause: result.error });
  }
  if (result.status !== 0) {
    throw new Error(`npm install sharp@${version} for ${TARGET.os}-${TARGET.cpu} (${TARGET.libc}) exited with ${result.status}`);
  }
  // npm's hidden lockfile records the registry URL: machine-specific and useless in Lambda,
  // and it would make the layer's content (and hash) differ between machines.
  rmSync(join(prefix, 'node_modules', '.package-lock.json'), { force: true });
};

/** Replaces dist/layer with `root` (a rename when on the same filesystem, else a copy). */
const publish = (root: string): void => {
  rmSync(LAYER_DIR, { recursive: true, force: true });
  mkdirSync(join(LAYER_DIR, '..'), { recursive: true });
  try {
    renameSync(root, LAYER_DIR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') {
      throw error;
    }
    cpSync(root, LAYER_DIR, { recursive: true });
  }
};

const main = (): void => {
  const version = pinnedSharpVersion();
  const target = `sharp ${version} for ${TARGET.os}-${TARGET.cpu} (${TARGET.libc})`;
  if (isUpToDate(version)) {
    console.log(`${LAYER_DIR} already holds ${target}`);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'icp-layer-'));
  try {
    // mkdtemp makes the directory private (0700); renamed into place and zipped, it
    // would become an /opt directory the function's runtime user cannot read.
    chmodSync(root, 0o755);
    install(root, version);
    const problems = layerProblems(root, version);
    if (problems.length > 0) {
      throw new Error(`The installed layer is incomplete: ${problems.join('; ')}`);
    }
    const stamp: Stamp = { sharp: version, ...TARGET };
    writeFileSync(join(root, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
    publish(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`Built ${LAYER_DIR} with ${target}`);
};

try {
  main();
} catch (error) {
  console.error(`build-layer failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
