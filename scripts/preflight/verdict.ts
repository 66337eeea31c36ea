/**
 * What `npm run preflight` concludes from the Bedrock control-plane answers, and the spend
 * ceiling of the settings the deploy will use: pure, no I/O, so
 * every outcome is tested without a network (test/scripts/preflight-verdict.test.ts). The
 * script (scripts/preflight.ts) gathers the answers, this module judges them against the
 * catalogue (functions/core/models/catalogue.ts), and the script prints the findings and exits
 * with the verdict's code.
 */
import { foundationModelId, MODELS, type ModelEntry } from '../../functions/core/models/catalogue';
import type { SpendCeiling } from '../../functions/core/spend';

/** An answer from one control-plane call: its value, or the error it raised. */
export type Answer<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

/** `modelLifecycle` of GetFoundationModel. */
export interface LifecycleFacts {
  readonly status: string;
  readonly startOfLife?: Date;
  readonly legacy?: Date;
  readonly endOfLife?: Date;
  readonly publicExtendedAccess?: Date;
}

/** GetInferenceProfile, reduced to what is judged. */
export interface ProfileFacts {
  readonly status: string;
  readonly modelArns: readonly string[];
}

/** GetFoundationModelAvailability. */
export interface AvailabilityFacts {
  readonly authorizationStatus: string;
  readonly entitlementAvailability: string;
  readonly regionAvailability: string;
  readonly agreementStatus?: string;
  readonly agreementMessage?: string;
}

/** The spend ceiling of the settings the deploy will use (functions/core/spend.ts). */
export interface SpendFacts {
  /** `max_model_calls_in_flight` and where it comes from (`default`, `-var`, `TF_VAR_…`). */
  readonly callsInFlight: number;
  readonly callsInFlightSource: string;
  /** `model_call_min_seconds` and where it comes from. */
  readonly minCallSeconds: number;
  readonly minCallSecondsSource: string;
  /** Pictures one call may return for the model. */
  readonly imagesPerCall: number;
  readonly ceiling: SpendCeiling;
  /** Said after the finding, e.g. that a -var-file was not read. */
  readonly note?: string;
}

export interface PreflightFacts {
  readonly model: ModelEntry;
  readonly region: string;
  readonly now: Date;
  /** Present exactly when the model is an inference profile. */
  readonly profile?: Answer<ProfileFacts>;
  readonly foundationModel: Answer<LifecycleFacts>;
  readonly availability: Answer<AvailabilityFacts>;
  /** The spend ceiling to print (the command line always gives it). */
  readonly spend?: SpendFacts;
}

export interface PreflightOptions {
  /**
   * Report a LEGACY model as a warning instead of a failure, for accounts that still use it
   * (end of life still fails).
   * @default false
   */
  readonly allowLegacy?: boolean;
}

export const Level = {
  OK: 'ok',
  INFO: 'info',
  WARN: 'warn',
  /** A finding that stops the deploy. */
  FAIL: 'fail',
  /** Could not be checked (credentials, permissions, network): the deploy is not known to be safe. */
  UNCHECKED: 'unchecked',
} as const;
export type Level = (typeof Level)[keyof typeof Level];

export const Topic = {
  REGION: 'region',
  PROFILE: 'profile',
  LIFECYCLE: 'lifecycle',
  ACCESS: 'access',
  /** The most model calls, pictures and dollars an hour of the deployment can cost. */
  SPEND: 'spend',
} as const;
export type Topic = (typeof Topic)[keyof typeof Topic];

export interface Finding {
  readonly topic: Topic;
  readonly level: Level;
  readonly message: string;
}

