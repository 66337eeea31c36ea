/**
 * Deploys the synthesized stack to a local AWS emulator and removes it again:
 *   npm run rehearse            (synthesizes first; or: npx tsx scripts/rehearse.ts)
 *
 * 1. starts `moto_server` on 127.0.0.1 (a free port),
 * 2. copies cdktf.out/stacks/<stack> to a temporary directory with an override
 *    file pointing the provider at moto (dummy credentials, path-style S3) and
 *    the state into the copy: the stack users deploy is not changed,
 * 3. `terraform init` (from the offline provider mirror) and `terraform apply`,
 * 4. checks through the AWS SDK what was created (buckets, their versioning and
 *    lifecycle rules, notifications, functions, permissions, async-invoke
 *    configs, queue, alarm), the roles' policies as the emulator returned them to
 *    Terraform, and that a second plan finds nothing to change,
 * 5. `terraform destroy`, and checks that nothing is left,
 * and always stops moto by its PID.
 *
 * Moto cannot run the functions (that needs Docker); `npm start` runs them locally.
 * The apply takes about a minute, most of it the provider's own wait for the
 * staging and output buckets' lifecycle configurations to read back the same ten
 * times in a row (it does that against AWS too).
 */
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  GetPolicyCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListLayersCommand,
} from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  ListBucketsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkdir, emulatorProvider, findProviderMirror, pinnedProviderVersion, runningCommands, type Workdir } from './terraform-cli.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_STACK_DIR = join(REPO_ROOT, 'cdktf.out', 'stacks', 'image-conditioning-pipeline');

/** Moto's fixed account and the stack's default region. */
const ACCOUNT_ID = '123456789012';
const REGION = 'us-east-1';

export interface RehearsalOptions {
  /** @default cdktf.out/stacks/image-conditioning-pipeline */
  readonly stackDir?: string;
  /** Progress lines go here. @default console.log */
  readonly log?: (line: string) => void;
  /** @default 'moto_server' */
  readonly motoCommand?: string;
}

export interface RehearsalReport {
  readonly resourcesApplied: number;
  readonly resourcesDestroyed: number;
  readonly applySeconds: number;
  readonly destroySeconds: number;
  /** Names of the checks that passed. */
  readonly checks: readonly string[];
  /** Failed checks with their reasons; empty when everything was right. */
  readonly failures: readonly string[];
}

// ---------------------------------------------------------------- moto

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

interface Moto {
  readonly url: string;
  readonly pid: number;
  readonly stop: () => Promise<void>;
}

const running = new Set<ChildProcess>();
const workdirs = new Set<Workdir>();
// A rehearsal interrupted (Ctrl-C, a failed test run) must not leave moto, Terraform or the copy behind.
const killAll = (): void => {
  for (const child of runningCommands) child.kill('SIGTERM');
  for (const child of running) child.kill('SIGKILL');
  for (const workdir of workdirs) workdir.remove();
};
process.once('exit', killAll);

