/** `npm run upload`'s refusals, before anything reaches S3. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/build-functions';

const upload = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'upload.ts'), ...args], { cwd: ROOT, timeout: 30_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('npm run upload (scripts/upload.ts): refusals', function () {
  this.timeout(60_000);

  it("refuses a prompt over S3's 2 KB of metadata, naming the file and the limit, before uploading anything", async () => {
    // An unreachable endpoint: the refusal must come first.
    const result = await upload(['assets/original.jpg', '--prompt', 'a'.repeat(2100), '--input-bucket', 'in', '--output-bucket', 'out', '--endpoint', 'http://127.0.0.1:9']);
    expect(result.code).to.equal(2);
    expect(result.stderr.trim()).to.equal(
      "assets/original.jpg: its metadata is 2,106 bytes, over S3's limit of 2,048 bytes (2 KB) per object (names plus values); shorten the prompt, or deploy it as the default prompt (Terraform variable default_prompt)",
    );
  });

  it('prints its usage, and refuses to run with nothing to upload', async () => {
    expect((await upload(['--help'])).stdout).to.match(/^usage: npm run upload -- <photos or folders>\.\.\. --prompt/);
    const none = await upload(['--prompt', 'x']);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.include('Name at least one photo or folder.');
    const missing = await upload(['no-such-photo.jpg', '--prompt', 'x']);
    expect(missing.code).to.equal(2);
    expect(missing.stdout).to.include('skipped no-such-photo.jpg: no such file or folder');
  });
});
