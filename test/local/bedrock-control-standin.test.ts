/**
 * The local Bedrock control-plane stand-in, through the real @aws-sdk/client-bedrock and raw HTTP.
 */
import {
  BedrockClient,
  GetFoundationModelAvailabilityCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-bedrock';
import { expect } from 'chai';
import { startBedrockControlStandIn, type ControlStandIn } from '../../scripts/local/bedrock-control-standin';

const CREDENTIALS = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'standin-secret' };

describe('scripts/local/bedrock-control-standin', () => {
  let standIn: ControlStandIn;
  let retired: ControlStandIn;
  const client = (s: ControlStandIn, region: string): BedrockClient =>
    new BedrockClient({ region, endpoint: s.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });

  before(async () => {
    standIn = await startBedrockControlStandIn();
    retired = await startBedrockControlStandIn({ answerRetiredModels: true });
  });

  after(async () => {
    await Promise.all([standIn?.close(), retired?.close()]);
  });

  it('answers GetFoundationModel for an active model with its ARN in the signing region and an ACTIVE lifecycle', async () => {
    const out = await client(standIn, 'us-west-2').send(new GetFoundationModelCommand({ modelIdentifier: 'stability.stable-image-control-sketch-v1:0' }));
    expect(out.modelDetails?.modelArn).to.equal('arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-control-sketch-v1:0');
    expect(out.modelDetails?.modelLifecycle).to.deep.equal({ status: 'ACTIVE' });
    expect(standIn.calls.at(-1)).to.include({ operation: 'GetFoundationModel', id: 'stability.stable-image-control-sketch-v1:0', region: 'us-west-2', status: 200 });
  });

  it('answers Titan v2 and Nova Canvas with ResourceNotFoundException by default, as after end of life', async () => {
    for (const id of ['amazon.titan-image-generator-v2:0', 'amazon.nova-canvas-v1:0']) {
      const error = await client(standIn, 'us-east-1').send(new GetFoundationModelCommand({ modelIdentifier: id })).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ResourceNotFoundException);
      expect((error as Error).message).to.equal(`The foundation model ${id} was not found in us-east-1.`);
    }
  });

  it('with answerRetiredModels: LEGACY with the model cards\' dates, read by the SDK as Dates', async () => {
    const out = await client(retired, 'us-east-1').send(new GetFoundationModelCommand({ modelIdentifier: 'amazon.titan-image-generator-v2:0' }));
    expect(out.modelDetails?.modelLifecycle).to.deep.equal({
      status: 'LEGACY',
      legacyTime: new Date('2025-12-30T00:00:00Z'),
      endOfLifeTime: new Date('2026-06-30T00:00:00Z'),
    });
  });

  it('knows each model only in its regions', async () => {
    const error = await client(retired, 'us-east-2').send(new GetFoundationModelCommand({ modelIdentifier: 'amazon.nova-canvas-v1:0' })).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ResourceNotFoundException);
    const out = await client(retired, 'eu-west-1').send(new GetFoundationModelCommand({ modelIdentifier: 'amazon.nova-canvas-v1:0' }));
    expect(out.modelDetails?.modelLifecycle?.status).to.equal('LEGACY');
  });

  it('answers GetInferenceProfile for the us. profiles with the foundation model in every routed region', async () => {
    const out = await client(standIn, 'us-east-1').send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'us.stability.stable-image-control-structure-v1:0' }));
    expect(out).to.include({
      inferenceProfileArn: 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.stability.stable-image-control-structure-v1:0',
      inferenceProfileId: 'us.stability.stable-image-control-structure-v1:0',
      status: 'ACTIVE',
      type: 'SYSTEM_DEFINED',
    });
    expect(out.models?.map((m) => m.modelArn)).to.deep.equal(
      ['us-east-1', 'us-east-2', 'us-west-2'].map((r) => `arn:aws:bedrock:${r}::foundation-model/stability.stable-image-control-structure-v1:0`),
    );
    const missing = await client(standIn, 'us-east-1').send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'amazon.nova-canvas-v1:0' })).catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(ResourceNotFoundException);
  });

  it('answers GetFoundationModelAvailability, NOT_AVAILABLE outside the model\'s regions', async () => {
    const here = await client(standIn, 'us-east-1').send(new GetFoundationModelAvailabilityCommand({ modelId: 'stability.stable-image-control-sketch-v1:0' }));
    expect(here).to.deep.include({
      modelId: 'stability.stable-image-control-sketch-v1:0',
      agreementAvailability: { status: 'AVAILABLE' },
      authorizationStatus: 'AUTHORIZED',
      entitlementAvailability: 'AVAILABLE',
      regionAvailability: 'AVAILABLE',
    });
    const elsewhere = await client(standIn, 'eu-west-1').send(new GetFoundationModelAvailabilityCommand({ modelId: 'stability.stable-image-control-sketch-v1:0' }));
    expect(elsewhere.regionAvailability).to.equal('NOT_AVAILABLE');
  });

  it('answers other routes with 404 UnknownOperationException; unsigned requests get the default region', async () => {
    const response = await fetch(`${standIn.endpoint}/foundation-models`);
    expect(response.status).to.equal(404);
    expect(response.headers.get('x-amzn-errortype')).to.equal('UnknownOperationException');
    expect(await response.json()).to.deep.equal({ message: 'The local Bedrock control-plane stand-in does not implement GET /foundation-models.' });
    await fetch(`${standIn.endpoint}/foundation-models/stability.stable-image-control-sketch-v1%3A0`);
    expect(standIn.calls.at(-1)).to.include({ region: 'us-east-1', status: 200 });
  });
});
