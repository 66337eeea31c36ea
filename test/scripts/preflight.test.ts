/**
 * `npm run preflight` through the real @aws-sdk/client-bedrock (default HTTP/1.1 handler,
 * SigV4 signing, error deserialisation) against the local control-plane stand-in: in process
 * for the report, and as the command line for the exit codes and the spend ceiling it prints.
 */
import { BedrockClient } from '@aws-sdk/client-bedrock';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/build-functions';
import { startBedrockControlStandIn, type ControlStandIn, type ControlStandInOptions } from '../../scripts/local/bedrock-control-standin';
import { readTerraformVars, resolveSpend, runPreflight, stackDefaults, type SpendSettings } from '../../scripts/preflight';
import { DEFAULT_SYNTH_CONFIG } from '../../terraform/synth-config';

const SKETCH = 'us.stability.stable-image-control-sketch-v1:0';
const STRUCTURE = 'us.stability.stable-image-control-structure-v1:0';
const TITAN = 'amazon.titan-image-generator-v2:0';
const NOVA = 'amazon.nova-canvas-v1:0';
const CREDENTIALS = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'standin-secret' };

const run = promisify(execFile);

describe('scripts/preflight through the SDK and the control-plane stand-in', function () {
  this.timeout(60_000);
  const standIns: { close(): Promise<void> }[] = [];

  const start = async (options: ControlStandInOptions = {}): Promise<ControlStandIn> => {
    const standIn = await startBedrockControlStandIn(options);
    standIns.push(standIn);
    return standIn;
  };

  const preflight = async (standIn: ControlStandIn, modelId: string, region: string, extra: { now?: Date; allowLegacy?: boolean } = {}) => {
    const client = new BedrockClient({ region, endpoint: standIn.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });
    try {
      return await runPreflight({ modelId, region, client, ...extra });
    } finally {
      client.destroy();
    }
  };

  after(async () => {
    await Promise.all(standIns.map((s) => s.close()));
  });

  describe('in process', () => {
    it('ACTIVE: Control Sketch passes, after asking for the profile, the model and its availability in the region', async () => {
      // Arrange
      const standIn = await start();

      // Act
      const { verdict, report } = await preflight(standIn, SKETCH, 'us-east-2');

      // Assert
      expect(verdict.exitCode).to.equal(0);
      expect(report.split('\n')).to.deep.equal([
        'preflight: Stability AI Stable Image Control Sketch (us.stability.stable-image-control-sketch-v1:0) in us-east-2, $0.07 per image',
        '  ✓ region    offered in us-east-2 (catalogue: us-east-1, us-east-2, us-west-2)',
        '  ✓ profile   us.stability.stable-image-control-sketch-v1:0 ACTIVE, routes to us-east-1, us-east-2, us-west-2',
        '  ✓ lifecycle stability.stable-image-control-sketch-v1:0 is ACTIVE',
        '  ✓ access    these credentials may invoke stability.stable-image-control-sketch-v1:0: AUTHORIZED, entitlement AVAILABLE, agreement AVAILABLE',
        'preflight passed: us.stability.stable-image-control-sketch-v1:0 in us-east-2 answers',
      ]);
      expect(standIn.calls.map((c) => [c.method, c.path, c.region, c.status]).sort()).to.deep.equal(
        [
          ['GET', '/foundation-model-availability/stability.stable-image-control-sketch-v1%3A0', 'us-east-2', 200],
          ['GET', '/foundation-models/stability.stable-image-control-sketch-v1%3A0', 'us-east-2', 200],
          ['GET', '/inference-profiles/us.stability.stable-image-control-sketch-v1%3A0', 'us-east-2', 200],
        ].sort(),
      );
    });

    it('ACTIVE: reads the lifecycle dates the service sends', async () => {
      const standIn = await start({ foundationModels: { 'stability.stable-image-control-structure-v1:0': { lifecycle: { status: 'ACTIVE', startOfLifeTime: '2025-09-16T00:00:00Z' } } } });
      const { verdict } = await preflight(standIn, STRUCTURE, 'us-west-2');
      expect(verdict.exitCode).to.equal(0);
      expect(verdict.findings.find((f) => f.topic === 'lifecycle')!.message).to.equal('stability.stable-image-control-structure-v1:0 is ACTIVE (start of life 2025-09-16)');
    });

    it('LEGACY: Titan v2 before its end of life fails with its dates; --allow-legacy passes with a warning', async () => {
      const standIn = await start({ answerRetiredModels: true });
      const before = new Date('2026-04-01T00:00:00Z');
      const { verdict } = await preflight(standIn, TITAN, 'us-east-1', { now: before });
      expect(verdict.exitCode).to.equal(1);
      expect(verdict.findings.find((f) => f.topic === 'lifecycle')!.message).to.match(
        /^amazon\.titan-image-generator-v2:0 is LEGACY \(legacy 2025-12-30, end of life 2026-06-30\): Bedrock refuses Legacy models/,
      );
      const allowed = await preflight(standIn, TITAN, 'us-east-1', { now: before, allowLegacy: true });
      expect(allowed.verdict.exitCode).to.equal(0);
      expect(allowed.verdict.findings.map((f) => f.level)).to.deep.equal(['ok', 'warn', 'ok']);
    });

    it('end of life: LEGACY with a past end-of-life date fails', async () => {
      const standIn = await start({ answerRetiredModels: true });
      const { verdict } = await preflight(standIn, NOVA, 'ap-northeast-1', { now: new Date('2026-11-24T00:00:00Z') });
      expect(verdict.exitCode).to.equal(1);
      expect(verdict.findings.find((f) => f.topic === 'lifecycle')!.message).to.match(/^amazon\.nova-canvas-v1:0 reached end of life on 2026-09-30: /);
    });

    it('end of life: ResourceNotFoundException, as Bedrock answers today, fails', async () => {
      const standIn = await start();
      const { verdict, report } = await preflight(standIn, TITAN, 'us-west-2');
      expect(verdict.exitCode).to.equal(1);
      expect(report).to.include(
        '  ✗ lifecycle Bedrock does not know amazon.titan-image-generator-v2:0 in us-west-2 (ResourceNotFoundException: The foundation model amazon.titan-image-generator-v2:0 was not found in us-west-2.): it has reached end of life (end of life per the model card: 2026-06-30).',
      );
      expect(standIn.calls.filter((c) => c.operation === 'GetFoundationModel').map((c) => c.errorType)).to.deep.equal(['ResourceNotFoundException']);
    });

    it('not in region: Control Structure in eu-west-1 fails on the catalogue, the profile and the model', async () => {
      const standIn = await start();
      const { verdict } = await preflight(standIn, STRUCTURE, 'eu-west-1');
      expect(verdict.exitCode).to.equal(1);
      expect(verdict.findings.map((f) => `${f.topic}:${f.level}`)).to.deep.equal(['region:fail', 'profile:fail', 'lifecycle:fail', 'access:info']);
      expect(verdict.findings[0]!.message).to.equal(
        'us.stability.stable-image-control-structure-v1:0 is not offered in eu-west-1; it is offered in: us-east-1, us-east-2, us-west-2. Deploy to one of those (ICP_REGION=us-east-1 npm run deploy)',
      );
    });

    it('not in region: Bedrock\'s own regionAvailability NOT_AVAILABLE fails too', async () => {
      const standIn = await start({ availability: { 'stability.stable-image-control-sketch-v1:0': { regionAvailability: 'NOT_AVAILABLE' } } });
      const { verdict } = await preflight(standIn, SKETCH, 'us-west-2');
      expect(verdict.exitCode).to.equal(1);
      expect(verdict.findings.find((f) => f.topic === 'region')!.level).to.equal('fail');
    });

    it('access: a missing Marketplace agreement is a warning, not a failure', async () => {
      const standIn = await start({ availability: { 'stability.stable-image-control-sketch-v1:0': { agreementStatus: 'NOT_AVAILABLE' } } });
      const { verdict } = await preflight(standIn, SKETCH, 'us-east-1');
      expect(verdict.exitCode).to.equal(0);
      expect(verdict.findings.find((f) => f.topic === 'access')!.message).to.match(/^model agreement NOT_AVAILABLE\. The first call to a Stability model subscribes the account through AWS Marketplace/);
    });

    it('could not check: AccessDeniedException on the read calls exits 2', async () => {
      const denied = { error: { status: 403, type: 'AccessDeniedException', message: 'User is not authorized to perform: bedrock:GetFoundationModel' } };
      const standIn = await start({ foundationModels: { 'stability.stable-image-control-sketch-v1:0': denied }, inferenceProfiles: { [SKETCH]: denied } });
      const { verdict } = await preflight(standIn, SKETCH, 'us-east-1');
      expect(verdict.exitCode).to.equal(2);
      expect(verdict.findings.find((f) => f.topic === 'lifecycle')!.message).to.equal(
        "could not read the model's lifecycle (AccessDeniedException: User is not authorized to perform: bedrock:GetFoundationModel); these credentials need bedrock:GetFoundationModel in us-east-1",
      );
    });
  });

  describe('the spend ceiling, in process', () => {
    const DEFAULTS: SpendSettings = { callsInFlight: 4, callsInFlightSource: 'default', minCallSeconds: 5, minCallSecondsSource: 'default' };

    const check = async (modelId: string, spend: SpendSettings, region = 'us-east-1') => {
      const standIn = await start({ answerRetiredModels: true });
      const client = new BedrockClient({ region, endpoint: standIn.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });
      try {
        return await runPreflight({ modelId, region, client, spend, allowLegacy: true, now: new Date('2026-01-01T00:00:00Z') });
      } finally {
        client.destroy();
      }
    };
    const spendLine = (report: string): string => report.split('\n').find((line) => line.slice(4).startsWith('spend'))!;

    it('prints calls, images and dollars per hour for the defaults, after the Bedrock lines, without changing the verdict', async () => {
      const { verdict, report } = await check(SKETCH, DEFAULTS);
      expect(verdict.exitCode).to.equal(0);
      expect(spendLine(report)).to.equal(
        '  · spend     at most 2,880 model calls, 2,880 images, $201.60 per hour (max_model_calls_in_flight=4 (default), model_call_min_seconds=5 (default); 1 image(s) per call at $0.07)',
      );
      expect(report.split('\n').at(-2)).to.equal(spendLine(report));
    });

    it('counts every picture a Titan or Nova call may return', async () => {
      const { report } = await check(TITAN, { ...DEFAULTS, callsInFlight: 2, callsInFlightSource: '-var', minCallSeconds: 10, minCallSecondsSource: 'TF_VAR_model_call_min_seconds' });
      expect(spendLine(report)).to.equal(
        '  · spend     at most 720 model calls, 3,600 images, $36.00 per hour (max_model_calls_in_flight=2 (-var), model_call_min_seconds=10 (TF_VAR_model_call_min_seconds); 5 image(s) per call at $0.01)',
      );
    });

    it('warns that 0 s means no ceiling, and still passes', async () => {
      const { verdict, report } = await check(SKETCH, { ...DEFAULTS, minCallSeconds: 0, minCallSecondsSource: '-var' });
      expect(verdict.exitCode).to.equal(0);
      expect(spendLine(report)).to.equal(
        "  ! spend     max_model_calls_in_flight=4 (default), model_call_min_seconds=0 (-var): no pacing, so no ceiling on model calls or spend per hour; only the model's quota bounds it",
      );
    });
  });

  describe('where the spend settings come from', () => {
    const defaults = stackDefaults(DEFAULT_SYNTH_CONFIG);

    it("reads the defaults from the stack's variable declarations", () => {
      expect(defaults).to.deep.equal({ callsInFlight: 4, minCallSeconds: 5 });
    });

    it('reads -var, -var= and --var among terraform options, the last one winning, and -var-file names', () => {
      expect(
        readTerraformVars(['-var', 'max_model_calls_in_flight=2', '-auto-approve', '-var=name_prefix=a=b', '--var', 'max_model_calls_in_flight=8', '-var-file', 'x.tfvars', '-var-file=y.tfvars']),
      ).to.deep.equal({ vars: { max_model_calls_in_flight: '8', name_prefix: 'a=b' }, varFiles: ['x.tfvars', 'y.tfvars'] });
    });

    it('takes -var, else TF_VAR_*, else the default', () => {
      const env = { TF_VAR_max_model_calls_in_flight: '3', TF_VAR_model_call_min_seconds: '7' };
      expect(resolveSpend({ defaults })).to.deep.equal({ callsInFlight: 4, callsInFlightSource: 'default', minCallSeconds: 5, minCallSecondsSource: 'default' });
      expect(resolveSpend({ defaults, env })).to.deep.equal({
        callsInFlight: 3,
        callsInFlightSource: 'TF_VAR_max_model_calls_in_flight',
        minCallSeconds: 7,
        minCallSecondsSource: 'TF_VAR_model_call_min_seconds',
      });
      expect(resolveSpend({ defaults, env, terraformArgs: ['-var', 'max_model_calls_in_flight=20', '-var', 'model_call_min_seconds=0'] })).to.deep.equal({
        callsInFlight: 20,
        callsInFlightSource: '-var',
        minCallSeconds: 0,
        minCallSecondsSource: '-var',
      });
    });

    it('says that a -var-file is not read', () => {
      expect(resolveSpend({ defaults, terraformArgs: ['-var-file=prod.tfvars'] }).note).to.equal(
        '-var-file prod.tfvars not read: if it sets max_model_calls_in_flight or model_call_min_seconds, pass them with -var',
      );
    });

    it("refuses what the variables' validation refuses", () => {
      for (const bad of ['1', '1001', '2.5', '-2', 'four', '']) {
        expect(() => resolveSpend({ defaults, terraformArgs: ['-var', `max_model_calls_in_flight=${bad}`] }), bad).to.throw(
          RangeError,
          /^max_model_calls_in_flight must be an integer between 2 and 1000 but received .* \(-var\)$/,
        );
      }
      expect(() => resolveSpend({ defaults, env: { TF_VAR_model_call_min_seconds: '61' } })).to.throw(
        RangeError,
        'model_call_min_seconds must be an integer between 0 and 60 but received "61" (TF_VAR_model_call_min_seconds)',
      );
    });
  });

  describe('the command line (AWS_ENDPOINT_URL_BEDROCK, default credential chain, exit codes)', () => {
    let standIn: ControlStandIn;

    before(async () => {
      standIn = await start();
    });

    const cli = async (
      args: string[],
      env: Record<string, string> = {},
      command: readonly string[] = [process.execPath, '--import', 'tsx', join(ROOT, 'scripts', 'preflight.ts')],
    ): Promise<{ code: number; stdout: string; stderr: string }> => {
      const childEnv: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL_BEDROCK: standIn.endpoint,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        // Keep the developer's own AWS configuration out of the test.
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      };
      try {
        const { stdout, stderr } = await run(command[0]!, [...command.slice(1), ...args], { cwd: ROOT, env: childEnv });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };

    it('exits 0 for an ACTIVE model in its region (--model, --region)', async () => {
      const { code, stdout } = await cli(['--model', SKETCH, '--region', 'us-west-2']);
      expect(code).to.equal(0);
      expect(stdout.trim().split('\n').at(-1)).to.equal('preflight passed: us.stability.stable-image-control-sketch-v1:0 in us-west-2 answers');
    });

    it('exits 1 for Titan v2 after end of life, chosen like the deploy chooses it (ICP_MODEL_ID, default region)', async () => {
      const { code, stdout } = await cli([], { ICP_MODEL_ID: TITAN });
      expect(code).to.equal(1);
      expect(stdout).to.include('preflight: Amazon Titan Image Generator v2 (amazon.titan-image-generator-v2:0) in us-east-1, $0.01 per image');
      expect(stdout.trim().split('\n').at(-1)).to.equal('preflight failed: amazon.titan-image-generator-v2:0 in us-east-1 cannot serve this deployment; see ✗ above');
    });

    it('exits 1 outside the model\'s regions (ICP_REGION)', async () => {
      const { code, stdout } = await cli(['--model', NOVA], { ICP_REGION: 'us-east-2' });
      expect(code).to.equal(1);
      expect(stdout).to.include('  ✗ region    amazon.nova-canvas-v1:0 is not offered in us-east-2;');
    });

    it('exits 2 for a model id the catalogue does not know, naming the allowed ones', async () => {
      const { code, stderr } = await cli(['--model', 'amazon.titan-image-generator-v1']);
      expect(code).to.equal(2);
      expect(stderr).to.include('preflight: Expected one of: us.stability.stable-image-control-sketch-v1:0, us.stability.stable-image-control-structure-v1:0, amazon.titan-image-generator-v2:0, amazon.nova-canvas-v1:0 for ICP_MODEL_ID but received "amazon.titan-image-generator-v1"');
    });

    it('exits 2 without credentials', async () => {
      const { code, stdout } = await cli(['--model', SKETCH], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
      expect(code).to.equal(2);
      expect(stdout).to.match(/\? lifecycle could not read the model's lifecycle \(CredentialsProviderError: .*\); no AWS credentials were found: sign in/);
      expect(stdout.trim().split('\n').at(-1)).to.equal('preflight could not check us.stability.stable-image-control-sketch-v1:0 in us-east-1; see ? above');
    });

    it('prints the spend ceiling of the defaults, of -var after -- (as npm run deploy passes it), and of TF_VAR_*', async () => {
      const defaults = await cli(['--model', SKETCH]);
      expect(defaults.code).to.equal(0);
      expect(defaults.stdout).to.include('  · spend     at most 2,880 model calls, 2,880 images, $201.60 per hour (max_model_calls_in_flight=4 (default), model_call_min_seconds=5 (default);');
      const viaVar = await cli(['--model', SKETCH, '--', '-var', 'alarm_email=a@b.co', '-var', 'max_model_calls_in_flight=10', '-auto-approve']);
      expect(viaVar.code).to.equal(0);
      expect(viaVar.stdout).to.include('at most 7,200 model calls, 7,200 images, $504.00 per hour (max_model_calls_in_flight=10 (-var), model_call_min_seconds=5 (default);');
      const viaEnv = await cli(['--model', SKETCH], { TF_VAR_model_call_min_seconds: '10' });
      expect(viaEnv.stdout).to.include('at most 1,440 model calls, 1,440 images, $100.80 per hour (max_model_calls_in_flight=4 (default), model_call_min_seconds=10 (TF_VAR_model_call_min_seconds);');
    });

    it('through npm exactly as scripts/deploy.ts runs it', async () => {
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const { code, stdout } = await cli(
        ['--silent', '--', '--', '-var', 'max_model_calls_in_flight=2', '-var', 'name_prefix=shop', '-auto-approve'],
        { ICP_MODEL_ID: SKETCH },
        [npm, 'run', 'preflight'],
      );
      expect(code).to.equal(0);
      expect(stdout).to.include('  · spend     at most 1,440 model calls, 1,440 images, $100.80 per hour (max_model_calls_in_flight=2 (-var), model_call_min_seconds=5 (default);');
    });

    it('exits 2 for a setting the stack would refuse, and for arguments before --', async () => {
      const bad = await cli(['--model', SKETCH, '--', '-var', 'max_model_calls_in_flight=1']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.include('preflight: max_model_calls_in_flight must be an integer between 2 and 1000 but received "1" (-var)');
      const stray = await cli(['--model', SKETCH, '-auto-approve']);
      expect(stray.code).to.equal(2);
      const positional = await cli(['apply']);
      expect(positional.code).to.equal(2);
      expect(positional.stderr).to.include('Unexpected argument "apply": terraform options go after --');
    });
  });
});
