/**
 * `npm run preflight`: before deploying, asks Bedrock (with your credentials) whether the
 * configured model can serve the configured region today, and prints the spend ceiling of the
 * settings the deploy will use.
 *
 *   npm run preflight [-- --model <id>] [--region <region>] [--allow-legacy] [-- <terraform apply options>]
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
 *      inference profile the stack's IAM policy does not cover;
 *   2  it could not be checked (no credentials, no permission for the Bedrock read calls, no network),
 *      or a setting the stack would refuse.
 *
 * Spend ceiling (functions/core/spend.ts): the most model calls, images and dollars per hour,
 * from `max_model_calls_in_flight` and `model_call_min_seconds` as the deploy will apply them:
 * the last `-var name=<n>` among the terraform options after `--` (`npm run deploy` passes its
 * own there), else TF_VAR_<name>, else the variable's default read from its declaration
 * (terraform/variables.ts). A -var-file is not read (the report says so). Informative only:
 * it never changes the exit code.
 */
import {
  BedrockClient,
  GetFoundationModelAvailabilityCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
} from '@aws-sdk/client-bedrock';
import { Construct } from 'constructs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { findModel, foundationModelId, type ModelEntry } from '../functions/core/models/catalogue';
import { IntegerSettings, Queueing } from '../functions/core/settings';
import { spendCeiling } from '../functions/core/spend';
import { imagesPerCall } from '../terraform/spend';
import { readSynthConfig, SynthEnv, type SynthConfig } from '../terraform/synth-config';
import { declareVariables, MAXIMUM_CONCURRENCY_MAX } from '../terraform/variables';
import {
  decide,
  formatVerdict,
  type Answer,
  type AvailabilityFacts,
  type LifecycleFacts,
  type PreflightFacts,
  type PreflightOptions,
  type ProfileFacts,
  type SpendFacts,
  type Verdict,
} from './preflight/verdict';

/** The two settings of the spend ceiling as the deploy will apply them (see {@link resolveSpend}). */
export interface SpendSettings {
  /** `max_model_calls_in_flight`. */
  readonly callsInFlight: number;
  readonly callsInFlightSource: string;
  /** `model_call_min_seconds`. */
  readonly minCallSeconds: number;
  readonly minCallSecondsSource: string;
  /** Said after the finding (e.g. a -var-file that was not read). */
  readonly note?: string;
}