/** Starts moto_server on a free loopback port and waits until it answers. */
export const startMoto = async (command = 'moto_server'): Promise<Moto> => {
  const port = await freePort();
  const child = spawn(command, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Without a listener, a command that cannot be started would crash the process.
  child.once('error', () => undefined);
  if (child.pid === undefined) {
    throw new Error(`Could not start ${command}: is moto installed (pip install 'moto[server]') and moto_server on PATH?`);
  }
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  // Interrupted or terminated while moto runs: stop it, then exit as the signal would have.
  const onSignal = (signal: NodeJS.Signals): void => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stop = async (): Promise<void> => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (true) {
    if (child.exitCode !== null) {
      running.delete(child);
      throw new Error(`${command} exited with ${child.exitCode} before answering:\n${stderr}`);
    }
    try {
      const response = await fetch(`${url}/moto-api/`);
      if (response.ok) return { url, pid, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not answer on ${url} within 30 s:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

// ---------------------------------------------------------------- checks

class Checks {
  readonly passed: string[] = [];
  readonly failed: string[] = [];

  async run(name: string, body: () => Promise<void> | void): Promise<void> {
    try {
      await body();
      this.passed.push(name);
    } catch (error) {
      this.failed.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

const expectEqual = (actual: unknown, expected: unknown, what: string): void => {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`expected ${what} to be ${e} but it is ${a}`);
};

const notFound = async (call: () => Promise<unknown>): Promise<boolean> => {
  try {
    await call();
    return false;
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (/NotFound|NoSuch/.test(name)) return true;
    throw error;
  }
};

interface Outputs {
  readonly input_bucket_name: string;
  readonly staging_bucket_name: string;
  readonly output_bucket_name: string;
  readonly prepare_function_name: string;
  readonly generate_function_name: string;
  readonly dead_letter_queue_url: string;
  readonly upload_command: string;
}

interface Clients {
  readonly s3: S3Client;
  readonly lambda: LambdaClient;
  readonly sqs: SQSClient;
  readonly cloudwatch: CloudWatchClient;
}

const clientsFor = (url: string): Clients => {
  // The rehearsal runs on the development machine's Node 20; the SDK's notice about Node 22 is not news here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = { endpoint: url, region: REGION, credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' } };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    lambda: new LambdaClient(config),
    sqs: new SQSClient(config),
    cloudwatch: new CloudWatchClient(config),
  };
};

const functionArn = (name: string): string => `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${name}`;

/** What `terraform apply` with the default variables must have created. */
const checkApplied = async (checks: Checks, clients: Clients, out: Outputs): Promise<void> => {
  const { s3, lambda, sqs, cloudwatch } = clients;
  const buckets = { input: out.input_bucket_name, staging: out.staging_bucket_name, output: out.output_bucket_name };
  const queueArn = `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${out.dead_letter_queue_url.split('/').pop()}`;

  for (const [id, Bucket] of Object.entries(buckets)) {
    await checks.run(`${id} bucket is encrypted with SSE-S3`, async () => {
      const { ServerSideEncryptionConfiguration } = await s3.send(new GetBucketEncryptionCommand({ Bucket }));
      expectEqual(ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256', 'the algorithm');
    });
    await checks.run(`${id} bucket blocks all public access`, async () => {
      const { PublicAccessBlockConfiguration: block } = await s3.send(new GetPublicAccessBlockCommand({ Bucket }));
      expectEqual(
        [block?.BlockPublicAcls, block?.BlockPublicPolicy, block?.IgnorePublicAcls, block?.RestrictPublicBuckets],
        [true, true, true, true],
        'the four settings',
      );
    });
    await checks.run(`${id} bucket enforces bucket-owner ownership`, async () => {
      const { OwnershipControls } = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket }));
      expectEqual(OwnershipControls?.Rules?.[0]?.ObjectOwnership, 'BucketOwnerEnforced', 'object ownership');
    });
    await checks.run(`${id} bucket policy denies requests without TLS`, async () => {
      const { Policy } = await s3.send(new GetBucketPolicyCommand({ Bucket }));
      const statements = (JSON.parse(Policy ?? '{}') as { Statement?: Record<string, unknown>[] }).Statement ?? [];
      expectEqual(statements.length, 1, 'the number of statements');
      const [statement] = statements;
      expectEqual(statement?.Effect, 'Deny', 'the effect');
      expectEqual(statement?.Condition, { Bool: { 'aws:SecureTransport': 'false' } }, 'the condition');
      expectEqual([statement?.Resource].flat().sort(), [`arn:aws:s3:::${Bucket}`, `arn:aws:s3:::${Bucket}/*`], 'the resources');
    });
  }

  await checks.run('staging objects expire after 7 days', async () => {
    const { Rules } = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: buckets.staging }));
    expectEqual(Rules?.map((rule) => [rule.Status, rule.Expiration?.Days]), [['Enabled', 7]], 'the rules');
  });
  await checks.run('only the output bucket is versioned', async () => {
    for (const [id, Bucket] of Object.entries(buckets)) {
      const { Status } = await s3.send(new GetBucketVersioningCommand({ Bucket }));
      expectEqual(Status, id === 'output' ? 'Enabled' : undefined, `the ${id} bucket's versioning`);
    }
  });
  await checks.run('output versions replaced or deleted expire after 30 days; unfinished uploads after 1', async () => {
    const { Rules } = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: buckets.output }));
    expectEqual(
      Rules?.map((rule) => [rule.Status, rule.NoncurrentVersionExpiration?.NoncurrentDays, rule.Expiration?.ExpiredObjectDeleteMarker, rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation]),
      [['Enabled', 30, true, 1]],
      'the rules (status, noncurrent days, expired delete markers, multipart days)',
    );
  });

  const triggers = [
    { id: 'input', target: out.prepare_function_name, filters: [] as { Name: string; Value: string }[] },
    {
      id: 'staging',
      target: out.generate_function_name,
      filters: [
        { Name: 'prefix', Value: 'jobs/' },
        { Name: 'suffix', Value: '/job.json' },
      ],
    },
  ] as const;
  for (const { id, target, filters } of triggers) {
    await checks.run(`${id} bucket notifies ${target} of created objects${filters.length ? ' under jobs/…/job.json' : ''}`, async () => {
      const config = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: buckets[id] }));
      const lambdas = config.LambdaFunctionConfigurations ?? [];
      expectEqual(lambdas.length, 1, 'the number of Lambda notifications');
      expectEqual(lambdas[0]?.LambdaFunctionArn, functionArn(target), 'the target');
      expectEqual(lambdas[0]?.Events, ['s3:ObjectCreated:*'], 'the events');
      const rules = (lambdas[0]?.Filter?.Key?.FilterRules ?? []).map((rule) => ({ Name: rule.Name?.toLowerCase(), Value: rule.Value }));
      expectEqual(rules, filters, 'the key filters');
    });
    await checks.run(`${target} may be invoked by the ${id} bucket of this account only`, async () => {
      const { Policy } = await lambda.send(new GetPolicyCommand({ FunctionName: target }));
      const statements = (JSON.parse(Policy ?? '{}') as { Statement?: Record<string, any>[] }).Statement ?? [];
      expectEqual(statements.length, 1, 'the number of statements');
      const [statement] = statements;
      expectEqual(statement?.Principal, { Service: 's3.amazonaws.com' }, 'the principal');
      expectEqual(statement?.Action, 'lambda:InvokeFunction', 'the action');
      expectEqual(statement?.Condition?.ArnLike?.['AWS:SourceArn'], `arn:aws:s3:::${buckets[id]}`, 'the source ARN');
      expectEqual(statement?.Condition?.StringEquals?.['AWS:SourceAccount'], ACCOUNT_ID, 'the source account');
    });
  }
  await checks.run('output bucket notifies nothing', async () => {
    const config = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: buckets.output }));
    expectEqual(config.LambdaFunctionConfigurations ?? [], [], 'its Lambda notifications');
  });

  const expectedFunctions = [
    {
      name: out.prepare_function_name,
      memory: 1769,
      timeout: 60,
      layers: 1,
      environment: { STAGING_BUCKET: buckets.staging, MAX_INPUT_BYTES: '52428800', NODE_OPTIONS: '--enable-source-maps' },
      reserved: undefined,
    },
    {
      name: out.generate_function_name,
      memory: 512,
      timeout: 300,
      layers: 0,
      environment: { OUTPUT_BUCKET: buckets.output, REQUEST_TIMEOUT_MS: '270000', NODE_OPTIONS: '--enable-source-maps' },
      reserved: 4,
    },
  ];
  for (const expected of expectedFunctions) {
    await checks.run(`${expected.name} runs index.handler on nodejs22.x, arm64, with its settings and environment`, async () => {
      const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: expected.name }));
      expectEqual(
        [config.Runtime, config.Architectures, config.Handler, config.MemorySize, config.Timeout],
        ['nodejs22.x', ['arm64'], 'index.handler', expected.memory, expected.timeout],
        'runtime, architectures, handler, memory and timeout',
      );
      expectEqual(config.Role, `arn:aws:iam::${ACCOUNT_ID}:role/${expected.name}`, 'the role');
      expectEqual(config.Layers?.length ?? 0, expected.layers, 'the number of layers');
      if (expected.layers > 0) {
        const arn = config.Layers?.[0]?.Arn ?? '';
        if (!/:layer:[\w-]+-sharp:\d+$/.test(arn)) throw new Error(`expected the sharp layer but found ${arn}`);
      }
      const variables = config.Environment?.Variables ?? {};
      for (const [key, value] of Object.entries(expected.environment)) expectEqual(variables[key], value, key);
      expectEqual(variables.MODEL_ID !== undefined, true, 'MODEL_ID being set');
    });
    await checks.run(`${expected.name} has ${expected.reserved === undefined ? 'no reserved concurrency' : `${expected.reserved} reserved concurrent executions`}`, async () => {
      const { ReservedConcurrentExecutions } = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: expected.name }));
      expectEqual(ReservedConcurrentExecutions, expected.reserved, 'reserved concurrency');
    });
    await checks.run(`${expected.name} retries async events twice, for up to an hour, then sends them to the dead-letter queue`, async () => {
      const config = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: expected.name }));
      expectEqual(
        [config.MaximumRetryAttempts, config.MaximumEventAgeInSeconds, config.DestinationConfig?.OnFailure?.Destination],
        [2, 3600, queueArn],
        'retries, maximum age and failure destination',
      );
    });
  }

  await checks.run('dead-letter queue is encrypted and keeps messages 14 days', async () => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: out.dead_letter_queue_url, AttributeNames: ['All'] }));
    expectEqual([Attributes?.SqsManagedSseEnabled, Attributes?.MessageRetentionPeriod, Attributes?.QueueArn], ['true', '1209600', queueArn], 'SSE, retention and ARN');
  });
  await checks.run('an alarm watches the dead-letter queue depth', async () => {
    const { MetricAlarms } = await cloudwatch.send(new DescribeAlarmsCommand({}));
    const alarm = (MetricAlarms ?? []).find((candidate) => candidate.Namespace === 'AWS/SQS');
    if (!alarm) throw new Error('no AWS/SQS alarm exists');
    expectEqual(
      [alarm.MetricName, alarm.Dimensions, alarm.ComparisonOperator, alarm.Threshold],
      ['ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: out.dead_letter_queue_url.split('/').pop() }], 'GreaterThanThreshold', 0],
      'metric, queue, comparison and threshold',
    );
  });
  await checks.run('upload_command names the input bucket', () => {
    if (!out.upload_command.includes(`s3://${buckets.input}/`)) throw new Error(`it is ${out.upload_command}`);
  });
};

interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/** The two roles' inline policies as the emulator returned them to Terraform (`terraform show -json`). */
const readRolePolicies = async (workdir: Workdir): Promise<Record<string, PolicyStatement[]>> => {
  const { stdout } = await workdir.terraform(['show', '-json', '-no-color']);
  const state = JSON.parse(stdout) as { values?: { root_module?: { resources?: { address: string; values: { policy?: string } }[] } } };
  const policies: Record<string, PolicyStatement[]> = {};
  for (const resource of state.values?.root_module?.resources ?? []) {
    const role = /^aws_iam_role_policy\.(\w+)$/.exec(resource.address)?.[1];
    if (role) policies[role] = (JSON.parse(resource.values.policy ?? '{}') as { Statement?: PolicyStatement[] }).Statement ?? [];
  }
  return policies;
};

const bySid = <T>(entries: [string, T][]): Record<string, T> => Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));

/** Sid → [actions, resources] of the Allow statements named, everything sorted, for comparing whatever the order IAM returned. */
const grantsOf = (statements: readonly PolicyStatement[], sids: readonly string[]): Record<string, [string[], string[]]> =>
  bySid(
    statements
      .filter((statement) => statement.Effect === 'Allow' && sids.includes(statement.Sid ?? ''))
      .map((statement): [string, [string[], string[]]] => [statement.Sid ?? '', [[statement.Action].flat().sort(), [statement.Resource].flat().sort()]]),
  );

