/**
 * A local stand-in for the three Amazon Bedrock control-plane calls `npm run preflight` makes,
 * so the preflight can be tested through the real `@aws-sdk/client-bedrock`:
 *
 *   GET /foundation-models/{modelIdentifier}            GetFoundationModel
 *   GET /inference-profiles/{inferenceProfileIdentifier} GetInferenceProfile
 *   GET /foundation-model-availability/{modelId}        GetFoundationModelAvailability
 *
 * (REST paths from the SDK's serializers.) It speaks HTTP/1.1: unlike the runtime client, whose
 * default Node handler is HTTP/2, `@aws-sdk/client-bedrock` uses `NodeHttpHandler`. Point the
 * SDK at it with `AWS_ENDPOINT_URL_BEDROCK=<endpoint>` or `endpoint` in the client config.
 *
 * The region of a request is read from its SigV4 credential scope (the signature itself is not
 * checked), so one stand-in answers for every region, as the regional endpoints would together.
 * Default answers follow /work/shared/docs/bedrock-models.md through the runtime stand-in's
 * model table (bedrock-schemas.ts): Stability's control tools ACTIVE through their `us.`
 * profiles; Titan v2 and Nova Canvas past end of life (ResourceNotFoundException) unless
 * `answerRetiredModels`, then LEGACY with the model cards' dates. Every answer can be replaced
 * per id. Error answers carry `x-amzn-errortype` and `{"message": …}` like the real service,
 * so the SDK raises its own exception classes; their wording is the stand-in's own.
 *
 * Run on its own: `npx tsx scripts/local/bedrock-control-standin.ts [--port 4598]
 * [--answer-retired-models]`, then export the printed AWS_ENDPOINT_URL_BEDROCK.
 */
import { closeServer, scopeRegion, writeReply, type Reply } from './control-plane';
import { listenOnLoopback } from './loopback';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { modelFacts } from './bedrock-schemas';

/** Said by every answer, in the `x-standin` header. */
export const CONTROL_STAND_IN_NOTE = 'local Bedrock control-plane stand-in';

/** The account inference-profile ARNs are given. */
export const STAND_IN_ACCOUNT = '123456789012';

/** Lifecycle dates of the retired models (model cards), as the service returns them. */
export const RETIRED_LIFECYCLES: Readonly<Record<string, LifecycleAnswer>> = {
  'amazon.titan-image-generator-v2:0': { status: 'LEGACY', legacyTime: '2025-12-30T00:00:00Z', endOfLifeTime: '2026-06-30T00:00:00Z' },
  'amazon.nova-canvas-v1:0': { status: 'LEGACY', legacyTime: '2026-03-30T00:00:00Z', endOfLifeTime: '2026-09-30T00:00:00Z' },
};

export interface ErrorAnswer {
  readonly error: { readonly status: number; readonly type: string; readonly message: string };
}

/** `modelLifecycle` of GetFoundationModel; times as ISO 8601 strings (the SDK reads them as date-time). */
export interface LifecycleAnswer {
  readonly status: 'ACTIVE' | 'LEGACY' | (string & {});
  readonly startOfLifeTime?: string;
  readonly legacyTime?: string;
  readonly endOfLifeTime?: string;
  readonly publicExtendedAccessTime?: string;
}

export interface FoundationModelAnswer {
  readonly lifecycle: LifecycleAnswer;
  /** Regions where it is found. @default the contract's regions for the id */
  readonly regions?: readonly string[];
}

export interface InferenceProfileAnswer {
  /** @default 'ACTIVE' */
  readonly status?: string;
  readonly foundationModelId: string;
  /** Regions of the foundation-model ARNs in `models`. */
  readonly routesTo: readonly string[];
  /** Regions where the profile is found. @default routesTo */
  readonly regions?: readonly string[];
}

export interface AvailabilityAnswer {
  /** @default 'AUTHORIZED' */
  readonly authorizationStatus?: 'AUTHORIZED' | 'NOT_AUTHORIZED';
  /** @default 'AVAILABLE' */
  readonly entitlementAvailability?: 'AVAILABLE' | 'NOT_AVAILABLE';
  /** @default 'AVAILABLE' in the model's regions, else 'NOT_AVAILABLE' */
  readonly regionAvailability?: 'AVAILABLE' | 'NOT_AVAILABLE';
  /** @default 'AVAILABLE' */
  readonly agreementStatus?: 'AVAILABLE' | 'PENDING' | 'NOT_AVAILABLE' | 'ERROR';
  readonly agreementMessage?: string;
}

