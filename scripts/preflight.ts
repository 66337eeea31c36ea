/**
 * `npm run preflight`: before deploying, asks Bedrock (with your credentials) whether the
 * configured model can serve the configured region today, and Lambda whether the account's
 * concurrency leaves room for the generate function's reserved concurrency.
 *
 *   npm run preflight [-- --model <id>] [--region <region>] [--allow-legacy]
 *                        [--reserved-concurrency=<n>] [--name-prefix <prefix>] [-- <terraform apply options>]
 *
 * Model and region are the ones `npm run synth` / `npm run deploy` use: `--model` else
 * ICP_MODEL_ID else the stack default; `--region` else ICP_REGION else the stack default
 * (terraform/synth-config.ts). AWS_REGION does not choose the stack's region, so it does not
 * choose the checked one either. Credentials come from the SDK's default chain (AWS_PROFILE,
 * SSO, environment, …); AWS_ENDPOINT_URL_BEDROCK redirects the calls (tests use the local
 * stand-in, scripts/local/bedrock-control-standin.ts).
 *
 * Calls (read-only): GetInferenceProfile for an inference profile, GetFoundationModel and
 * GetFoundationModelAvailability for the foundation model, all in the region. The verdict
 * (scripts/preflight/verdict.ts) reports lifecycle status and dates, regional availability
 * and whether these credentials may invoke the model, and exits:
 *   0  the model answers in the region;
 *   1  it cannot: LEGACY (unless --allow-legacy), end of life, not offered in the region, or an
 *      inference profile the stack's IAM policy does not cover; or the deploy would fail because
 *      the generate function's reserved concurrency does not fit the account's Lambda concurrency;
 *   2  it could not be checked (no credentials, no permission for the Bedrock read calls, no network).
 *
 * Lambda concurrency: the reservation is `generate_reserved_concurrency` as the deploy will apply
 * it: `--reserved-concurrency=<n>`, else the last `-var generate_reserved_concurrency=<n>` among
 * the terraform options after `--` (`npm run deploy` passes its own there), else
 * TF_VAR_generate_reserved_concurrency, else the variable's default read from its declaration
 * (terraform/variables.ts). The function is `<name_prefix>-generate`, name_prefix found the same
 * way (`--name-prefix`, `-var name_prefix=…`, TF_VAR_name_prefix, default). A -var-file is not
 * read. Calls (read-only, in the region, none for -1): GetAccountSettings and
 * GetFunctionConcurrency; AWS_ENDPOINT_URL_LAMBDA redirects them (tests use
 * scripts/local/lambda-control-standin.ts). If they cannot be made (no permission), the finding
 * is a warning: this part alone never exits 2, the Bedrock part decides.
 */
import {
  BedrockClient,
  GetFoundationModelAvailabilityCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
} from '@aws-sdk/client-bedrock';
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Construct } from 'constructs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { findModel, foundationModelId, type ModelEntry } from '../functions/core/models/catalogue';
import { readSynthConfig, SynthEnv, type SynthConfig } from '../terraform/synth-config';
import { declareVariables } from '../terraform/variables';
import {
  decide,
  formatVerdict,
  type AccountConcurrencyFacts,
  type Answer,
  type AvailabilityFacts,
  type ConcurrencyFacts,
  type LifecycleFacts,
  type PreflightFacts,
  type PreflightOptions,
  type ProfileFacts,
  type Verdict,
} from './preflight/verdict';

/** The generate function's reservation the deploy will ask for (see {@link resolveConcurrency}). */
export interface ConcurrencyRequest {
  /** `generate_reserved_concurrency`: -1 (no reservation) or 1 to 1000. */
  readonly reserved: number;
  /** Where `reserved` comes from, as the report says it. */
  readonly source: string;
  /** `<name_prefix>-generate`. */
  readonly functionName: string;
  /** Said after the finding (e.g. a -var-file that was not read). */
  readonly note?: string;
}