/** The S3 grants the layout needs: prepare writes jobs/ only; generate keeps its records outside jobs/ and replaces results. */
const checkRolePolicies = async (checks: Checks, workdir: Workdir, out: Outputs): Promise<void> => {
  let policies: Record<string, PolicyStatement[]> = {};
  await checks.run('the emulator holds an inline policy for each role', async () => {
    policies = await readRolePolicies(workdir);
    expectEqual(Object.keys(policies).sort(), ['generate', 'prepare'], 'the role policies');
  });
  const staging = `arn:aws:s3:::${out.staging_bucket_name}`;
  const output = `arn:aws:s3:::${out.output_bucket_name}`;
  await checks.run('prepare may write only under jobs/ in the staging bucket', () => {
    expectEqual(grantsOf(policies.prepare ?? [], ['WriteJobs']), { WriteJobs: [['s3:PutObject'], [`${staging}/jobs/*`]] }, "prepare's staging grant");
  });
  await checks.run('generate reads jobs/, keeps claims/ and outcomes/, lists the staging bucket, and writes, replaces and lists results', () => {
    const sids = ['ReadJobs', 'ClaimRequests', 'RecordOutcomes', 'TellMissingRecords', 'WriteResults', 'ReplaceEarlierResults', 'ListResults'];
    expectEqual(
      grantsOf(policies.generate ?? [], sids),
      bySid<[string[], string[]]>(Object.entries({
        ReadJobs: [['s3:GetObject'], [`${staging}/jobs/*`]],
        ClaimRequests: [['s3:GetObject', 's3:PutObject'], [`${staging}/claims/*`]],
        RecordOutcomes: [['s3:GetObject', 's3:PutObject'], [`${staging}/outcomes/*`]],
        TellMissingRecords: [['s3:ListBucket'], [staging]],
        WriteResults: [['s3:PutObject'], [`${output}/*`]],
        ReplaceEarlierResults: [['s3:DeleteObject'], [`${output}/*`]],
        ListResults: [['s3:ListBucket'], [output]],
      })),
      "generate's S3 grants",
    );
  });
};