export interface ControlStandInOptions {
  /**
   * Answer Titan v2 and Nova Canvas as LEGACY models with their dates. By default they answer
   * as after end of life: ResourceNotFoundException.
   * @default false
   */
  readonly answerRetiredModels?: boolean;
  /** Region assumed for a request without a SigV4 credential scope. @default 'us-east-1' */
  readonly region?: string;
  /** GetFoundationModel answers by foundation-model id, replacing the defaults. */
  readonly foundationModels?: Readonly<Record<string, FoundationModelAnswer | ErrorAnswer>>;
  /** GetInferenceProfile answers by profile id, replacing the defaults. */
  readonly inferenceProfiles?: Readonly<Record<string, InferenceProfileAnswer | ErrorAnswer>>;
  /** GetFoundationModelAvailability answers by foundation-model id, merged over the defaults. */
  readonly availability?: Readonly<Record<string, AvailabilityAnswer | ErrorAnswer>>;
  /** @default 0 (any free port) */
  readonly port?: number;
}

export type ControlOperation = 'GetFoundationModel' | 'GetInferenceProfile' | 'GetFoundationModelAvailability';

export interface ControlCall {
  readonly method: string;
  readonly path: string;
  /** null for routes the stand-in does not implement. */
  readonly operation: ControlOperation | null;
  /** Decoded identifier from the path. */
  readonly id: string | null;
  /** Region from the SigV4 credential scope, or the default. */
  readonly region: string;
  readonly status: number;
  readonly errorType: string | null;
}

export interface ControlStandIn {
  /** `http://127.0.0.1:<port>`: use as `endpoint` or AWS_ENDPOINT_URL_BEDROCK. */
  readonly endpoint: string;
  readonly calls: readonly ControlCall[];
  close(): Promise<void>;
}


const isError = (answer: object): answer is ErrorAnswer => 'error' in answer;
const fail = (status: number, type: string, message: string): Reply => ({ status, body: { message }, errorType: type });
const ok = (body: unknown): Reply => ({ status: 200, body, errorType: null });
const fromError = (answer: ErrorAnswer): Reply => fail(answer.error.status, answer.error.type, answer.error.message);

const notFound = (what: string, id: string, region: string): Reply =>
  fail(404, 'ResourceNotFoundException', `The ${what} ${id} was not found in ${region}.`);

const ROUTES: readonly { pattern: RegExp; operation: ControlOperation }[] = [
  { pattern: /^\/foundation-models\/([^/]+)$/, operation: 'GetFoundationModel' },
  { pattern: /^\/inference-profiles\/([^/]+)$/, operation: 'GetInferenceProfile' },
  { pattern: /^\/foundation-model-availability\/([^/]+)$/, operation: 'GetFoundationModelAvailability' },
];

/** The default GetFoundationModel answer for `id`, from the shared model table. */
const defaultFoundationModel = (id: string, answerRetiredModels: boolean): FoundationModelAnswer | null => {
  const facts = modelFacts(id);
  if (!facts || facts.profile) return null;
  switch (facts.availability) {
    case 'retired':
      return null;
    case 'end-of-life': {
      const lifecycle = RETIRED_LIFECYCLES[id];
      return answerRetiredModels && lifecycle ? { lifecycle, regions: facts.regions } : null;
    }
    case 'active':
    case 'profile-only':
      return { lifecycle: { status: 'ACTIVE' }, regions: facts.regions };
  }
};

/** The default GetInferenceProfile answer: `us.<base>` routes to the base model in its regions. */
const defaultProfile = (id: string): InferenceProfileAnswer | null => {
  const facts = modelFacts(id);
  if (!facts?.profile) return null;
  return { foundationModelId: id.replace(/^[a-z]+\./, ''), routesTo: facts.regions };
};

