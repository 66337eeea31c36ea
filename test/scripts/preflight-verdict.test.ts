import { expect } from 'chai';
import { findModel, type ModelEntry } from '../../functions/core/models/catalogue';
import { spendCeiling } from '../../functions/core/spend';
import {
  decide,
  formatVerdict,
  type Answer,
  type AvailabilityFacts,
  type LifecycleFacts,
  type PreflightFacts,
  type ProfileFacts,
  type SpendFacts,
} from '../../scripts/preflight/verdict';

const SKETCH = 'us.stability.stable-image-control-sketch-v1:0';
const STRUCTURE = 'us.stability.stable-image-control-structure-v1:0';
const TITAN = 'amazon.titan-image-generator-v2:0';
const NOVA = 'amazon.nova-canvas-v1:0';
const NOW = new Date('2026-11-24T00:00:00Z');

const model = (id: string): ModelEntry => findModel(id)!;
const ok = <T>(value: T): Answer<T> => ({ ok: true, value });
const err = (name: string, message: string): Answer<never> => ({ ok: false, error: { name, message } });
const date = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

const ACTIVE: Answer<LifecycleFacts> = ok({ status: 'ACTIVE' });
const AVAILABLE: Answer<AvailabilityFacts> = ok({ authorizationStatus: 'AUTHORIZED', entitlementAvailability: 'AVAILABLE', regionAvailability: 'AVAILABLE', agreementStatus: 'AVAILABLE' });
const profileTo = (base: string, regions: readonly string[], status = 'ACTIVE'): Answer<ProfileFacts> =>
  ok({ status, modelArns: regions.map((r) => `arn:aws:bedrock:${r}::foundation-model/${base}`) });
const STABILITY_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2'];

/** Facts for `id` in `region` where everything answers well; tests override what they vary. */
const facts = (id: string, region: string, overrides: Partial<PreflightFacts> = {}): PreflightFacts => {
  const entry = model(id);
  return {
    model: entry,
    region,
    now: NOW,
    ...(entry.inferenceProfile ? { profile: profileTo(entry.inferenceProfile.foundationModelId, entry.inferenceProfile.routesTo) } : {}),
    foundationModel: ACTIVE,
    availability: AVAILABLE,
    ...overrides,
  };
};

const levels = (verdict: ReturnType<typeof decide>): string[] => verdict.findings.map((f) => `${f.topic}:${f.level}`);
const messageOf = (verdict: ReturnType<typeof decide>, topic: string): string => verdict.findings.find((f) => f.topic === topic)!.message;