/** 0: go ahead; 1: the model cannot serve this deployment; 2: it could not be checked. */
export const ExitCode = { OK: 0, FAILED: 1, UNCHECKED: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface Verdict {
  readonly findings: readonly Finding[];
  readonly exitCode: ExitCode;
  readonly summary: string;
}

const day = (date: Date): string => date.toISOString().slice(0, 10);
const parseDay = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

/** Errors that mean "no such model (here)": gone after end of life, or never offered in the region. */
const NOT_FOUND = new Set(['ResourceNotFoundException', 'ValidationException']);
const describe = (error: { name: string; message: string }): string => `${error.name}: ${error.message}`;

/** What to do when a read call failed for another reason than "not found". */
const cannotAsk = (error: { name: string }, action: string, region: string): string => {
  if (error.name === 'CredentialsProviderError') return 'no AWS credentials were found: sign in (aws sso login, AWS_PROFILE, …) and run it again';
  if (/AccessDenied|Unauthorized|Forbidden/i.test(error.name)) return `these credentials need ${action} in ${region}`;
  return 'check the network and the credentials, then run it again';
};

const isRetired = (model: ModelEntry, now: Date): boolean => model.endOfLife !== undefined && parseDay(model.endOfLife) <= now;

/** Catalogue models that answer in `region` today, best first: what to switch to. */
const alternativesIn = (region: string, now: Date, exclude: string): ModelEntry[] =>
  MODELS.filter((m) => m.id !== exclude && m.regions.includes(region) && !m.legacySince && !isRetired(m, now));

const switchAdvice = (facts: PreflightFacts): string => {
  const here = alternativesIn(facts.region, facts.now, facts.model.id);
  if (here.length > 0) return `Choose a model that answers in ${facts.region}, e.g. ICP_MODEL_ID=${here[0]!.id} npm run deploy`;
  const anywhere = MODELS.find((m) => m.id !== facts.model.id && !m.legacySince && !isRetired(m, facts.now));
  return anywhere
    ? `No active catalogue model is offered in ${facts.region}; e.g. ICP_MODEL_ID=${anywhere.id} ICP_REGION=${anywhere.regions[0]} npm run deploy`
    : 'No active catalogue model is left to switch to';
};

const regionFindings = (facts: PreflightFacts): Finding[] => {
  const { model, region } = facts;
  if (!model.regions.includes(region)) {
    const others = alternativesIn(region, facts.now, model.id);
    return [
      {
        topic: Topic.REGION,
        level: Level.FAIL,
        message:
          `${model.id} is not offered in ${region}; it is offered in: ${model.regions.join(', ')}. ` +
          `Deploy to one of those (ICP_REGION=${model.regions[0]} npm run deploy)` +
          (others.length > 0 ? ` or choose a model offered in ${region}: ${others.map((m) => m.id).join(', ')}` : ''),
      },
    ];
  }
  if (facts.availability.ok && facts.availability.value.regionAvailability === 'NOT_AVAILABLE') {
    return [
      {
        topic: Topic.REGION,
        level: Level.FAIL,
        message: `Bedrock reports ${foundationModelId(model)} as not available in ${region} (regionAvailability NOT_AVAILABLE), though the catalogue lists it there. ${switchAdvice(facts)}, or deploy to another of: ${model.regions.join(', ')}`,
      },
    ];
  }
  return [{ topic: Topic.REGION, level: Level.OK, message: `offered in ${region} (catalogue: ${model.regions.join(', ')})` }];
};

const ARN = /^arn:aws[a-z-]*:bedrock:([a-z0-9-]+):\d*:foundation-model\/(.+)$/;

const profileFindings = (facts: PreflightFacts): Finding[] => {
  const { model, region } = facts;
  const profile = model.inferenceProfile;
  if (!profile || !facts.profile) return [];
  const answer = facts.profile;
  if (!answer.ok) {
    if (NOT_FOUND.has(answer.error.name)) {
      return [
        {
          topic: Topic.PROFILE,
          level: Level.FAIL,
          message: `the inference profile ${model.id} is not found in ${region} (${describe(answer.error)}). Deploy to a region that has it: ${model.regions.join(', ')}`,
        },
      ];
    }
    return [
      {
        topic: Topic.PROFILE,
        level: Level.UNCHECKED,
        message: `could not read the inference profile (${describe(answer.error)}); ${cannotAsk(answer.error, 'bedrock:GetInferenceProfile', region)}`,
      },
    ];
  }
  const findings: Finding[] = [];
  if (answer.value.status !== 'ACTIVE') {
    findings.push({ topic: Topic.PROFILE, level: Level.FAIL, message: `the inference profile ${model.id} is ${answer.value.status}, not ACTIVE. ${switchAdvice(facts)}` });
  }
  const routes = answer.value.modelArns.map((arn) => ARN.exec(arn)).filter((m): m is RegExpExecArray => m !== null);
  const otherModels = [...new Set(routes.map((m) => m[2]!).filter((id) => id !== profile.foundationModelId))];
  if (otherModels.length > 0) {
    findings.push({
      topic: Topic.PROFILE,
      level: Level.FAIL,
      message: `the inference profile routes to ${otherModels.join(', ')}, not only to ${profile.foundationModelId} as the catalogue says: the generate role would not be allowed to invoke it. Update functions/core/models/catalogue.ts`,
    });
  }
  const routedRegions = [...new Set(routes.map((m) => m[1]!))];
  const uncovered = routedRegions.filter((r) => !profile.routesTo.includes(r));
  if (uncovered.length > 0) {
    findings.push({
      topic: Topic.PROFILE,
      level: Level.FAIL,
      message:
        `the inference profile also routes to ${uncovered.join(', ')}, which the generate role's IAM policy does not cover ` +
        `(catalogue routesTo: ${profile.routesTo.join(', ')}); calls routed there would fail with AccessDeniedException. ` +
        'Add the regions to routesTo in functions/core/models/catalogue.ts',
    });
  }
  if (findings.length === 0) {
    findings.push({ topic: Topic.PROFILE, level: Level.OK, message: `${model.id} ACTIVE, routes to ${routedRegions.join(', ') || 'no region'}` });
  }
  return findings;
};

const lifecycleDates = (lifecycle: LifecycleFacts): string => {
  const dates = [
    lifecycle.startOfLife && `start of life ${day(lifecycle.startOfLife)}`,
    lifecycle.legacy && `legacy ${day(lifecycle.legacy)}`,
    lifecycle.publicExtendedAccess && `public extended access ${day(lifecycle.publicExtendedAccess)}`,
    lifecycle.endOfLife && `end of life ${day(lifecycle.endOfLife)}`,
  ].filter(Boolean);
  return dates.length > 0 ? ` (${dates.join(', ')})` : '';
};

const lifecycleFindings = (facts: PreflightFacts, options: PreflightOptions): Finding[] => {
  const { model, region, now } = facts;
  const fm = foundationModelId(model);
  const answer = facts.foundationModel;
  const catalogueEol = model.endOfLife ? ` (end of life per the model card: ${model.endOfLife})` : '';
  if (!answer.ok) {
    if (NOT_FOUND.has(answer.error.name)) {
      const why = model.regions.includes(region)
        ? `it has reached end of life${catalogueEol || ' or is not offered to this account'}`
        : `it is not offered in ${region}`;
      return [
        {
          topic: Topic.LIFECYCLE,
          level: Level.FAIL,
          message: `Bedrock does not know ${fm} in ${region} (${describe(answer.error)}): ${why}. ${switchAdvice(facts)}`,
        },
      ];
    }
    if (isRetired(model, now)) {
      return [
        {
          topic: Topic.LIFECYCLE,
          level: Level.FAIL,
          message: `${fm} reached end of life on ${model.endOfLife} per the model card (Bedrock could not be asked: ${describe(answer.error)}). ${switchAdvice(facts)}`,
        },
      ];
    }
    return [{ topic: Topic.LIFECYCLE, level: Level.UNCHECKED, message: `could not read the model's lifecycle (${describe(answer.error)}); ${cannotAsk(answer.error, 'bedrock:GetFoundationModel', region)}` }];
  }
  const lifecycle = answer.value;
  const dates = lifecycleDates(lifecycle);
  const endOfLife = [lifecycle.endOfLife, model.endOfLife ? parseDay(model.endOfLife) : undefined]
    .filter((d): d is Date => d !== undefined)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  if (endOfLife && endOfLife <= now) {
    return [
      {
        topic: Topic.LIFECYCLE,
        level: Level.FAIL,
        message: `${fm} reached end of life on ${day(endOfLife)}: calls fail with ResourceNotFoundException. Status ${lifecycle.status}${dates}. ${switchAdvice(facts)}`,
      },
    ];
  }
  if (lifecycle.status === 'LEGACY') {
    const message =
      `${fm} is LEGACY${dates}: Bedrock refuses Legacy models to new accounts and to accounts that have not used it for 15 days. ` +
      (options.allowLegacy
        ? 'Allowed by --allow-legacy; plan the switch before end of life'
        : `${switchAdvice(facts)}; if this account still uses it, pass --allow-legacy`);
    return [{ topic: Topic.LIFECYCLE, level: options.allowLegacy ? Level.WARN : Level.FAIL, message }];
  }
  if (lifecycle.status !== 'ACTIVE') {
    return [{ topic: Topic.LIFECYCLE, level: Level.WARN, message: `${fm} has the unexpected lifecycle status ${lifecycle.status}${dates}` }];
  }
  if (endOfLife) {
    return [{ topic: Topic.LIFECYCLE, level: Level.WARN, message: `${fm} is ACTIVE${dates}; end of life is announced for ${day(endOfLife)}: plan the switch before then` }];
  }
  return [{ topic: Topic.LIFECYCLE, level: Level.OK, message: `${fm} is ACTIVE${dates}` }];
};

/** Best effort: the deploying credentials, not the generate function's role, and never a failure. */
const accessFindings = (facts: PreflightFacts): Finding[] => {
  const answer = facts.availability;
  const fm = foundationModelId(facts.model);
  if (!answer.ok) {
    return [
      {
        topic: Topic.ACCESS,
        level: Level.WARN,
        message: `not checked whether these credentials may invoke ${fm} (GetFoundationModelAvailability: ${describe(answer.error)})`,
      },
    ];
  }
  const a = answer.value;
  const findings: Finding[] = [];
  if (a.authorizationStatus !== 'AUTHORIZED') {
    findings.push({
      topic: Topic.ACCESS,
      level: Level.WARN,
      message: `authorizationStatus ${a.authorizationStatus}: a policy (IAM or an organisation SCP) denies these credentials ${fm}; an SCP would deny the generate function too`,
    });
  }
  if (a.entitlementAvailability !== 'AVAILABLE') {
    findings.push({
      topic: Topic.ACCESS,
      level: Level.WARN,
      message: `entitlementAvailability ${a.entitlementAvailability}: the account is not entitled to ${fm}; enable model access in the Bedrock console for ${facts.region}`,
    });
  }
  if (a.agreementStatus !== undefined && a.agreementStatus !== 'AVAILABLE') {
    const marketplace =
      facts.model.family === 'stability'
        ? ' The first call to a Stability model subscribes the account through AWS Marketplace, which needs aws-marketplace:Subscribe once: have an administrator invoke it once (e.g. in the Bedrock console playground) before the first upload'
        : '';
    findings.push({
      topic: Topic.ACCESS,
      level: Level.WARN,
      message: `model agreement ${a.agreementStatus}${a.agreementMessage ? ` (${a.agreementMessage})` : ''}.${marketplace}`,
    });
  }
  if (findings.length === 0 && a.regionAvailability !== 'AVAILABLE') {
    findings.push({ topic: Topic.ACCESS, level: Level.INFO, message: `not judged: ${fm} is not available in ${facts.region} (regionAvailability ${a.regionAvailability})` });
  }
  if (findings.length === 0) {
    findings.push({
      topic: Topic.ACCESS,
      level: Level.OK,
      message: `these credentials may invoke ${fm}: AUTHORIZED, entitlement AVAILABLE${a.agreementStatus ? `, agreement ${a.agreementStatus}` : ''}`,
    });
  }
  return findings;
};

const grouped = (n: number): string => n.toLocaleString('en-US');

/**
 * The ceiling as one line: informative, never a failure. Without pacing there is no ceiling,
 * which is worth a warning: nothing but the model's quota bounds the spend then.
 */
const spendFindings = (facts: PreflightFacts): Finding[] => {
  const s = facts.spend;
  if (!s) return [];
  const note = s.note ? ` (${s.note})` : '';
  const settings = `max_model_calls_in_flight=${s.callsInFlight} (${s.callsInFlightSource}), model_call_min_seconds=${s.minCallSeconds} (${s.minCallSecondsSource})`;
  if (!Number.isFinite(s.ceiling.modelCallsPerHour)) {
    return [
      {
        topic: Topic.SPEND,
        level: Level.WARN,
        message: `${settings}: no pacing, so no ceiling on model calls or spend per hour; only the model's quota bounds it${note}`,
      },
    ];
  }
  const c = s.ceiling;
  return [
    {
      topic: Topic.SPEND,
      level: Level.INFO,
      message:
        `at most ${grouped(c.modelCallsPerHour)} model calls, ${grouped(c.imagesPerHour)} images, $${c.usdPerHour.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} per hour ` +
        `(${settings}; ${s.imagesPerCall} image(s) per call at $${facts.model.pricePerImage.toFixed(2)})${note}`,
    },
  ];
};

/** Judges the gathered answers: every finding, the exit code and a one-line summary. */
export const decide = (facts: PreflightFacts, options: PreflightOptions = {}): Verdict => {
  const findings = [
    ...regionFindings(facts),
    ...profileFindings(facts),
    ...lifecycleFindings(facts, options),
    ...accessFindings(facts),
    ...spendFindings(facts),
  ];
  const target = `${facts.model.id} in ${facts.region}`;
  const failed = findings.filter((f) => f.level === Level.FAIL);
  if (failed.length > 0) {
    return { findings, exitCode: ExitCode.FAILED, summary: `preflight failed: ${target} cannot serve this deployment; see ✗ above` };
  }
  if (findings.some((f) => f.level === Level.UNCHECKED)) {
    return { findings, exitCode: ExitCode.UNCHECKED, summary: `preflight could not check ${target}; see ? above` };
  }
  return { findings, exitCode: ExitCode.OK, summary: `preflight passed: ${target} answers` };
};

const MARKS: Readonly<Record<Level, string>> = { ok: '✓', info: '·', warn: '!', fail: '✗', unchecked: '?' };

/** The report as printed: a header, one line per finding, the summary. */
export const formatVerdict = (facts: Pick<PreflightFacts, 'model' | 'region'>, verdict: Verdict): string =>
  [
    `preflight: ${facts.model.name} (${facts.model.id}) in ${facts.region}, $${facts.model.pricePerImage.toFixed(2)} per image`,
    ...verdict.findings.map((f) => `  ${MARKS[f.level]} ${f.topic.padEnd(9)} ${f.message}`),
    verdict.summary,
  ].join('\n');