export async function startBedrockControlStandIn(options: ControlStandInOptions = {}): Promise<ControlStandIn> {
  const defaultRegion = options.region ?? 'us-east-1';
  const answerRetiredModels = options.answerRetiredModels ?? false;
  const calls: ControlCall[] = [];

  const foundationModel = (id: string, region: string): Reply => {
    const answer = options.foundationModels?.[id] ?? defaultFoundationModel(id, answerRetiredModels);
    if (!answer) return notFound('foundation model', id, region);
    if (isError(answer)) return fromError(answer);
    const regions = answer.regions ?? modelFacts(id)?.regions ?? [region];
    if (!regions.includes(region)) return notFound('foundation model', id, region);
    const facts = modelFacts(id);
    return ok({
      modelDetails: {
        modelArn: `arn:aws:bedrock:${region}::foundation-model/${id}`,
        modelId: id,
        ...(facts ? { providerName: facts.family === 'stability' ? 'Stability AI' : 'Amazon' } : {}),
        inputModalities: ['TEXT', 'IMAGE'],
        outputModalities: ['IMAGE'],
        inferenceTypesSupported: facts?.availability === 'profile-only' ? ['INFERENCE_PROFILE'] : ['ON_DEMAND'],
        modelLifecycle: answer.lifecycle,
      },
    });
  };

  const inferenceProfile = (id: string, region: string): Reply => {
    const answer = options.inferenceProfiles?.[id] ?? defaultProfile(id);
    if (!answer) return notFound('inference profile', id, region);
    if (isError(answer)) return fromError(answer);
    if (!(answer.regions ?? answer.routesTo).includes(region)) return notFound('inference profile', id, region);
    return ok({
      inferenceProfileName: `US ${id}`,
      inferenceProfileArn: `arn:aws:bedrock:${region}:${STAND_IN_ACCOUNT}:inference-profile/${id}`,
      inferenceProfileId: id,
      models: answer.routesTo.map((r) => ({ modelArn: `arn:aws:bedrock:${r}::foundation-model/${answer.foundationModelId}` })),
      status: answer.status ?? 'ACTIVE',
      type: 'SYSTEM_DEFINED',
    });
  };

  const availability = (id: string, region: string): Reply => {
    const override = options.availability?.[id];
    if (override && isError(override)) return fromError(override);
    const facts = modelFacts(id);
    const known = options.foundationModels?.[id] ?? defaultFoundationModel(id, answerRetiredModels);
    if (!override && (!facts || !known || isError(known))) return notFound('foundation model', id, region);
    const regions = (known && !isError(known) ? known.regions : undefined) ?? facts?.regions ?? [];
    return ok({
      modelId: id,
      agreementAvailability: {
        status: override?.agreementStatus ?? 'AVAILABLE',
        ...(override?.agreementMessage ? { errorMessage: override.agreementMessage } : {}),
      },
      authorizationStatus: override?.authorizationStatus ?? 'AUTHORIZED',
      entitlementAvailability: override?.entitlementAvailability ?? 'AVAILABLE',
      regionAvailability: override?.regionAvailability ?? (regions.includes(region) ? 'AVAILABLE' : 'NOT_AVAILABLE'),
    });
  };

  const answer = (operation: ControlOperation, id: string, region: string): Reply => {
    switch (operation) {
      case 'GetFoundationModel':
        return foundationModel(id, region);
      case 'GetInferenceProfile':
        return inferenceProfile(id, region);
      case 'GetFoundationModelAvailability':
        return availability(id, region);
    }
  };

  const server = http.createServer((req, res) => {
    // The SDK sends no body on these GETs; drain anything anyway before answering.
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const region = scopeRegion(req.headers.authorization, 'bedrock') ?? defaultRegion;
      let operation: ControlOperation | null = null;
      let id: string | null = null;
      for (const route of ROUTES) {
        const match = route.pattern.exec(path);
        if (match && req.method === 'GET') {
          operation = route.operation;
          try {
            id = decodeURIComponent(match[1] ?? '');
          } catch {
            id = match[1] ?? '';
          }
          break;
        }
      }
      const reply =
        operation && id !== null
          ? answer(operation, id, region)
          : fail(404, 'UnknownOperationException', `The local Bedrock control-plane stand-in does not implement ${req.method} ${path}.`);
      calls.push({ method: req.method ?? '', path, operation, id, region, status: reply.status, errorType: reply.errorType });
      writeReply(res, reply, CONTROL_STAND_IN_NOTE, calls.length);
    });
  });
  const endpoint = await listenOnLoopback(server, options.port);
  return {
    endpoint,
    calls,
    close: () => closeServer(server),
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4598' },
      'answer-retired-models': { type: 'boolean', default: false },
    },
  });
  const standIn = await startBedrockControlStandIn({ port: Number(values.port), answerRetiredModels: values['answer-retired-models'] });
  console.log(`Bedrock control-plane stand-in (${CONTROL_STAND_IN_NOTE})`);
  console.log(`export AWS_ENDPOINT_URL_BEDROCK=${standIn.endpoint}`);
  const stop = (): void => {
    void standIn.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