export interface PreflightRun extends PreflightOptions {
  readonly modelId: string;
  readonly region: string;
  /** A client for `region`; by default one built from the standard AWS configuration. */
  readonly client?: BedrockClient;
  /** Checks the Lambda concurrency when given (the command line always gives it). */
  readonly concurrency?: ConcurrencyRequest;
  /** A Lambda client for `region`; by default one built from the standard AWS configuration (AWS_ENDPOINT_URL_LAMBDA). */
  readonly lambdaClient?: LambdaClient;
  /** @default new Date() */
  readonly now?: Date;
}

const answer = async <T>(call: () => Promise<T>): Promise<Answer<T>> => {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    const e = error as { name?: string; message?: string; code?: string };
    return { ok: false, error: { name: e.name ?? 'Error', message: e.message || e.code || String(error) } };
  }
};

/** Asks Bedrock about `model` in the client's region; every call's failure is kept, not thrown. */
export const gatherFacts = async (client: BedrockClient, model: ModelEntry, region: string, now: Date): Promise<PreflightFacts> => {
  const fm = foundationModelId(model);
  const [profile, foundationModel, availability] = await Promise.all([
    model.inferenceProfile
      ? answer<ProfileFacts>(async () => {
          const out = await client.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: model.id }));
          return { status: out.status ?? 'UNKNOWN', modelArns: (out.models ?? []).map((m) => m.modelArn ?? '') };
        })
      : undefined,
    answer<LifecycleFacts>(async () => {
      const out = await client.send(new GetFoundationModelCommand({ modelIdentifier: fm }));
      const lifecycle = out.modelDetails?.modelLifecycle;
      return {
        status: lifecycle?.status ?? 'UNKNOWN',
        ...(lifecycle?.startOfLifeTime ? { startOfLife: lifecycle.startOfLifeTime } : {}),
        ...(lifecycle?.legacyTime ? { legacy: lifecycle.legacyTime } : {}),
        ...(lifecycle?.endOfLifeTime ? { endOfLife: lifecycle.endOfLifeTime } : {}),
        ...(lifecycle?.publicExtendedAccessTime ? { publicExtendedAccess: lifecycle.publicExtendedAccessTime } : {}),
      };
    }),
    answer<AvailabilityFacts>(async () => {
      const out = await client.send(new GetFoundationModelAvailabilityCommand({ modelId: fm }));
      return {
        authorizationStatus: out.authorizationStatus ?? 'UNKNOWN',
        entitlementAvailability: out.entitlementAvailability ?? 'UNKNOWN',
        regionAvailability: out.regionAvailability ?? 'UNKNOWN',
        ...(out.agreementAvailability?.status ? { agreementStatus: out.agreementAvailability.status } : {}),
        ...(out.agreementAvailability?.errorMessage ? { agreementMessage: out.agreementAvailability.errorMessage } : {}),
      };
    }),
  ]);
  return { model, region, now, ...(profile ? { profile } : {}), foundationModel, availability };
};

/** Asks Lambda (the client's region) how much concurrency is left to reserve; nothing for -1. Failures are kept, not thrown. */
export const gatherConcurrency = async (client: LambdaClient, request: ConcurrencyRequest): Promise<ConcurrencyFacts> => {
  const base = { requested: request.reserved, source: request.source, functionName: request.functionName, ...(request.note ? { note: request.note } : {}) };
  if (request.reserved === -1) return base;
  const [account, existing] = await Promise.all([
    answer<AccountConcurrencyFacts>(async () => {
      const limit = (await client.send(new GetAccountSettingsCommand({}))).AccountLimit;
      if (limit?.ConcurrentExecutions === undefined || limit.UnreservedConcurrentExecutions === undefined) {
        throw Object.assign(new Error('the answer has no AccountLimit.ConcurrentExecutions / UnreservedConcurrentExecutions'), { name: 'IncompleteAnswer' });
      }
      return { concurrentExecutions: limit.ConcurrentExecutions, unreservedConcurrentExecutions: limit.UnreservedConcurrentExecutions };
    }),
    // ResourceNotFoundException (not deployed yet) is kept as an error; the verdict counts it as 0.
    answer<number>(async () => (await client.send(new GetFunctionConcurrencyCommand({ FunctionName: request.functionName }))).ReservedConcurrentExecutions ?? 0),
  ]);
  return { ...base, account, existing };
};

