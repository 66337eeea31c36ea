import { expect } from 'chai';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IntegerSettings } from '../../functions/core/settings.js';
import { spendCeiling } from '../../functions/core/spend.js';
import { createWorkdir, findProviderMirror, offlineProvider, pinnedProviderVersion, terraformPlatform, type Workdir } from '../../scripts/terraform-cli.js';
import { imagesPerCall } from '../../terraform/spend.js';
import { MAX_MODEL_CALLS_IN_FLIGHT_DEFAULT } from '../../terraform/variables.js';
import { REAL_STACK_DIR } from './helpers.js';

// The real terraform binary on the stack `npm run synth` wrote (npm test synthesizes
// first), in a temporary copy whose override file moves the state into the copy and
// gives the provider dummy credentials and closed endpoints: nothing reaches AWS.
// The plan runs as `terraform test` (test/stack/terraform/plan.tftest.hcl), which
// overrides the one data source that would call AWS and asserts on the planned values.

const STACK_JSON = join(REAL_STACK_DIR, 'cdk.tf.json');
const PLAN_TESTS = new URL('./terraform/plan.tftest.hcl', import.meta.url);

/** The settings the spend-ceiling outputs are planned with: the defaults, and two others. */
const CEILING_CASES = [
  { run: 'ceiling_defaults', inFlight: MAX_MODEL_CALLS_IN_FLIGHT_DEFAULT, minSeconds: IntegerSettings.MIN_MODEL_CALL_MS.default / 1000, variables: false },
  { run: 'ceiling_20_in_flight_7_s', inFlight: 20, minSeconds: 7, variables: true },
  { run: 'ceiling_1000_in_flight_1_s', inFlight: 1000, minSeconds: 1, variables: true },
] as const;

/**
 * A `terraform test` file asserting that the stack's max_*_per_hour outputs, as Terraform
 * computes them from its variables, equal spendCeiling() for the synthesized model.
 */
const ceilingTests = (modelId: string): string =>
  [
    'override_data {',
    '  target = data.aws_caller_identity.current',
    '  values = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/plan", user_id = "AIDAPLANPLANPLANPLAN" }',
    '}',
    ...CEILING_CASES.flatMap((c) => {
      const want = spendCeiling({ modelId, callsInFlight: c.inFlight, minCallMs: c.minSeconds * 1000, imagesPerCall: imagesPerCall(modelId) });
      return [
        `run "${c.run}" {`,
        '  command = plan',
        ...(c.variables ? ['  variables {', `    max_model_calls_in_flight = ${c.inFlight}`, `    model_call_min_seconds    = ${c.minSeconds}`, '  }'] : []),
        ...(
          [
            ['max_model_calls_per_hour', want.modelCallsPerHour],
            ['max_images_per_hour', want.imagesPerHour],
            ['max_usd_per_hour', want.usdPerHour],
          ] as const
        ).flatMap(([output, value]) => [
          '  assert {',
          `    condition     = output.${output} == ${value}`,
          `    error_message = "${output} is \${output.${output}}, spendCeiling() says ${value}"`,
          '  }',
        ]),
        '}',
      ];
    }),
  ].join('\n') + '\n';

describe('terraform (offline: init from the provider mirror, validate, plan)', function () {
  this.timeout(120_000);
  let workdir: Workdir;
  let stateFile: string;
  let stateBefore: number | undefined;
  let modelId: string;

  before(async function () {
    if (!existsSync(STACK_JSON)) {
      throw new Error(`${STACK_JSON} does not exist: run npm run synth first (npm test does).`);
    }
    stateFile = (JSON.parse(readFileSync(STACK_JSON, 'utf8')) as { terraform: { backend: { local: { path: string } } } }).terraform.backend.local.path;
    stateBefore = existsSync(stateFile) ? statSync(stateFile).mtimeMs : undefined;
    const mirrorRoot = findProviderMirror(pinnedProviderVersion(STACK_JSON));
    modelId = String((JSON.parse(readFileSync(STACK_JSON, 'utf8')) as { variable: { model_id: { default: string } } }).variable.model_id.default);
    workdir = createWorkdir({
      stackDir: REAL_STACK_DIR,
      mirrorRoot,
      provider: offlineProvider(),
      files: { 'plan.tftest.hcl': readFileSync(PLAN_TESTS, 'utf8'), 'ceiling.tftest.hcl': ceilingTests(modelId) },
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

  it('plans with the default variables, with a KMS key and alarm e-mail, with tracing and debug logs, and rejects bad values (terraform test)', async () => {
    const result = await workdir.terraform(['test', '-no-color'], { okExitCodes: [0, 1] });
    const report = `${result.stdout}\n${result.stderr}`;
    expect(result.exitCode, report).to.equal(0);
    for (const run of ['defaults', 'queues_follow_their_variables', 'kms_key_and_alarm_email', 'tracing_and_debug_logs', 'rejects_bad_values']) {
      expect(report).to.include(`run "${run}"... pass`);
    }
  });

  it('plans the spend-ceiling outputs equal to spendCeiling() for the synthesized model (terraform test)', async () => {
    const result = await workdir.terraform(['test', '-no-color', '-filter=ceiling.tftest.hcl'], { okExitCodes: [0, 1] });
    const report = `${result.stdout}\n${result.stderr}`;
    expect(result.exitCode, report).to.equal(0);
    for (const { run } of CEILING_CASES) {
      expect(report).to.include(`run "${run}"... pass`);
    }
    // For the default model and settings, the README's figures.
    if (modelId === 'us.stability.stable-image-control-sketch-v1:0') {
      expect(spendCeiling({ modelId, callsInFlight: 4, minCallMs: 5000, imagesPerCall: imagesPerCall(modelId) })).to.deep.equal({
        modelCallsPerHour: 2880,
        imagesPerHour: 2880,
        usdPerHour: 201.6,
      });
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
