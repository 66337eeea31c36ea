/** `npm run status` after a mixed batch on the local pipeline, and how it finds a deployed stack. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/build-functions';
import { runBatch } from '../../scripts/cli/batch';
import { buildMetadata } from '../../scripts/cli/metadata';
import { findPhotos } from '../../scripts/cli/photos';
import { resolveTarget } from '../../scripts/cli/target';
import { assignKeys } from '../../scripts/cli/upload-key';
import { startLocalPipeline, type LocalPipeline } from '../../scripts/local/pipeline';
import { ensureBuilt } from '../helpers/build';
import { PHOTOS_DIR } from '../helpers/photos';

describe('npm run status (scripts/status.ts)', function () {
  this.timeout(180_000);

  describe('after a mixed batch on the local pipeline', () => {
    let pipeline: LocalPipeline;
    let work: string;
    before(async () => {
      await ensureBuilt();
      work = await mkdtemp(join(tmpdir(), 'icp-status-'));
      pipeline = await startLocalPipeline({ root: ROOT, workDir: join(work, 'local') });
    });
    after(async () => {
      await pipeline?.close();
      await rm(work, { recursive: true, force: true });
    });

    it('counts done and failed by reason, the model calls and spend, and lists the latest failures with their messages', async () => {
      const photos = join(work, 'mixed');
      await mkdir(photos);
      await copyFile(join(PHOTOS_DIR, 'rocket.jpg'), join(photos, 'rocket.jpg'));
      await copyFile(join(PHOTOS_DIR, 'coffee.png'), join(photos, 'coffee.png'));
      await writeFile(join(photos, 'notes.txt'), 'not a photo');
      const blocked = join(work, 'blocked.png');
      await copyFile(join(PHOTOS_DIR, 'chelsea.png'), blocked);
      const quiet = { isTTY: false, write: () => true };
      const batch = async (paths: string[], prompt: string) => {
        const { keyed } = assignKeys((await findPhotos(paths)).photos);
        return runBatch({ s3: pipeline.client, buckets: pipeline.buckets, photos: keyed, metadata: buildMetadata(prompt), pollMs: 100, stream: quiet });
      };
      await batch([photos], 'a tiger, drawn by hand');
      // The stand-in blocks this prompt as a content filter would.
      await batch([blocked], 'standin-blocked');

      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'status.ts'), '--endpoint', pipeline.s3.endpoint, '--since', '1h'], { cwd: ROOT });
      expect(stdout).to.match(/^ {2}prepare +waiting 0 · in progress 0$/m);
      expect(stdout).to.match(/^ {2}generate +waiting 0 · in progress 0$/m);
      expect(stdout).to.match(/^ {2}dead-letter +0$/m);
      expect(stdout).to.match(/^ {2}succeeded +2$/m);
      expect(stdout).to.match(/^ {2}failed: CONTENT_FILTERED +1$/m);
      expect(stdout).to.match(/^ {2}failed: UNSUPPORTED_FORMAT +1$/m);
      expect(stdout).to.match(/^ {2}total +4 \(2 images\)$/m);
      expect(stdout).to.match(/^ {2}estimated spend +\$0\.14 \(2 answered by a stand-in: not billed\)$/m);
      const failures = stdout.slice(stdout.indexOf('most recent failures'));
      expect(failures).to.match(/ blocked\.png\n {4}CONTENT_FILTERED: /);
      expect(failures).to.match(/ mixed\/notes\.txt\n {4}UNSUPPORTED_FORMAT: Expected one of: jpeg, png, webp/);
      // The newest first.
      expect(failures.indexOf('blocked.png')).to.be.below(failures.indexOf('notes.txt'));

      const none = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'status.ts'), '--endpoint', pipeline.s3.endpoint, '--since', '2999-01-01'], { cwd: ROOT });
      expect(none.stdout).to.include('outcomes published since 2999-01-01 00:00:00 UTC\n  none');
    });
  });

  it("finds a deployed stack's buckets and queues in the Terraform outputs, and the region in the queue URLs", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'icp-fake-terraform-'));
    const fake = join(dir, 'terraform');
    const outputs = {
      input_bucket_name: { value: 'icp-input-abc' },
      output_bucket_name: { value: 'icp-output-abc' },
      staging_bucket_name: { value: 'icp-staging-abc' },
      prepare_queue_url: { value: 'https://sqs.us-west-2.amazonaws.com/123456789012/icp-prepare' },
      generate_queue_url: { value: 'https://sqs.us-west-2.amazonaws.com/123456789012/icp-generate' },
      dead_letter_queue_url: { value: 'https://sqs.us-west-2.amazonaws.com/123456789012/icp-dead-letters' },
    };
    await writeFile(join(dir, 'outputs.json'), JSON.stringify(outputs));
    await writeFile(fake, `#!/bin/sh\n[ "$2" = output ] && [ "$3" = -json ] && exec cat ${JSON.stringify(join(dir, 'outputs.json'))}\nexit 1\n`);
    await chmod(fake, 0o755);
    const saved = process.env.TERRAFORM_BINARY_NAME;
    process.env.TERRAFORM_BINARY_NAME = fake;
    try {
      const target = await resolveTarget({});
      expect(target.buckets).to.deep.equal({ input: 'icp-input-abc', staging: 'icp-staging-abc', output: 'icp-output-abc' });
      expect(target.queues.deadLetter).to.equal(outputs.dead_letter_queue_url.value);
      expect(await target.sqs.config.region()).to.equal('us-west-2');
      target.close();
      process.env.TERRAFORM_BINARY_NAME = join(dir, 'missing');
      await resolveTarget({}).then(
        () => expect.fail('no outputs'),
        (error: Error) => expect(error.message).to.match(/^Could not read the Terraform outputs in .*Deploy first \(npm run deploy\)/),
      );
    } finally {
      if (saved === undefined) delete process.env.TERRAFORM_BINARY_NAME;
      else process.env.TERRAFORM_BINARY_NAME = saved;
      await rm(dir, { recursive: true, force: true });
    }
    expect(await readFile(join(ROOT, 'package.json'), 'utf8')).to.include('"status": "tsx scripts/status.ts"');
  });
});