/** After `terraform destroy`: nothing of the stack may be left in the emulator. */
const checkNothingLeft = async (checks: Checks, clients: Clients, out: Outputs): Promise<void> => {
  const { s3, lambda, sqs, cloudwatch } = clients;
  await checks.run('no bucket is left', async () => {
    const { Buckets } = await s3.send(new ListBucketsCommand({}));
    expectEqual((Buckets ?? []).map((bucket) => bucket.Name), [], 'the buckets');
  });
  await checks.run('no function or layer is left', async () => {
    const { Functions } = await lambda.send(new ListFunctionsCommand({}));
    expectEqual((Functions ?? []).map((fn) => fn.FunctionName), [], 'the functions');
    const { Layers } = await lambda.send(new ListLayersCommand({}));
    expectEqual((Layers ?? []).map((layer) => layer.LayerName), [], 'the layers');
  });
  await checks.run('no event-invoke config is left', async () => {
    for (const FunctionName of [out.prepare_function_name, out.generate_function_name]) {
      if (!(await notFound(() => lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))))) {
        throw new Error(`${FunctionName} still has one`);
      }
    }
  });
  await checks.run('no queue is left', async () => {
    const { QueueUrls } = await sqs.send(new ListQueuesCommand({}));
    expectEqual(QueueUrls ?? [], [], 'the queues');
  });
  await checks.run('no alarm is left', async () => {
    const { MetricAlarms } = await cloudwatch.send(new DescribeAlarmsCommand({}));
    expectEqual((MetricAlarms ?? []).map((alarm) => alarm.AlarmName), [], 'the alarms');
  });
};

// ---------------------------------------------------------------- the rehearsal

const countFrom = (text: string, pattern: RegExp, what: string): number => {
  const match = pattern.exec(text);
  if (!match) throw new Error(`terraform printed no "${what}" line`);
  return Number(match[1]);
};

const readOutputs = async (workdir: Workdir): Promise<Outputs> => {
  const { stdout } = await workdir.terraform(['output', '-json', '-no-color']);
  const raw = JSON.parse(stdout) as Record<string, { value: unknown }>;
  const outputs = Object.fromEntries(Object.entries(raw).map(([name, { value }]) => [name, value]));
  for (const name of ['input_bucket_name', 'staging_bucket_name', 'output_bucket_name', 'prepare_function_name', 'generate_function_name', 'dead_letter_queue_url', 'upload_command']) {
    if (typeof outputs[name] !== 'string' || outputs[name] === '') throw new Error(`output ${name} is missing or empty`);
  }
  return outputs as unknown as Outputs;
};

/**
 * Applies the synthesized stack to moto, checks it, destroys it and checks that
 * nothing is left. Resolves with what happened (failed checks included);
 * rejects only when a step could not run at all. Moto is stopped either way.
 */
