/**
 * `npm run preflight` through the real @aws-sdk/client-bedrock and @aws-sdk/client-lambda
 * (default HTTP/1.1 handlers, SigV4 signing, error deserialisation) against the local
 * control-plane stand-ins: in process for the report, and as the command line for the exit codes.
 */
import { BedrockClient } from '@aws-sdk/client-bedrock';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/build-functions';
import { startBedrockControlStandIn, type ControlStandIn, type ControlStandInOptions } from '../../scripts/local/bedrock-control-standin';
import {
  accessDenied,
  startLambdaControlStandIn,
  type LambdaControlStandIn,
  type LambdaControlStandInOptions,
} from '../../scripts/local/lambda-control-standin';
import { readTerraformVars, resolveConcurrency, runPreflight, stackDefaults, type ConcurrencyRequest } from '../../scripts/preflight';
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

  const startLambda = async (options: LambdaControlStandInOptions = {}): Promise<LambdaControlStandIn> => {
    const standIn = await startLambdaControlStandIn(options);
    standIns.push(standIn);
    return standIn;
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

  describe('Lambda concurrency, in process (GetAccountSettings, GetFunctionConcurrency)', () => {
    let bedrock: ControlStandIn;
    const DEFAULT_REQUEST: ConcurrencyRequest = { reserved: 4, source: 'default', functionName: 'icp-generate' };

    before(async () => {
      bedrock = await start();
    });

    const check = async (lambda: LambdaControlStandIn, request: Partial<ConcurrencyRequest> = {}, region = 'us-east-1') => {
      const client = new BedrockClient({ region, endpoint: bedrock.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });
      const lambdaClient = new LambdaClient({ region, endpoint: lambda.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });
      try {
        return await runPreflight({ modelId: SKETCH, region, client, lambdaClient, concurrency: { ...DEFAULT_REQUEST, ...request } });
      } finally {
        client.destroy();
        lambdaClient.destroy();
      }
    };
    const lambdaLine = (report: string): string => report.split('\n').find((line) => line.startsWith('  ') && line.slice(4).startsWith('lambda'))!;

    it('enough headroom: passes, after asking for the account settings and the function in the region', async () => {
      const lambda = await startLambda({ functions: { 'someone-else': 50 } });
      const { verdict, report } = await check(lambda, {}, 'us-east-2');
      expect(verdict.exitCode).to.equal(0);
      expect(lambdaLine(report)).to.equal(
        "  ✓ lambda    generate_reserved_concurrency=4 (default) fits: the account's limit in us-east-2 is 1000, 950 unreserved; at least 100 must stay unreserved",
      );
      expect(report.split('\n').at(-1)).to.equal('preflight passed: us.stability.stable-image-control-sketch-v1:0 in us-east-2 answers');
      expect(lambda.calls.map((c) => [c.method, c.path, c.region, c.status, c.errorType]).sort()).to.deep.equal(
        [
          ['GET', '/2016-08-19/account-settings', 'us-east-2', 200, null],
          ['GET', '/2019-09-30/functions/icp-generate/concurrency', 'us-east-2', 404, 'ResourceNotFoundException'],
        ].sort(),
      );
    });

    it('account limit 10: exits 1 with the -1 advice', async () => {
      const lambda = await startLambda({ concurrentExecutions: 10 });
      const { verdict, report } = await check(lambda);
      expect(verdict.exitCode).to.equal(1);
      expect(lambdaLine(report)).to.equal(
        "  ✗ lambda    the account's Lambda concurrency limit in us-east-1 is 10: Lambda keeps at least min(100, limit) = 10 executions unreserved, so no function can reserve any, " +
          'and with generate_reserved_concurrency=4 (default) terraform apply would fail with InvalidParameterValueException. ' +
          "Deploy with -var generate_reserved_concurrency=-1 (npm run deploy -- -var generate_reserved_concurrency=-1) or request a higher concurrency quota (Service Quotas: Lambda 'Concurrent executions')",
      );
      expect(report.split('\n').at(-1)).to.equal(
        "preflight failed: the generate function's reserved concurrency does not fit this account's Lambda concurrency in us-east-1; see ✗ above",
      );
    });

    it('1000 with 950 reserved by other functions: exits 1', async () => {
      const lambda = await startLambda({ functions: { 'batch-a': 600, 'batch-b': 350 } });
      const { verdict } = await check(lambda);
      expect(verdict.exitCode).to.equal(1);
      expect(verdict.findings.find((f) => f.topic === 'lambda')!.message).to.match(
        /^generate_reserved_concurrency=4 \(default\) does not fit: the account's limit in us-east-1 is 1000, 50 unreserved, and Lambda keeps at least 100 unreserved, so at most 0 can be reserved; /,
      );
    });

    it("a redeploy: the function's own reservation is counted back", async () => {
      // 896 elsewhere + 4 of icp-generate's own: 100 unreserved, exactly the floor. Keeping 4 fits; a first deploy of 4 would not.
      const redeploy = await startLambda({ functions: { other: 896, 'icp-generate': 4 } });
      const kept = await check(redeploy);
      expect(kept.verdict.exitCode).to.equal(0);
      expect(kept.verdict.findings.find((f) => f.topic === 'lambda')!.message).to.include("100 unreserved, icp-generate's current 4 counted back");
      expect((await check(redeploy, { reserved: 8, source: '-var' })).verdict.exitCode).to.equal(1);
      const firstDeploy = await startLambda({ functions: { other: 900 } });
      expect((await check(firstDeploy)).verdict.exitCode).to.equal(1);
      // Deployed without a reservation ({} from GetFunctionConcurrency): nothing to count back.
      const unreserved = await startLambda({ functions: { other: 900, 'icp-generate': null } });
      expect((await check(unreserved)).verdict.exitCode).to.equal(1);
    });

    it('the function is <name_prefix>-generate', async () => {
      const lambda = await startLambda({ functions: { other: 896, 'shop-generate': 4 } });
      const { verdict } = await check(lambda, { functionName: 'shop-generate' });
      expect(verdict.exitCode).to.equal(0);
      expect(lambda.calls.map((c) => c.functionName).filter(Boolean)).to.deep.equal(['shop-generate']);
    });

    it('no permission (AccessDeniedException): a warning only, the Bedrock part decides', async () => {
      const lambda = await startLambda({
        concurrentExecutions: 10,
        errors: { GetAccountSettings: accessDenied('GetAccountSettings'), GetFunctionConcurrency: accessDenied('GetFunctionConcurrency') },
      });
      const { verdict, report } = await check(lambda);
      expect(verdict.exitCode).to.equal(0);
      expect(lambdaLine(report)).to.match(
        /^ {2}! lambda {4}not checked whether the account's Lambda concurrency in us-east-1 leaves room for generate_reserved_concurrency=4 \(default\) \(GetAccountSettings: AccessDeniedException: User: arn:aws:iam::123456789012:user\/standin is not authorized to perform: lambda:GetAccountSettings\); /,
      );
      expect(lambda.calls.map((c) => c.errorType)).to.deep.equal(['AccessDeniedException', 'AccessDeniedException']);
    });

    it('-1 (no reservation): asks Lambda nothing', async () => {
      const lambda = await startLambda({ concurrentExecutions: 10 });
      const { verdict } = await check(lambda, { reserved: -1, source: '-var' });
      expect(verdict.exitCode).to.equal(0);
      expect(lambda.calls).to.deep.equal([]);
    });
  });

  describe('where the reservation and the function name come from', () => {
    const defaults = stackDefaults(DEFAULT_SYNTH_CONFIG);

    it("reads the defaults from the stack's variable declarations", () => {
      expect(defaults).to.deep.equal({ reservedConcurrency: 4, namePrefix: 'icp' });
    });

    it('reads -var, -var= and --var among terraform options, the last one winning, and -var-file names', () => {
      expect(
        readTerraformVars(['-var', 'generate_reserved_concurrency=2', '-auto-approve', '-var=name_prefix=a=b', '--var', 'generate_reserved_concurrency=-1', '-var-file', 'x.tfvars', '-var-file=y.tfvars']),
      ).to.deep.equal({ vars: { generate_reserved_concurrency: '-1', name_prefix: 'a=b' }, varFiles: ['x.tfvars', 'y.tfvars'] });
    });

    it('takes the flag, else -var, else TF_VAR_*, else the default', () => {
      const env = { TF_VAR_generate_reserved_concurrency: '3', TF_VAR_name_prefix: 'env' };
      expect(resolveConcurrency({ defaults })).to.deep.equal({ reserved: 4, source: 'default', functionName: 'icp-generate' });
      expect(resolveConcurrency({ defaults, env })).to.deep.equal({ reserved: 3, source: 'TF_VAR_generate_reserved_concurrency', functionName: 'env-generate' });
      expect(resolveConcurrency({ defaults, env, terraformArgs: ['-var', 'generate_reserved_concurrency=-1', '-var', 'name_prefix=tf'] })).to.deep.equal({
        reserved: -1,
        source: '-var',
        functionName: 'tf-generate',
      });
      expect(resolveConcurrency({ defaults, env, reservedConcurrency: '10', namePrefix: 'flag', terraformArgs: ['-var', 'generate_reserved_concurrency=-1'] })).to.deep.equal({
        reserved: 10,
        source: '--reserved-concurrency',
        functionName: 'flag-generate',
      });
    });

    it('says that a -var-file is not read', () => {
      expect(resolveConcurrency({ defaults, terraformArgs: ['-var-file=prod.tfvars'] }).note).to.equal(
        '-var-file prod.tfvars not read: if it sets generate_reserved_concurrency or name_prefix, pass --reserved-concurrency=<n> / --name-prefix',
      );
    });

    it("refuses what the variable's validation refuses", () => {
      for (const bad of ['0', '1001', '2.5', '-2', 'four', '']) {
        expect(() => resolveConcurrency({ defaults, reservedConcurrency: bad }), bad).to.throw(RangeError, /must be -1 \(no reservation\) or an integer between 1 and 1000/);
      }
      expect(() => resolveConcurrency({ defaults, terraformArgs: ['-var', 'generate_reserved_concurrency=0'] })).to.throw(RangeError, 'but received "0" (-var)');
    });
  });

  describe('the command line (AWS_ENDPOINT_URL_BEDROCK, AWS_ENDPOINT_URL_LAMBDA, default credential chain, exit codes)', () => {
    let standIn: ControlStandIn;
    let lambda: LambdaControlStandIn;
    let smallAccount: LambdaControlStandIn;

    before(async () => {
      standIn = await start();
      lambda = await startLambda();
      smallAccount = await startLambda({ concurrentExecutions: 10 });
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
        AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
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

    it('exits 1 on an account whose concurrency limit is 10, with the -1 advice', async () => {
      const { code, stdout } = await cli(['--model', SKETCH], { AWS_ENDPOINT_URL_LAMBDA: smallAccount.endpoint });
      expect(code).to.equal(1);
      expect(stdout).to.include("  ✗ lambda    the account's Lambda concurrency limit in us-east-1 is 10: ");
      expect(stdout).to.include('Deploy with -var generate_reserved_concurrency=-1 (npm run deploy -- -var generate_reserved_concurrency=-1)');
    });

    it('reads -var generate_reserved_concurrency=-1 after -- (as npm run deploy passes it) and TF_VAR_generate_reserved_concurrency', async () => {
      const calls = smallAccount.calls.length;
      const viaVar = await cli(['--model', SKETCH, '--', '-var', 'alarm_email=a@b.co', '-var', 'generate_reserved_concurrency=-1', '-auto-approve'], { AWS_ENDPOINT_URL_LAMBDA: smallAccount.endpoint });
      expect(viaVar.code).to.equal(0);
      expect(viaVar.stdout).to.include('  ✓ lambda    generate_reserved_concurrency=-1 (-var): the deploy reserves no concurrency for icp-generate');
      const viaEnv = await cli(['--model', SKETCH], { AWS_ENDPOINT_URL_LAMBDA: smallAccount.endpoint, TF_VAR_generate_reserved_concurrency: '-1' });
      expect(viaEnv.code).to.equal(0);
      expect(smallAccount.calls.length).to.equal(calls);
    });

    it('through npm exactly as scripts/deploy.ts runs it', async () => {
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const { code, stdout } = await cli(
        ['--silent', '--', '--', '-var', 'generate_reserved_concurrency=2', '-var', 'name_prefix=shop', '-auto-approve'],
        { ICP_MODEL_ID: SKETCH },
        [npm, 'run', 'preflight'],
      );
      expect(code).to.equal(0);
      expect(stdout).to.include("  ✓ lambda    generate_reserved_concurrency=2 (-var) fits: the account's limit in us-east-1 is 1000, 1000 unreserved; at least 100 must stay unreserved");
      expect(lambda.calls.filter((c) => c.operation === 'GetFunctionConcurrency').at(-1)!.functionName).to.equal('shop-generate');
    });

    it('exits 2 for a reservation the stack would refuse, and for arguments before --', async () => {
      const bad = await cli(['--model', SKETCH, '--reserved-concurrency=0']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.include('preflight: generate_reserved_concurrency must be -1 (no reservation) or an integer between 1 and 1000 but received "0" (--reserved-concurrency)');
      const stray = await cli(['--model', SKETCH, '-auto-approve']);
      expect(stray.code).to.equal(2);
      const positional = await cli(['apply']);
      expect(positional.code).to.equal(2);
      expect(positional.stderr).to.include('Unexpected argument "apply": terraform options go after --');
    });
  });
});
