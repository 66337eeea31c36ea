/**
 * Runs the real `terraform` binary on a temporary copy of the synthesized stack,
 * for the offline checks (validate, plan) and the rehearsal against moto.
 *
 * - The copy gets an `override.tf.json` (Terraform's own override mechanism), so
 *   the stack users deploy is never changed: the backend moves into the copy,
 *   and the provider may get credentials and endpoints for an emulator.
 * - Providers come from a filesystem mirror through a CLI config file written
 *   into the copy and passed with `TF_CLI_CONFIG_FILE` to each command; nothing
 *   is written to the home directory and no registry is contacted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The provider the stack pins (see `required_providers` in cdk.tf.json). */
export const AWS_PROVIDER = { namespace: 'hashicorp', type: 'aws' } as const;

/** Where provider mirrors are looked for, in order, after `TF_PROVIDER_MIRROR` when it is set. */
export const MIRROR_ROOTS: readonly string[] = [
  '/opt/tf-plugins',
  '/usr/local/share/terraform/plugins',
  '/usr/share/terraform/plugins',
  join(homedir(), '.terraform.d', 'plugins'),
  join(homedir(), '.local', 'share', 'terraform', 'plugins'),
];

/** Terraform's name for this machine's platform, as used in mirror directories. */
export const terraformPlatform = (): string => {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const arch = ({ x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch;
  return `${os}_${arch}`;
};

/** The provider version a synthesized stack pins, e.g. `5.100.0`. */
export const pinnedProviderVersion = (stackJsonPath: string): string => {
  const json = JSON.parse(readFileSync(stackJsonPath, 'utf8')) as { terraform?: { required_providers?: Record<string, { version?: string }> } };
  const version = json.terraform?.required_providers?.[AWS_PROVIDER.type]?.version;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`${stackJsonPath} pins no exact ${AWS_PROVIDER.type} provider version (found ${JSON.stringify(version)})`);
  }
  return version;
};

/**
 * Finds the root of an unpacked filesystem mirror holding
 * `registry.terraform.io/hashicorp/aws/<version>/<platform>`.
 *
 * @throws Error naming every root tried and what was looked for.
 */
export const findProviderMirror = (version: string, roots: readonly string[] = candidateRoots()): string => {
  const relative = join('registry.terraform.io', AWS_PROVIDER.namespace, AWS_PROVIDER.type, version, terraformPlatform());
  const found = roots.find((root) => existsSync(join(root, relative)));
  if (!found) {
    throw new Error(
      `No Terraform provider mirror holds ${relative}. Looked in: ${roots.join(', ')}. ` +
        'Set TF_PROVIDER_MIRROR to the directory that contains registry.terraform.io/.',
    );
  }
  return found;
};

const candidateRoots = (): string[] => {
  const fromEnv = process.env.TF_PROVIDER_MIRROR;
  return fromEnv ? [fromEnv, ...MIRROR_ROOTS] : [...MIRROR_ROOTS];
};

/** A CLI configuration that installs `hashicorp/*` providers only from `mirrorRoot`, never from the network. */
export const cliConfig = (mirrorRoot: string): string =>
  [
    'provider_installation {',
    '  filesystem_mirror {',
    `    path    = ${JSON.stringify(mirrorRoot)}`,
    '    include = ["registry.terraform.io/hashicorp/*"]',
    '  }',
    '  direct {',
    '    exclude = ["registry.terraform.io/hashicorp/*"]',
    '  }',
    '}',
    '',
  ].join('\n');

export interface ProviderEndpoint {
  /** Base URL every AWS service the stack uses is sent to, e.g. `http://127.0.0.1:5000`. */
  readonly url: string;
}

/** The AWS services the stack's resources and data sources call. */
export const STACK_SERVICES = ['cloudwatch', 'iam', 'kms', 'lambda', 'logs', 's3', 'sns', 'sqs', 'sts'] as const;

/**
 * Provider settings for an AWS API emulator: dummy credentials, path-style S3,
 * no credential or metadata checks, and every service the stack uses sent to `url`.
 */
export const emulatorProvider = (url: string): Record<string, unknown> => ({
  access_key: 'rehearsal',
  secret_key: 'rehearsal',
  skip_credentials_validation: true,
  skip_metadata_api_check: true,
  skip_region_validation: true,
  s3_use_path_style: true,
  endpoints: Object.fromEntries(STACK_SERVICES.map((service) => [service, url])),
});

/**
 * Provider settings for planning with no AWS at all: dummy credentials, no
 * account lookup, and every endpoint on a closed local port with one attempt,
 * so a call the plan should not make fails at once instead of reaching AWS.
 */
