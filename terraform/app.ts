import { App } from 'cdktf';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineStack, STACK_NAME } from './stack.js';
import type { SynthConfig } from './synth-config.js';

/** The repository root (this file lives in `terraform/`). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CreateAppOptions {
  /** Model and region, fixed at synth time. */
  readonly synth: SynthConfig;
  /**
   * Where `cdktf.out`-style output goes.
   * @default - `CDKTF_OUTDIR` when the cdktf CLI sets it, else `cdktf.out` in the working directory
   */
  readonly outdir?: string;
  /**
   * Build output to package (see `BuildLayout`).
   * @default `<repo>/dist`
   */
  readonly distDir?: string;
  /**
   * Local Terraform state file. Fixed to the repository root rather than left to
   * cdktf, which would use the working directory of whichever process synthesized.
   * @default `<repo>/terraform.image-conditioning-pipeline.tfstate`
   */
  readonly stateFile?: string;
}

/** The app with its one stack, ready for `synth()`. Shared by the cdktf entry point, the synth script and the tests. */
export const createApp = (options: CreateAppOptions): App => {
  const distDir = options.distDir ?? join(REPO_ROOT, 'dist');
  const stateFile = options.stateFile ?? join(REPO_ROOT, `terraform.${STACK_NAME}.tfstate`);
  // Stack traces in the JSON would change with every edit to unrelated lines.
  const app = new App({ outdir: options.outdir, stackTraces: false });
  new PipelineStack(app, STACK_NAME, { ...options.synth, distDir, stateFile });
  return app;
};

/** Path of the synthesized Terraform JSON under an app's outdir. */
export const stackJsonPath = (outdir: string): string => join(outdir, 'stacks', STACK_NAME, 'cdk.tf.json');
