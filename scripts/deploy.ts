/**
 * Deploys or destroys the stack in your AWS account:
 *   npm run deploy  [-- <terraform apply options>]    e.g. npm run deploy -- -var alarm_email=me@example.com
 *   npm run destroy [-- <terraform destroy options>]  e.g. npm run destroy -- -auto-approve
 *
 * What `cdktf deploy` / `cdktf destroy` do, without the cdktf CLI: build the
 * functions and the layer, synthesize (ICP_MODEL_ID / ICP_REGION pick model and
 * region), then `terraform init` and `terraform apply` (or `destroy`) in
 * cdktf.out/stacks/image-conditioning-pipeline, with the state kept in
 * terraform.image-conditioning-pipeline.tfstate at the repository root. The
 * cdktf CLI would run the same Terraform on the same JSON and state, but it is a
 * ~420 MB download on top of the Terraform binary it needs anyway. Both work on
 * the same state, so `npx --yes cdktf-cli@0.21.0 deploy` remains an alternative.
 *
 * Terraform asks for confirmation unless given -auto-approve. Credentials come
 * from the usual AWS sources (AWS_PROFILE, environment, SSO, ...).
 * `TERRAFORM_BINARY_NAME` selects another binary (e.g. tofu), as with cdktf.
 *
 * Before deploying, `npm run preflight` runs when package.json defines it;
 * `--skip-preflight` skips it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { terraformBinary } from './terraform-cli.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const STACK_DIR = join(REPO_ROOT, 'cdktf.out', 'stacks', 'image-conditioning-pipeline');

export const Mode = { DEPLOY: 'deploy', DESTROY: 'destroy' } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export interface DeployArguments {
  readonly mode: Mode;
  readonly skipPreflight: boolean;
  /** Passed on to `terraform apply` / `terraform destroy`. */
  readonly terraformArgs: readonly string[];
}

/**
 * Reads `deploy|destroy [--skip-preflight] [terraform options...]`.
 * @throws Error naming the allowed modes.
 */
export const parseArguments = (argv: readonly string[]): DeployArguments => {
  const [mode, ...rest] = argv;
  if (mode !== Mode.DEPLOY && mode !== Mode.DESTROY) {
    throw new Error(`Expected deploy or destroy as the first argument but received ${JSON.stringify(mode)}`);
  }
  return {
    mode,
    skipPreflight: rest.includes('--skip-preflight'),
    terraformArgs: rest.filter((arg) => arg !== '--skip-preflight'),
  };
};

const step = (what: string, command: string, args: readonly string[], cwd = REPO_ROOT): void => {
  console.log(`\n> ${what}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, [...args], { cwd, stdio: 'inherit' });
  if (result.error) {
    const hint = command === terraformBinary() ? ' Terraform 1.5 or later must be installed and on PATH.' : '';
    throw new Error(`Could not run ${command}: ${result.error.message}.${hint}`, { cause: result.error });
  }
  if (result.status !== 0) {
    throw new Error(`${what} failed (${command} exited with ${result.status ?? result.signal}).`);
  }
};

const hasNpmScript = (name: string): boolean => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return typeof pkg.scripts?.[name] === 'string';
};

export const main = (argv: readonly string[]): void => {
  const args = parseArguments(argv);
  const terraform = terraformBinary();
  if (args.mode === Mode.DEPLOY && !args.skipPreflight && hasNpmScript('preflight')) {
    try {
      // After `--`, the terraform options: preflight reads -var max_model_calls_in_flight / model_call_min_seconds from them (the spend ceiling).
      step('Preflight', 'npm', ['run', 'preflight', '--silent', '--', '--', ...args.terraformArgs]);
    } catch (error) {
      throw new Error(`${(error as Error).message} Fix what it reports, or deploy anyway with: npm run deploy -- --skip-preflight`, { cause: error });
    }
  }
  // Destroy synthesizes too: Terraform needs the configuration (and the zips it names) to plan the deletion.
  step('Build and synthesize', 'npm', ['run', 'synth', '--silent']);
  step('Terraform init', terraform, [`-chdir=${STACK_DIR}`, 'init', '-input=false']);
  step(args.mode === Mode.DEPLOY ? 'Terraform apply' : 'Terraform destroy', terraform, [
    `-chdir=${STACK_DIR}`,
    args.mode === Mode.DEPLOY ? 'apply' : 'destroy',
    ...args.terraformArgs,
  ]);
  if (args.mode === Mode.DEPLOY) {
    console.log('\nUpload a photo with the command in the upload_command output above. `npm run destroy` removes everything.');
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`\n${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
