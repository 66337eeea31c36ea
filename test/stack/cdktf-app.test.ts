/**
 * `cdktf deploy` runs cdktf.json's `app` command as it is and deploys what it
 * synthesizes: the command must build the function bundles itself, or a deploy
 * after a code change would ship the old code. Run here exactly as the CLI runs
 * it: through a shell, in the project folder, with CDKTF_OUTDIR set.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../scripts/build-functions';

describe('cdktf.json: the app the cdktf CLI runs', function () {
  this.timeout(180_000);

  const cdktf = JSON.parse(readFileSync(join(ROOT, 'cdktf.json'), 'utf8')) as { app: string; projectId?: string };

  it('carries a projectId, so the CLI does not rewrite cdktf.json on first use', () => {
    expect(cdktf.projectId).to.be.a('string').and.not.equal('');
  });

  it('builds the bundles it packages, then synthesizes into CDKTF_OUTDIR', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'icp-cdktf-app-'));
    try {
      const started = Date.now();
      execFileSync('sh', ['-c', cdktf.app], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: outdir }, stdio: 'pipe' });

      for (const name of ['prepare', 'generate']) {
        const bundle = statSync(join(ROOT, 'dist', 'functions', name, 'index.js'));
        expect(bundle.mtimeMs, `${name} bundle rebuilt by the app command`).to.be.at.least(started - 1000);
      }
      const stack = JSON.parse(readFileSync(join(outdir, 'stacks', 'image-conditioning-pipeline', 'cdk.tf.json'), 'utf8'));
      expect(Object.keys(stack.resource.aws_lambda_function)).to.have.members(['prepare', 'generate']);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
