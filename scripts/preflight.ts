/**
 * `npm run preflight`: before deploying, asks Bedrock (with your credentials) whether the
 * configured model can serve the configured region today.
 *
 *   npm run preflight [-- --model <id>] [--region <region>] [--allow-legacy]
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
 *   2  it could not be checked (no credentials, no permission for the read calls, no network).
 */
import {
  BedrockClient,
  GetFoundationModelAvailabilityCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
} from '@aws-sdk/client-bedrock';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { findModel, foundationModelId, type ModelEntry } from '../functions/core/models/catalogue';
import { readSynthConfig, SynthEnv } from '../terraform/synth-config';
import {
  decide,
  formatVerdict,
  type Answer,
  type AvailabilityFacts,
  type LifecycleFacts,
  type PreflightFacts,
  type PreflightOptions,
  type ProfileFacts,
  type Verdict,
} from './preflight/verdict';

export interface PreflightRun extends PreflightOptions {
  readonly modelId: string;
  readonly region: string;
  /** A client for `region`; by default one built from the standard AWS configuration. */
  readonly client?: BedrockClient;
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

/** Runs the checks for one model and region; returns the verdict and the printed report. */
export const runPreflight = async (run: PreflightRun): Promise<{ verdict: Verdict; report: string }> => {
  const model = findModel(run.modelId);
  if (!model) throw new RangeError(`Unknown model id ${JSON.stringify(run.modelId)}`);
  // One retry at most: a read-only check should answer quickly; a lasting throttle reads as "could not check".
  const client = run.client ?? new BedrockClient({ region: run.region, maxAttempts: 2 });
  try {
    const facts = await gatherFacts(client, model, run.region, run.now ?? new Date());
    const verdict = decide(facts, run);
    return { verdict, report: formatVerdict(facts, verdict) };
  } finally {
    if (!run.client) client.destroy();
  }
};

const USAGE = 'usage: npm run preflight -- [--model <id>] [--region <region>] [--allow-legacy]';

/** The command line: returns the exit code. */
export const main = async (argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        model: { type: 'string' },
        region: { type: 'string' },
        'allow-legacy': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
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
  const { verdict, report } = await runPreflight({ modelId: config.modelId, region: config.region, allowLegacy: values['allow-legacy'] });
  console.log(report);
  return verdict.exitCode;
};

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  // The scripts run on the machine's Node 20; say nothing about the SDK's Node support here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.exitCode = await main(process.argv.slice(2), process.env);
}