/** Runs the checks for one model and region; returns the verdict and the printed report. */
export const runPreflight = async (run: PreflightRun): Promise<{ verdict: Verdict; report: string }> => {
  const model = findModel(run.modelId);
  if (!model) throw new RangeError(`Unknown model id ${JSON.stringify(run.modelId)}`);
  // One retry at most: a read-only check should answer quickly; a lasting throttle reads as "could not check".
  const client = run.client ?? new BedrockClient({ region: run.region, maxAttempts: 2 });
  const lambda = run.concurrency ? (run.lambdaClient ?? new LambdaClient({ region: run.region, maxAttempts: 2 })) : undefined;
  try {
    const [facts, concurrency] = await Promise.all([
      gatherFacts(client, model, run.region, run.now ?? new Date()),
      lambda && run.concurrency ? gatherConcurrency(lambda, run.concurrency) : undefined,
    ]);
    const all = concurrency ? { ...facts, concurrency } : facts;
    const verdict = decide(all, run);
    return { verdict, report: formatVerdict(all, verdict) };
  } finally {
    if (!run.client) client.destroy();
    if (lambda && !run.lambdaClient) lambda.destroy();
  }
};

/** The stack variables the Lambda check needs, by their Terraform names. */
export const StackVar = { RESERVED_CONCURRENCY: 'generate_reserved_concurrency', NAME_PREFIX: 'name_prefix' } as const;

/** The stack's defaults for {@link StackVar}, read from the variables' declarations (terraform/variables.ts). */
export const stackDefaults = (synth: SynthConfig): { readonly reservedConcurrency: number; readonly namePrefix: string } => {
  // Declared on a bare construct tree: nothing is synthesized or written.
  const vars = declareVariables(new Construct(undefined as unknown as Construct, ''), synth);
  return { reservedConcurrency: Number(vars.generateReservedConcurrency.default), namePrefix: String(vars.namePrefix.default) };
};

/**
 * The `-var name=value` (also `-var=name=value`, `--var`) and `-var-file` options among terraform
 * options; for a name given more than once, the last value, as Terraform takes it.
 */
export const readTerraformVars = (args: readonly string[]): { vars: Readonly<Record<string, string>>; varFiles: readonly string[] } => {
  const vars: Record<string, string> = {};
  const varFiles: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const match = /^--?(var|var-file)(?:=(.*))?$/s.exec(args[i]!);
    if (!match) continue;
    const value = match[2] ?? args[++i];
    if (value === undefined) continue;
    if (match[1] === 'var-file') {
      varFiles.push(value);
    } else {
      const eq = value.indexOf('=');
      if (eq > 0) vars[value.slice(0, eq).trim()] = value.slice(eq + 1);
    }
  }
  return { vars, varFiles };
};

export interface ConcurrencyInputs {
  /** `--reserved-concurrency`. */
  readonly reservedConcurrency?: string;
  /** `--name-prefix`. */
  readonly namePrefix?: string;
  /** The terraform options after `--`. */
  readonly terraformArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly defaults: { readonly reservedConcurrency: number; readonly namePrefix: string };
}

/**
 * The reservation and function name the deploy will use: flag, else the last -var, else TF_VAR_*,
 * else the default.
 * @throws RangeError for a reservation Terraform's validation would refuse (not -1 or 1 to 1000).
 */
