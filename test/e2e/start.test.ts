/** `npm start`'s runner as a user runs it: a child process, its printed paths, its exit code. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { outputKeys } from '../../functions/core/naming';
import { ROOT } from '../../scripts/build-functions';
import { localPathInside } from '../../scripts/local/local-path';

/** Where the runner copies the manifest of the default photo's folder (original.jpg/) under `out`. */
const manifestIn = (out: string): string => localPathInside(out, outputKeys('original.jpg').manifest);

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'local', 'run.ts'), ...args], { cwd: ROOT, timeout: 60_000 });

describe('npm start (scripts/local/run.ts)', function () {
  this.timeout(90_000);
  let out: string;
  beforeEach(async () => {
    out = await mkdtemp(join(tmpdir(), 'icp-start-'));
  });
  afterEach(() => rm(out, { recursive: true, force: true }));

  it('uploads assets/original.jpg and prints the paths of a generated PNG and its manifest within a minute', async () => {
    const started = Date.now();
    const { stdout } = await run(['--out', out]);

    const image = /image: +(\S+\.png)/.exec(stdout)?.[1];
    const manifest = /manifest: +(\S+manifest\.json)/.exec(stdout)?.[1];
    expect(image, stdout).to.be.a('string');
    expect(manifest, stdout).to.be.a('string');
    expect(existsSync(join(ROOT, image!)) || existsSync(image!), image).to.equal(true);
    expect(manifestIn(out)).to.equal(join(out, 'original.jpg', 'manifest.json'));
    expect(manifest, "the printed path (relative to the runner's working directory)").to.equal(relative(ROOT, manifestIn(out)) || manifestIn(out));
    const written = JSON.parse(await readFile(manifestIn(out), 'utf8'));
    expect(written.outcome).to.equal('succeeded');
    expect(written.prompt).to.equal('a tiger as a hand drawn sketch');
    expect(stdout).to.include('local Bedrock stand-in: no model was called');
    expect(Date.now() - started).to.be.below(60_000);
  });

  it('exits non-zero and prints the reason when the upload is refused', async () => {
    const error = await run(['--out', out, join(ROOT, 'README.md')]).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );

    expect(error?.code).to.equal(1);
    expect(error?.stdout).to.match(/✗ README\.md: UNSUPPORTED_FORMAT: Expected one of: jpeg, png, webp for s3:\/\/[^/]+\/README\.md but received data of no known image format/);
  });

  for (const model of [
    'us.stability.stable-image-control-sketch-v1:0',
    'us.stability.stable-image-control-structure-v1:0',
    'amazon.titan-image-generator-v2:0',
    'amazon.nova-canvas-v1:0',
  ]) {
    const retired = model.startsWith('amazon.');
    it(`runs end to end with --model ${model}${retired ? ' --answer-retired' : ''}`, async () => {
      const { stdout } = await run(['--out', out, '--model', model, ...(retired ? ['--answer-retired'] : [])]);

      expect(stdout).to.include(`1 image(s) from ${model}`);
      const manifest = JSON.parse(await readFile(manifestIn(out), 'utf8'));
      expect(manifest.model.id).to.equal(model);
      expect(manifest.outcome).to.equal('succeeded');
    });
  }

  it('answers a retired model as Bedrock does today: error.json MODEL_UNAVAILABLE, exit code 1', async () => {
    const error = await run(['--out', out, '--model', 'amazon.nova-canvas-v1:0']).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );

    expect(error?.code).to.equal(1);
    expect(error?.stdout).to.include('reached end of life on 2026-09-30');
    expect(error?.stdout).to.match(/✗ original\.jpg: MODEL_UNAVAILABLE: amazon\.nova-canvas-v1:0: ResourceNotFoundException/);
  });

  it('injects stand-in faults per run with --faults: a content-filter block ends as CONTENT_FILTERED', async () => {
    const error = await run(['--out', out, '--faults', '[{"kind":"content-filter"}]']).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );

    expect(error?.code).to.equal(1);
    expect(error?.stdout).to.match(/✗ original\.jpg: CONTENT_FILTERED: /);
  });
});
