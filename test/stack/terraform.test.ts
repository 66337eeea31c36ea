import { expect } from 'chai';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createWorkdir, findProviderMirror, offlineProvider, pinnedProviderVersion, terraformPlatform, type Workdir } from '../../scripts/terraform-cli.js';
import { REAL_STACK_DIR } from './helpers.js';

// The real terraform binary on the stack `npm run synth` wrote (npm test synthesizes
// first), in a temporary copy whose override file moves the state into the copy and
// gives the provider dummy credentials and closed endpoints: nothing reaches AWS.
// The plan runs as `terraform test` (test/stack/terraform/plan.tftest.hcl), which
// overrides the one data source that would call AWS and asserts on the planned values.

const STACK_JSON = join(REAL_STACK_DIR, 'cdk.tf.json');
const PLAN_TESTS = new URL('./terraform/plan.tftest.hcl', import.meta.url);

describe('terraform (offline: init from the provider mirror, validate, plan)', function () {
  this.timeout(120_000);
  let workdir: Workdir;
  let stateFile: string;
  let stateBefore: number | undefined;

  before(async function () {
    if (!existsSync(STACK_JSON)) {
      throw new Error(`${STACK_JSON} does not exist: run npm run synth first (npm test does).`);
    }
    stateFile = (JSON.parse(readFileSync(STACK_JSON, 'utf8')) as { terraform: { backend: { local: { path: string } } } }).terraform.backend.local.path;
    stateBefore = existsSync(stateFile) ? statSync(stateFile).mtimeMs : undefined;
    const mirrorRoot = findProviderMirror(pinnedProviderVersion(STACK_JSON));
    workdir = createWorkdir({
      stackDir: REAL_STACK_DIR,
      mirrorRoot,
      provider: offlineProvider(),
      files: { 'plan.tftest.hcl': readFileSync(PLAN_TESTS, 'utf8') },
    });
    await workdir.terraform(['init', '-input=false', '-no-color']);
  });

  after(() => {
    workdir?.remove();
  });

  it('installs the pinned hashicorp/aws from the mirror and locks it', () => {
    const lock = readFileSync(join(workdir.dir, '.terraform.lock.hcl'), 'utf8');
    expect(lock).to.include('provider "registry.terraform.io/hashicorp/aws"');
    expect(lock).to.include(`version     = "${pinnedProviderVersion(STACK_JSON)}"`);
  });

  it('validates', async () => {
    const { stdout } = await workdir.terraform(['validate', '-no-color']);
    expect(stdout).to.include('Success! The configuration is valid.');
  });

  it('plans with the default variables, with a KMS key and alarm e-mail, and rejects bad values (terraform test)', async () => {
    const result = await workdir.terraform(['test', '-no-color'], { okExitCodes: [0, 1] });
    const report = `${result.stdout}\n${result.stderr}`;
    expect(result.exitCode, report).to.equal(0);
    for (const run of ['defaults', 'kms_key_and_alarm_email', 'rejects_bad_values']) {
      expect(report).to.include(`run "${run}"... pass`);
    }
  });

  it('never touches the state file users deploy with', () => {
    expect(existsSync(stateFile) ? statSync(stateFile).mtimeMs : undefined).to.equal(stateBefore);
    const override = JSON.parse(readFileSync(join(workdir.dir, 'override.tf.json'), 'utf8')) as { terraform: { backend: { local: { path: string } } } };
    expect(override.terraform.backend.local.path).to.equal(workdir.stateFile);
  });
});

describe('findProviderMirror', () => {
  it('names every place it looked when no mirror holds the provider', () => {
    expect(() => findProviderMirror('0.0.1', ['/nonexistent/a', '/nonexistent/b'])).to.throw(
      Error,
      `No Terraform provider mirror holds registry.terraform.io/hashicorp/aws/0.0.1/${terraformPlatform()}. ` +
        'Looked in: /nonexistent/a, /nonexistent/b. Set TF_PROVIDER_MIRROR to the directory that contains registry.terraform.io/.',
    );
  });
});