export const rehearse = async (options: RehearsalOptions = {}): Promise<RehearsalReport> => {
  const stackDir = options.stackDir ?? DEFAULT_STACK_DIR;
  const log = options.log ?? ((line: string) => console.log(line));
  const mirrorRoot = findProviderMirror(pinnedProviderVersion(join(stackDir, 'cdk.tf.json')));

  const moto = await startMoto(options.motoCommand);
  log(`moto_server (pid ${moto.pid}) on ${moto.url}`);
  let workdir: Workdir | undefined;
  let destroyed = false;
  try {
    workdir = createWorkdir({ stackDir, mirrorRoot, provider: emulatorProvider(moto.url) });
    workdirs.add(workdir);
    log(`copy of the stack in ${workdir.dir}`);
    const init = await workdir.terraform(['init', '-input=false', '-no-color']);
    log(`terraform init: ${init.seconds.toFixed(1)} s`);

    const apply = await workdir.terraform(['apply', '-auto-approve', '-input=false', '-no-color']);
    const resourcesApplied = countFrom(apply.stdout, /Apply complete! Resources: (\d+) added/, 'Apply complete!');
    log(`terraform apply: ${resourcesApplied} resources added in ${apply.seconds.toFixed(1)} s`);

    const checks = new Checks();
    const clients = clientsFor(moto.url);
    const outputs = await readOutputs(workdir);
    await checkApplied(checks, clients, outputs);
    await checkRolePolicies(checks, workdir, outputs);
    await checks.run('a second plan finds nothing to change (unchanged code is not redeployed)', async () => {
      const plan = await workdir!.terraform(['plan', '-detailed-exitcode', '-input=false', '-no-color'], { okExitCodes: [0, 2] });
      if (plan.exitCode !== 0) {
        const changes = plan.stdout.split('\n').filter((line) => /^\s+# /.test(line));
        throw new Error(`it plans changes:\n${changes.join('\n')}`);
      }
    });
    log(`checked the applied stack: ${checks.passed.length} passed, ${checks.failed.length} failed`);

    const destroy = await workdir.terraform(['destroy', '-auto-approve', '-input=false', '-no-color']);
    destroyed = true;
    const resourcesDestroyed = countFrom(destroy.stdout, /Destroy complete! Resources: (\d+) destroyed/, 'Destroy complete!');
    log(`terraform destroy: ${resourcesDestroyed} resources destroyed in ${destroy.seconds.toFixed(1)} s`);
    const before = checks.passed.length + checks.failed.length;
    await checks.run(`destroy removed all ${resourcesApplied} resources`, () => expectEqual(resourcesDestroyed, resourcesApplied, 'resources destroyed'));
    await checkNothingLeft(checks, clients, outputs);
    const after = checks.passed.length + checks.failed.length;
    log(`checked that nothing is left: ${after - before} checks`);
    for (const client of Object.values(clients)) (client as { destroy: () => void }).destroy();

    return {
      resourcesApplied,
      resourcesDestroyed,
      applySeconds: apply.seconds,
      destroySeconds: destroy.seconds,
      checks: checks.passed,
      failures: checks.failed,
    };
  } finally {
    if (workdir && !destroyed) {
      // Leave nothing half-created behind in moto's memory either; it goes with moto anyway.
      await workdir.terraform(['destroy', '-auto-approve', '-input=false', '-no-color']).catch(() => undefined);
    }
    await moto.stop();
    log(`moto_server (pid ${moto.pid}) stopped`);
    if (workdir) {
      workdir.remove();
      workdirs.delete(workdir);
    }
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const report = await rehearse();
    for (const check of report.checks) console.log(`  ok   ${check}`);
    for (const failure of report.failures) console.log(`  FAIL ${failure}`);
    if (report.failures.length > 0) {
      console.error(`Rehearsal failed: ${report.failures.length} of ${report.checks.length + report.failures.length} checks failed.`);
      process.exitCode = 1;
    } else {
      console.log(
        `Rehearsal passed: applied ${report.resourcesApplied} resources (${report.applySeconds.toFixed(0)} s), ` +
          `${report.checks.length} checks, clean destroy of ${report.resourcesDestroyed} resources (${report.destroySeconds.toFixed(0)} s).`,
      );
    }
  } catch (error) {
    console.error(`Rehearsal failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