export const resolveConcurrency = (inputs: ConcurrencyInputs): ConcurrencyRequest => {
  const { vars, varFiles } = readTerraformVars(inputs.terraformArgs ?? []);
  const pick = (flag: string, flagValue: string | undefined, name: string, fallback: string): { value: string; source: string } => {
    if (flagValue !== undefined) return { value: flagValue, source: flag };
    if (vars[name] !== undefined) return { value: vars[name], source: '-var' };
    const fromEnv = inputs.env?.[`TF_VAR_${name}`];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: `TF_VAR_${name}` };
    return { value: fallback, source: 'default' };
  };
  const reserved = pick('--reserved-concurrency', inputs.reservedConcurrency, StackVar.RESERVED_CONCURRENCY, String(inputs.defaults.reservedConcurrency));
  const n = /^\s*-?\d+\s*$/.test(reserved.value) ? Number(reserved.value) : Number.NaN;
  // The same rule as the variable's validation block (terraform/variables.ts).
  if (!(n === -1 || (Number.isInteger(n) && n >= 1 && n <= 1000))) {
    throw new RangeError(
      `${StackVar.RESERVED_CONCURRENCY} must be -1 (no reservation) or an integer between 1 and 1000 but received ${JSON.stringify(reserved.value)} (${reserved.source})`,
    );
  }
  const prefix = pick('--name-prefix', inputs.namePrefix, StackVar.NAME_PREFIX, inputs.defaults.namePrefix);
  const note =
    varFiles.length > 0 && reserved.source !== '--reserved-concurrency'
      ? `-var-file ${varFiles.join(', ')} not read: if it sets ${StackVar.RESERVED_CONCURRENCY} or ${StackVar.NAME_PREFIX}, pass --reserved-concurrency=<n> / --name-prefix`
      : undefined;
  return { reserved: n, source: reserved.source, functionName: `${prefix.value}-generate`, ...(note ? { note } : {}) };
};

const USAGE =
  'usage: npm run preflight -- [--model <id>] [--region <region>] [--allow-legacy] [--reserved-concurrency=<n>] [--name-prefix <prefix>] [-- <terraform apply options: -var is read>]';

/** The command line: returns the exit code. */
export const main = async (argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> => {
  let values, positionals, tokens;
  try {
    ({ values, positionals, tokens } = parseArgs({
      args: [...argv],
      options: {
        model: { type: 'string' },
        region: { type: 'string' },
        'allow-legacy': { type: 'boolean', default: false },
        'reserved-concurrency': { type: 'string' },
        'name-prefix': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      // Terraform options (what `npm run deploy` passes on) come after `--`.
      allowPositionals: true,
      tokens: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const terminator = tokens.findIndex((t) => t.kind === 'option-terminator');
  const stray = tokens.flatMap((t, i) => (t.kind === 'positional' && (terminator === -1 || i < terminator) ? [t.value] : []))[0];
  if (stray !== undefined) {
    console.error(`Unexpected argument ${JSON.stringify(stray)}: terraform options go after --\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let config;
  try {
    config = readSynthConfig({
      ...env,
      ...(values.model !== undefined ? { [SynthEnv.MODEL_ID]: values.model } : {}),
      ...(values.region !== undefined ? { [SynthEnv.REGION]: values.region } : {}),
    });
  } catch (error) {
    console.error(`preflight: ${(error as Error).message} (--model / --region override ${SynthEnv.MODEL_ID} / ${SynthEnv.REGION})`);
    return 2;
  }
  let concurrency;
  try {
    concurrency = resolveConcurrency({
      reservedConcurrency: values['reserved-concurrency'],
      namePrefix: values['name-prefix'],
      terraformArgs: positionals,
      env,
      defaults: stackDefaults(config),
    });
  } catch (error) {
    console.error(`preflight: ${(error as Error).message}`);
    return 2;
  }
  const { verdict, report } = await runPreflight({ modelId: config.modelId, region: config.region, allowLegacy: values['allow-legacy'], concurrency });
  console.log(report);
  return verdict.exitCode;
};

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  // The scripts run on the machine's Node 20; say nothing about the SDK's Node support here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.exitCode = await main(process.argv.slice(2), process.env);
}