describe('scripts/preflight/verdict', () => {
  describe('ACTIVE', () => {
    it('passes Control Sketch in us-east-1 with every check green', () => {
      const verdict = decide(facts(SKETCH, 'us-east-1'));
      expect(verdict.exitCode).to.equal(0);
      expect(levels(verdict)).to.deep.equal(['region:ok', 'profile:ok', 'lifecycle:ok', 'access:ok']);
      expect(verdict.summary).to.equal('preflight passed: us.stability.stable-image-control-sketch-v1:0 in us-east-1 answers');
    });

    it('prints the model, the price, one line per finding and the summary', () => {
      const f = facts(SKETCH, 'us-west-2', { foundationModel: ok({ status: 'ACTIVE', startOfLife: date('2025-09-16') }) });
      expect(formatVerdict(f, decide(f))).to.equal(
        [
          'preflight: Stability AI Stable Image Control Sketch (us.stability.stable-image-control-sketch-v1:0) in us-west-2, $0.07 per image',
          '  ✓ region    offered in us-west-2 (catalogue: us-east-1, us-east-2, us-west-2)',
          '  ✓ profile   us.stability.stable-image-control-sketch-v1:0 ACTIVE, routes to us-east-1, us-east-2, us-west-2',
          '  ✓ lifecycle stability.stable-image-control-sketch-v1:0 is ACTIVE (start of life 2025-09-16)',
          '  ✓ access    these credentials may invoke stability.stable-image-control-sketch-v1:0: AUTHORIZED, entitlement AVAILABLE, agreement AVAILABLE',
          'preflight passed: us.stability.stable-image-control-sketch-v1:0 in us-west-2 answers',
        ].join('\n'),
      );
    });

    it('warns (and passes) when an ACTIVE model has an announced end of life', () => {
      const verdict = decide(facts(STRUCTURE, 'us-east-2', { foundationModel: ok({ status: 'ACTIVE', endOfLife: date('2027-05-01') }) }));
      expect(verdict.exitCode).to.equal(0);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        'stability.stable-image-control-structure-v1:0 is ACTIVE (end of life 2027-05-01); end of life is announced for 2027-05-01: plan the switch before then',
      );
    });
  });

  describe('LEGACY', () => {
    const legacyTitan = ok<LifecycleFacts>({ status: 'LEGACY', legacy: date('2025-12-30'), endOfLife: date('2026-06-30') });
    const BEFORE_EOL = new Date('2026-03-01T00:00:00Z');

    it('fails before end of life, with the dates, the reason and what to do', () => {
      const verdict = decide(facts(TITAN, 'us-east-1', { foundationModel: legacyTitan, now: BEFORE_EOL }));
      expect(verdict.exitCode).to.equal(1);
      expect(levels(verdict)).to.deep.equal(['region:ok', 'lifecycle:fail', 'access:ok']);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        'amazon.titan-image-generator-v2:0 is LEGACY (legacy 2025-12-30, end of life 2026-06-30): Bedrock refuses Legacy models to new accounts and to accounts that have not used it for 15 days. ' +
          'Choose a model that answers in us-east-1, e.g. ICP_MODEL_ID=us.stability.stable-image-control-sketch-v1:0 npm run deploy; if this account still uses it, pass --allow-legacy',
      );
      expect(verdict.summary).to.equal('preflight failed: amazon.titan-image-generator-v2:0 in us-east-1 cannot serve this deployment; see ✗ above');
    });

    it('only warns with --allow-legacy', () => {
      const verdict = decide(facts(TITAN, 'us-west-2', { foundationModel: legacyTitan, now: BEFORE_EOL }), { allowLegacy: true });
      expect(verdict.exitCode).to.equal(0);
      expect(levels(verdict)).to.deep.equal(['region:ok', 'lifecycle:warn', 'access:ok']);
      expect(messageOf(verdict, 'lifecycle')).to.match(/Allowed by --allow-legacy; plan the switch before end of life$/);
    });
  });

  describe('end of life', () => {
    it('fails when the service\'s end-of-life date has passed, even with --allow-legacy', () => {
      const verdict = decide(facts(NOVA, 'eu-west-1', { foundationModel: ok({ status: 'LEGACY', legacy: date('2026-03-30'), endOfLife: date('2026-09-30') }) }), { allowLegacy: true });
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        'amazon.nova-canvas-v1:0 reached end of life on 2026-09-30: calls fail with ResourceNotFoundException. Status LEGACY (legacy 2026-03-30, end of life 2026-09-30). ' +
          'No active catalogue model is offered in eu-west-1; e.g. ICP_MODEL_ID=us.stability.stable-image-control-sketch-v1:0 ICP_REGION=us-east-1 npm run deploy',
      );
    });

    it('fails on the catalogue\'s end-of-life date when the service gives none', () => {
      const verdict = decide(facts(TITAN, 'us-east-1', { foundationModel: ok({ status: 'LEGACY' }) }));
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'lifecycle')).to.match(/^amazon\.titan-image-generator-v2:0 reached end of life on 2026-06-30: /);
    });

    it('takes the earlier of the two dates', () => {
      const verdict = decide(facts(NOVA, 'us-east-1', { now: new Date('2026-08-01T00:00:00Z'), foundationModel: ok({ status: 'LEGACY', endOfLife: date('2026-07-15') }) }));
      expect(messageOf(verdict, 'lifecycle')).to.match(/reached end of life on 2026-07-15/);
    });

    it('fails when Bedrock no longer knows the model in a region the catalogue lists (ResourceNotFoundException)', () => {
      const verdict = decide(
        facts(TITAN, 'us-east-1', {
          foundationModel: err('ResourceNotFoundException', 'The model was not found.'),
          availability: err('ResourceNotFoundException', 'The model was not found.'),
        }),
      );
      expect(verdict.exitCode).to.equal(1);
      expect(levels(verdict)).to.deep.equal(['region:ok', 'lifecycle:fail', 'access:warn']);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        'Bedrock does not know amazon.titan-image-generator-v2:0 in us-east-1 (ResourceNotFoundException: The model was not found.): it has reached end of life (end of life per the model card: 2026-06-30). ' +
          'Choose a model that answers in us-east-1, e.g. ICP_MODEL_ID=us.stability.stable-image-control-sketch-v1:0 npm run deploy',
      );
      expect(messageOf(verdict, 'access')).to.equal(
        'not checked whether these credentials may invoke amazon.titan-image-generator-v2:0 (GetFoundationModelAvailability: ResourceNotFoundException: The model was not found.)',
      );
    });
  });

  describe('not in region', () => {
    it('fails from the catalogue, naming where the model is offered and what is offered here', () => {
      const verdict = decide(facts(NOVA, 'us-east-2', { foundationModel: err('ResourceNotFoundException', 'not here') }));
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'region')).to.equal(
        'amazon.nova-canvas-v1:0 is not offered in us-east-2; it is offered in: us-east-1, eu-west-1, ap-northeast-1. Deploy to one of those (ICP_REGION=us-east-1 npm run deploy) ' +
          'or choose a model offered in us-east-2: us.stability.stable-image-control-sketch-v1:0, us.stability.stable-image-control-structure-v1:0',
      );
      expect(messageOf(verdict, 'lifecycle')).to.match(/: it is not offered in us-east-2\. Choose a model that answers in us-east-2, e\.g\. ICP_MODEL_ID=us\.stability\.stable-image-control-sketch-v1:0 npm run deploy$/);
    });

    it('fails on a missing inference profile', () => {
      const verdict = decide(facts(SKETCH, 'eu-west-1', { profile: err('ResourceNotFoundException', 'no such profile') }));
      expect(verdict.exitCode).to.equal(1);
      expect(levels(verdict)).to.deep.include.members(['region:fail', 'profile:fail']);
      expect(messageOf(verdict, 'profile')).to.equal(
        'the inference profile us.stability.stable-image-control-sketch-v1:0 is not found in eu-west-1 (ResourceNotFoundException: no such profile). Deploy to a region that has it: us-east-1, us-east-2, us-west-2',
      );
    });

    it('fails when Bedrock says the model is not available in a region the catalogue lists', () => {
      const verdict = decide(facts(STRUCTURE, 'us-east-2', { availability: ok({ authorizationStatus: 'AUTHORIZED', entitlementAvailability: 'AVAILABLE', regionAvailability: 'NOT_AVAILABLE' }) }));
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'region')).to.equal(
        'Bedrock reports stability.stable-image-control-structure-v1:0 as not available in us-east-2 (regionAvailability NOT_AVAILABLE), though the catalogue lists it there. ' +
          'Choose a model that answers in us-east-2, e.g. ICP_MODEL_ID=us.stability.stable-image-control-sketch-v1:0 npm run deploy, or deploy to another of: us-east-1, us-east-2, us-west-2',
      );
      expect(messageOf(verdict, 'access')).to.equal('not judged: stability.stable-image-control-structure-v1:0 is not available in us-east-2 (regionAvailability NOT_AVAILABLE)');
    });
  });

  describe('inference profile', () => {
    it('fails when the profile routes to a region the IAM policy does not cover', () => {
      const verdict = decide(facts(SKETCH, 'us-east-1', { profile: profileTo('stability.stable-image-control-sketch-v1:0', [...STABILITY_REGIONS, 'us-west-1']) }));
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'profile')).to.equal(
        "the inference profile also routes to us-west-1, which the generate role's IAM policy does not cover (catalogue routesTo: us-east-1, us-east-2, us-west-2); " +
          'calls routed there would fail with AccessDeniedException. Add the regions to routesTo in functions/core/models/catalogue.ts',
      );
    });

    it('passes when it routes to fewer regions than the catalogue allows', () => {
      const verdict = decide(facts(SKETCH, 'us-east-1', { profile: profileTo('stability.stable-image-control-sketch-v1:0', ['us-east-1', 'us-west-2']) }));
      expect(verdict.exitCode).to.equal(0);
      expect(messageOf(verdict, 'profile')).to.equal('us.stability.stable-image-control-sketch-v1:0 ACTIVE, routes to us-east-1, us-west-2');
    });

    it('fails when the profile is not ACTIVE or routes to another model', () => {
      expect(decide(facts(SKETCH, 'us-east-1', { profile: profileTo('stability.stable-image-control-sketch-v1:0', STABILITY_REGIONS, 'DISABLED') })).exitCode).to.equal(1);
      const verdict = decide(facts(SKETCH, 'us-east-1', { profile: profileTo('stability.stable-image-control-sketch-v2:0', STABILITY_REGIONS) }));
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'profile')).to.match(/^the inference profile routes to stability\.stable-image-control-sketch-v2:0, not only to stability\.stable-image-control-sketch-v1:0/);
    });
  });

  describe('could not check', () => {
    it('exits 2 without permission to read the lifecycle', () => {
      const denied = err('AccessDeniedException', 'User is not authorized to perform: bedrock:GetFoundationModel');
      const verdict = decide(facts(SKETCH, 'us-east-1', { foundationModel: denied, profile: denied, availability: denied }));
      expect(verdict.exitCode).to.equal(2);
      expect(levels(verdict)).to.deep.equal(['region:ok', 'profile:unchecked', 'lifecycle:unchecked', 'access:warn']);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        "could not read the model's lifecycle (AccessDeniedException: User is not authorized to perform: bedrock:GetFoundationModel); these credentials need bedrock:GetFoundationModel in us-east-1",
      );
      expect(verdict.summary).to.equal('preflight could not check us.stability.stable-image-control-sketch-v1:0 in us-east-1; see ? above');
    });

    it('exits 2 without credentials, saying so', () => {
      const none = err('CredentialsProviderError', 'Could not load credentials from any providers');
      const verdict = decide(facts(TITAN, 'us-east-1', { foundationModel: none, availability: none, now: new Date('2026-01-01T00:00:00Z') }));
      expect(verdict.exitCode).to.equal(2);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        "could not read the model's lifecycle (CredentialsProviderError: Could not load credentials from any providers); no AWS credentials were found: sign in (aws sso login, AWS_PROFILE, …) and run it again",
      );
    });

    it('exits 2 when the network fails', () => {
      const verdict = decide(facts(SKETCH, 'us-east-1', { foundationModel: err('Error', 'getaddrinfo ENOTFOUND bedrock.us-east-1.amazonaws.com') }));
      expect(verdict.exitCode).to.equal(2);
      expect(messageOf(verdict, 'lifecycle')).to.match(/; check the network and the credentials, then run it again$/);
    });

    it('still fails on the catalogue\'s end-of-life date when Bedrock could not be asked', () => {
      const none = err('CredentialsProviderError', 'Could not load credentials from any providers');
      const verdict = decide(facts(TITAN, 'us-east-1', { foundationModel: none, availability: none }));
      expect(verdict.exitCode).to.equal(1);
      expect(messageOf(verdict, 'lifecycle')).to.equal(
        'amazon.titan-image-generator-v2:0 reached end of life on 2026-06-30 per the model card (Bedrock could not be asked: CredentialsProviderError: Could not load credentials from any providers). ' +
          'Choose a model that answers in us-east-1, e.g. ICP_MODEL_ID=us.stability.stable-image-control-sketch-v1:0 npm run deploy',
      );
    });

    it('still exits 1 when something failed as well', () => {
      const none = err('CredentialsProviderError', 'Could not load credentials from any providers');
      expect(decide(facts(SKETCH, 'eu-west-1', { foundationModel: none, availability: none, profile: none })).exitCode).to.equal(1);
    });
  });

  describe('access (best effort, never fails the preflight)', () => {
    it('warns about authorization, entitlement and a missing Marketplace agreement for Stability', () => {
      const verdict = decide(
        facts(SKETCH, 'us-east-1', {
          availability: ok({ authorizationStatus: 'NOT_AUTHORIZED', entitlementAvailability: 'NOT_AVAILABLE', regionAvailability: 'AVAILABLE', agreementStatus: 'NOT_AVAILABLE' }),
        }),
      );
      expect(verdict.exitCode).to.equal(0);
      expect(verdict.findings.filter((f) => f.topic === 'access').map((f) => f.message)).to.deep.equal([
        'authorizationStatus NOT_AUTHORIZED: a policy (IAM or an organisation SCP) denies these credentials stability.stable-image-control-sketch-v1:0; an SCP would deny the generate function too',
        'entitlementAvailability NOT_AVAILABLE: the account is not entitled to stability.stable-image-control-sketch-v1:0; enable model access in the Bedrock console for us-east-1',
        'model agreement NOT_AVAILABLE. The first call to a Stability model subscribes the account through AWS Marketplace, which needs aws-marketplace:Subscribe once: have an administrator invoke it once (e.g. in the Bedrock console playground) before the first upload',
      ]);
    });

    it('quotes the agreement error message', () => {
      const verdict = decide(facts(NOVA, 'us-east-1', { now: new Date('2026-01-01T00:00:00Z'), availability: ok({ authorizationStatus: 'AUTHORIZED', entitlementAvailability: 'AVAILABLE', regionAvailability: 'AVAILABLE', agreementStatus: 'ERROR', agreementMessage: 'payment method missing' }) }));
      expect(messageOf(verdict, 'access')).to.equal('model agreement ERROR (payment method missing).');
    });
  });

  describe('the spend ceiling (informative: never changes the verdict)', () => {
    const spend = (callsInFlight: number, minCallSeconds: number, imagesPerCall: number, modelId = SKETCH, note?: string): SpendFacts => ({
      callsInFlight,
      callsInFlightSource: 'default',
      minCallSeconds,
      minCallSecondsSource: 'default',
      imagesPerCall,
      ceiling: spendCeiling({ modelId, callsInFlight, minCallMs: minCallSeconds * 1000, imagesPerCall }),
      ...(note ? { note } : {}),
    });

    it('prints the ceiling as one more line after the Bedrock ones', () => {
      const f = facts(SKETCH, 'us-east-1', { spend: spend(4, 5, 1) });
      const verdict = decide(f);
      expect(verdict.exitCode).to.equal(0);
      expect(levels(verdict)).to.deep.equal(['region:ok', 'profile:ok', 'lifecycle:ok', 'access:ok', 'spend:info']);
      expect(formatVerdict(f, verdict).split('\n').at(-2)).to.equal(
        '  · spend     at most 2,880 model calls, 2,880 images, $201.60 per hour (max_model_calls_in_flight=4 (default), model_call_min_seconds=5 (default); 1 image(s) per call at $0.07)',
      );
    });

    it('groups large numbers and says a note about inputs it did not read', () => {
      const verdict = decide(facts(SKETCH, 'us-east-1', { spend: spend(1000, 1, 1, SKETCH, '-var-file prod.tfvars not read') }));
      expect(messageOf(verdict, 'spend')).to.equal(
        'at most 3,600,000 model calls, 3,600,000 images, $252,000.00 per hour (max_model_calls_in_flight=1000 (default), model_call_min_seconds=1 (default); 1 image(s) per call at $0.07) (-var-file prod.tfvars not read)',
      );
    });

    it('warns, without failing, when there is no pacing and so no ceiling', () => {
      const verdict = decide(facts(SKETCH, 'us-east-1', { spend: spend(4, 0, 1) }));
      expect(verdict.exitCode).to.equal(0);
      expect(levels(verdict).at(-1)).to.equal('spend:warn');
      expect(messageOf(verdict, 'spend')).to.match(/model_call_min_seconds=0 \(default\): no pacing, so no ceiling on model calls or spend per hour/);
    });

    it('does not turn a failing or unchecked model into a pass', () => {
      expect(decide(facts(SKETCH, 'eu-west-1', { spend: spend(4, 5, 1) })).exitCode).to.equal(1);
      const none = err('CredentialsProviderError', 'Could not load credentials from any providers');
      expect(decide(facts(SKETCH, 'us-east-1', { spend: spend(4, 5, 1), foundationModel: none, profile: none, availability: none })).exitCode).to.equal(2);
    });
  });
});