export const offlineProvider = (): Record<string, unknown> => ({
  ...emulatorProvider('http://127.0.0.1:9'),
  skip_requesting_account_id: true,
  max_retries: 1,
});

export interface WorkdirOptions {
  /** Directory of the synthesized stack: holds cdk.tf.json and assets/. */
  readonly stackDir: string;
  /** Provider mirror root (see {@link findProviderMirror}). */
  readonly mirrorRoot: string;
  /**
   * Settings merged into the stack's `provider "aws"` block in the copy.
   * @default - none: the stack's provider block as users get it
   */
  readonly provider?: Record<string, unknown>;
  /**
   * Extra files written into the copy (name → content), e.g. a `.tftest.hcl` file.
   * @default - none
   */
  readonly files?: Readonly<Record<string, string>>;
  /** @default - a new directory under the OS temp directory */
  readonly parentDir?: string;
}

export interface Workdir {
  /** The copy; Terraform runs here. */
  readonly dir: string;
  /** State file of the copy (the backend is redirected here). */
  readonly stateFile: string;
  /** Runs `terraform <args>` in the copy with the copy's CLI config. */
  readonly terraform: (args: readonly string[], options?: RunOptions) => Promise<RunResult>;
  /** Deletes the copy. */
  readonly remove: () => void;
}

export interface RunOptions {
  /** Extra environment variables for this command. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Exit codes that count as success (`plan -detailed-exitcode` exits 2 for "changes").
   * @default [0]
   */
  readonly okExitCodes?: readonly number[];
  /**
   * Copy the command's output to this process's stdout/stderr as it comes.
   * @default false
   */
  readonly echo?: boolean;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Commands started by {@link run} and not finished yet, so a caller interrupted by a signal can stop them. */
export const runningCommands = new Set<ChildProcess>();

/** The binary to run: `TERRAFORM_BINARY_NAME` (the variable cdktf honours too) or `terraform`. */
export const terraformBinary = (): string => process.env.TERRAFORM_BINARY_NAME || 'terraform';

/**
 * Runs a command and collects its output.
 * @throws Error with the command, exit code and the tail of its stderr (or stdout) when the exit code is not accepted.
 */
export const run = (command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    runningCommands.add(child);
    child.once('exit', () => runningCommands.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (options.echo) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.echo) process.stderr.write(chunk);
    });
    child.on('error', (error) => reject(new Error(`Could not run ${command}: ${error.message}`, { cause: error })));
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const exitCode = code ?? -1;
      if (!(options.okExitCodes ?? [0]).includes(exitCode)) {
        const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-40).join('\n');
        reject(new Error(`${command} ${args.join(' ')} exited with ${signal ?? exitCode} after ${seconds.toFixed(1)} s:\n${tail}`));
        return;
      }
      resolve({ exitCode, stdout, stderr, seconds });
    });
  });

/**
 * Copies the synthesized stack into a temporary directory, with an override file
 * that redirects the state there (and, when asked, reconfigures the provider),
 * and a CLI config that installs the provider from the mirror.
 */
export const createWorkdir = (options: WorkdirOptions): Workdir => {
  const stackJson = join(options.stackDir, 'cdk.tf.json');
  if (!existsSync(stackJson)) {
    throw new Error(`${stackJson} does not exist. Run npm run synth first.`);
  }
  const parent = options.parentDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'icp-terraform-'));
  cpSync(stackJson, join(dir, 'cdk.tf.json'));
  if (existsSync(join(options.stackDir, 'assets'))) {
    cpSync(join(options.stackDir, 'assets'), join(dir, 'assets'), { recursive: true });
  }
  const stateFile = join(dir, 'terraform.tfstate');
  const override: Record<string, unknown> = { terraform: { backend: { local: { path: stateFile } } } };
  if (options.provider) {
    override.provider = { aws: options.provider };
  }
  writeFileSync(join(dir, 'override.tf.json'), `${JSON.stringify(override, null, 2)}\n`);
  for (const [name, content] of Object.entries(options.files ?? {})) {
    writeFileSync(join(dir, name), content);
  }
  const cliConfigFile = join(dir, '.terraformrc');
  writeFileSync(cliConfigFile, cliConfig(options.mirrorRoot));

  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TF_CLI_CONFIG_FILE: cliConfigFile,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
    // Whatever credentials the caller's shell holds must not reach a real account from a copy.
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  for (const name of ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'TF_DATA_DIR', 'TF_WORKSPACE']) {
    delete baseEnv[name];
  }

  return {
    dir,
    stateFile,
    terraform: (args, runOptions = {}) =>
      run(terraformBinary(), ['-chdir=' + dir, ...args], dir, { ...baseEnv, ...runOptions.env }, runOptions),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
};
