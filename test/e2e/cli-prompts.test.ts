/**
 * Prompts through the real `aws` CLI and through `npm run upload`, against the local
 * pipeline (S3 and SQS on one local endpoint, the function bundles, the Bedrock stand-in):
 * a prompt with a comma, an accent, a dash and a CJK character must reach the manifest exactly.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { exec, execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { outputKeys } from '../../functions/core/naming';
import { decodeRfc2047 } from '../../functions/core/rfc2047';
import { ROOT } from '../../scripts/build-functions';
import { awsS3CpCommand } from '../../scripts/cli/aws-command';
import { startLocalPipeline, type LocalPipeline } from '../../scripts/local/pipeline';
import { localPathInside } from '../../scripts/local/local-path';
import { ensureBuilt } from '../helpers/build';
import { PHOTOS_DIR } from '../helpers/photos';

const TIGER = 'un tigre, dessiné à la main — 虎';

describe('prompts through the aws CLI and npm run upload, intact to the manifest', function () {
  this.timeout(180_000);
  let pipeline: LocalPipeline;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    await ensureBuilt();
    work = await mkdtemp(join(tmpdir(), 'icp-cli-prompts-'));
    pipeline = await startLocalPipeline({ root: ROOT, workDir: join(work, 'local') });
    // The user's own AWS configuration must not take part.
    env = { ...process.env, ...pipeline.cliEnv, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
  });
  after(async () => {
    await pipeline?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('the printed aws s3 cp line (JSON --metadata, encoded word) uploads, and the metadata decodes to exactly the prompt', async () => {
    const file = join(work, "tiger's photo.jpg");
    await copyFile(join(PHOTOS_DIR, 'rocket.jpg'), file);
    const line = awsS3CpCommand({ file, bucket: pipeline.buckets.input, key: 'cli/tiger.jpg', metadata: { prompt: TIGER, 'negative-prompt': 'blur, "noise"' }, endpoint: pipeline.s3.endpoint });
    // As a user pastes it: through a shell. Asynchronously: the S3 server runs in this process.
    await promisify(exec)(line, { env, shell: '/bin/sh' });

    const head = await pipeline.client.send(new HeadObjectCommand({ Bucket: pipeline.buckets.input, Key: 'cli/tiger.jpg' }));
    expect(head.Metadata!.prompt).to.match(/^=\?UTF-8\?[BQ]\?/);
    expect(decodeRfc2047(head.Metadata!.prompt!)).to.equal(TIGER);
    expect(head.Metadata!['negative-prompt']).to.equal('blur, "noise"');

    const outcome = await pipeline.waitForOutcome('cli/tiger.jpg', 90_000);
    expect(outcome.error).to.equal(undefined);
    expect(outcome.manifest.prompt).to.equal(TIGER);
    expect(outcome.manifest.negativePrompt).to.equal('blur, "noise"');
  });

  it("the forms the README warns against fail: the CLI's shorthand splits at the comma, and aws-cli 1.x refuses non-ASCII", async () => {
    const cp = (metadata: string) =>
      promisify(execFile)('aws', ['--endpoint-url', pipeline.s3.endpoint, 's3', 'cp', join(PHOTOS_DIR, 'rocket.jpg'), `s3://${pipeline.buckets.input}/cli/refused.jpg`, '--metadata', metadata], { env }).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
    expect(await cp('prompt=a tiger, drawn by hand')).to.include("Invalid type for parameter prompt, value: ['a tiger', 'drawn by hand']");
    expect(await cp('prompt=dessiné')).to.include('S3 metadata can only contain ASCII characters');
  });

  it('npm run upload --wait carries the prompt through the whole pipeline into the manifest, and writes the gallery', async () => {
    const photos = join(work, 'photos');
    await mkdir(photos);
    await copyFile(join(PHOTOS_DIR, 'chelsea.png'), join(photos, 'chelsea.png'));
    const out = join(work, 'out');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'scripts', 'upload.ts'), photos, '--prompt', TIGER, '--metadata', 'seed=7', '--endpoint', pipeline.s3.endpoint, '--wait', '--out', out],
      { cwd: ROOT, env, timeout: 120_000 },
    );
    expect(stdout).to.match(/^✓ photos\/chelsea\.png → 1 image\(s\)/m);
    const manifest = JSON.parse(await readFile(localPathInside(out, outputKeys('photos/chelsea.png').manifest), 'utf8'));
    expect(manifest.prompt).to.equal(TIGER);
    expect(manifest.parameters.seeds).to.deep.equal([7]);
    expect(await readFile(join(out, 'index.html'), 'utf8')).to.include('un tigre, dessiné à la main — 虎');

    // And npm run status sees it.
    const status = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'status.ts'), '--endpoint', pipeline.s3.endpoint, '--since', '1h'], { cwd: ROOT, env });
    expect(status.stdout).to.match(/^ {2}succeeded +2$/m);
    expect(status.stdout).to.match(/^ {2}prepare +waiting 0 · in progress 0$/m);
  });
});