export interface PreflightRun extends PreflightOptions {
  readonly modelId: string;
  readonly region: string;
  /** A client for `region`; by default one built from the standard AWS configuration. */
  readonly client?: BedrockClient;
  /** Prints the spend ceiling for these settings when given (the command line always gives them). */
  readonly spend?: SpendSettings;
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

/** The ceiling for the model and settings (no I/O). */
export const spendFacts = (modelId: string, settings: SpendSettings): SpendFacts => {
  const perCall = imagesPerCall(modelId);
  return {
    ...settings,
    imagesPerCall: perCall,
    ceiling: spendCeiling({ modelId, callsInFlight: settings.callsInFlight, minCallMs: settings.minCallSeconds * 1000, imagesPerCall: perCall }),
  };
};

/** Runs the checks for one model and region; returns the verdict and the printed report. */
export const runPreflight = async (run: PreflightRun): Promise<{ verdict: Verdict; report: string }> => {
  const model = findModel(run.modelId);
  if (!model) throw new RangeError(`Unknown model id ${JSON.stringify(run.modelId)}`);
  // One retry at most: a read-only check should answer quickly; a lasting throttle reads as "could not check".
  const client = run.client ?? new BedrockClient({ region: run.region, maxAttempts: 2 });
  try {
    const facts = await gatherFacts(client, model, run.region, run.now ?? new Date());
    const all = run.spend ? { ...facts, spend: spendFacts(model.id, run.spend) } : facts;
    const verdict = decide(all, run);
    return { verdict, report: formatVerdict(all, verdict) };
  } finally {
    if (!run.client) client.destroy();
  }
};

/** The stack variables the spend ceiling is computed from, by their Terraform names. */
export const StackVar = { IN_FLIGHT: 'max_model_calls_in_flight', MIN_SECONDS: 'model_call_min_seconds' } as const;

/** The stack's defaults for {@link StackVar}, read from the variables' declarations (terraform/variables.ts). */
export const stackDefaults = (synth: SynthConfig): { readonly callsInFlight: number; readonly minCallSeconds: number } => {
  // Declared on a bare construct tree: nothing is synthesized or written.
  const vars = declareVariables(new Construct(undefined as unknown as Construct, ''), synth);
  return { callsInFlight: Number(vars.maxModelCallsInFlight.default), minCallSeconds: Number(vars.modelCallMinSeconds.default) };
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

export interface SpendInputs {
  /** The terraform options after `--`. */
  readonly terraformArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly defaults: { readonly callsInFlight: number; readonly minCallSeconds: number };
}

/**
 * The two settings the deploy will use: the last -var, else TF_VAR_*, else the default.
 * @throws RangeError for a value Terraform's validation would refuse.
 */
export const resolveSpend = (inputs: SpendInputs): SpendSettings => {
  const { vars, varFiles } = readTerraformVars(inputs.terraformArgs ?? []);
  const pick = (name: string, fallback: number, min: number, max: number): { value: number; source: string } => {
    let raw: { value: string; source: string } = { value: String(fallback), source: 'default' };
    const fromEnv = inputs.env?.[`TF_VAR_${name}`];
    if (vars[name] !== undefined) raw = { value: vars[name], source: '-var' };
    else if (fromEnv !== undefined && fromEnv !== '') raw = { value: fromEnv, source: `TF_VAR_${name}` };
    const n = /^\s*\d+\s*$/.test(raw.value) ? Number(raw.value) : Number.NaN;
    // The same rule as the variable's validation block (terraform/variables.ts).
    if (!(Number.isInteger(n) && n >= min && n <= max)) {
      throw new RangeError(`${name} must be an integer between ${min} and ${max} but received ${JSON.stringify(raw.value)} (${raw.source})`);
    }
    return { value: n, source: raw.source };
  };
  const inFlight = pick(StackVar.IN_FLIGHT, inputs.defaults.callsInFlight, Queueing.MIN_MAXIMUM_CONCURRENCY, MAXIMUM_CONCURRENCY_MAX);
  const minSeconds = pick(StackVar.MIN_SECONDS, inputs.defaults.minCallSeconds, IntegerSettings.MIN_MODEL_CALL_MS.min / 1000, IntegerSettings.MIN_MODEL_CALL_MS.max / 1000);
  const note = varFiles.length > 0 ? `-var-file ${varFiles.join(', ')} not read: if it sets ${StackVar.IN_FLIGHT} or ${StackVar.MIN_SECONDS}, pass them with -var` : undefined;
  return {
    callsInFlight: inFlight.value,
    callsInFlightSource: inFlight.source,
    minCallSeconds: minSeconds.value,
    minCallSecondsSource: minSeconds.source,
    ...(note ? { note } : {}),
  };
};

const USAGE = 'usage: npm run preflight -- [--model <id>] [--region <region>] [--allow-legacy] [-- <terraform apply options: -var is read>]';

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
  let spend;
  try {
    spend = resolveSpend({ terraformArgs: positionals, env, defaults: stackDefaults(config) });
  } catch (error) {
    console.error(`preflight: ${(error as Error).message}`);
    return 2;
  }
  const { verdict, report } = await runPreflight({ modelId: config.modelId, region: config.region, allowLegacy: values['allow-legacy'], spend });
  console.log(report);
  return verdict.exitCode;
};

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  // The scripts run on the machine's Node 20; say nothing about the SDK's Node support here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.exitCode = await main(process.argv.slice(2), process.env);
}
