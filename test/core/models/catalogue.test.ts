import { expect } from 'chai';
import { findModel, foundationModelId, invokeResourceArns, MODELS } from '../../../functions/core/models/catalogue';
import { expectThrows } from '../../helpers/assertions';

const ACCOUNT = '123456789012';

describe('core/models/catalogue', () => {
  describe('invokeResourceArns', () => {
    it('for the Stability sketch profile: the profile ARN with the account, then the foundation model in us-east-1, us-east-2 and us-west-2', () => {
      expect(invokeResourceArns('us.stability.stable-image-control-sketch-v1:0', 'us-east-2', ACCOUNT)).to.deep.equal([
        'arn:aws:bedrock:us-east-2:123456789012:inference-profile/us.stability.stable-image-control-sketch-v1:0',
        'arn:aws:bedrock:us-east-1::foundation-model/stability.stable-image-control-sketch-v1:0',
        'arn:aws:bedrock:us-east-2::foundation-model/stability.stable-image-control-sketch-v1:0',
        'arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-control-sketch-v1:0',
      ]);
    });

    it('for the Stability structure profile in us-west-2', () => {
      expect(invokeResourceArns('us.stability.stable-image-control-structure-v1:0', 'us-west-2', ACCOUNT)).to.deep.equal([
        'arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.stability.stable-image-control-structure-v1:0',
        'arn:aws:bedrock:us-east-1::foundation-model/stability.stable-image-control-structure-v1:0',
        'arn:aws:bedrock:us-east-2::foundation-model/stability.stable-image-control-structure-v1:0',
        'arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-control-structure-v1:0',
      ]);
    });

    it('for Titan: one foundation-model ARN in the region, without account', () => {
      expect(invokeResourceArns('amazon.titan-image-generator-v2:0', 'us-west-2', ACCOUNT)).to.deep.equal([
        'arn:aws:bedrock:us-west-2::foundation-model/amazon.titan-image-generator-v2:0',
      ]);
    });

    it('for Nova in eu-west-1: one foundation-model ARN', () => {
      expect(invokeResourceArns('amazon.nova-canvas-v1:0', 'eu-west-1', ACCOUNT)).to.deep.equal([
        'arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-canvas-v1:0',
      ]);
    });

    it('refuses an unknown id (such as a Stability base id without the us. profile), listing the known ones', () => {
      expectThrows(
        () => invokeResourceArns('stability.stable-image-control-sketch-v1:0', 'us-east-1', ACCOUNT),
        Error,
        'Unknown model id "stability.stable-image-control-sketch-v1:0"; expected one of: us.stability.stable-image-control-sketch-v1:0, us.stability.stable-image-control-structure-v1:0, amazon.titan-image-generator-v2:0, amazon.nova-canvas-v1:0',
      );
    });

    it('for every model in every region it is offered in: well-formed ARNs, always including the foundation model in the stack region', () => {
      const ARN = /^arn:aws:bedrock:[a-z]{2}-[a-z]+-\d:(\d{12})?:(foundation-model|inference-profile)\/[a-z0-9.:-]+$/;
      for (const model of MODELS) {
        for (const region of model.regions) {
          const arns = invokeResourceArns(model.id, region, ACCOUNT);
          for (const arn of arns) expect(arn, `${model.id} in ${region}`).to.match(ARN);
          expect(arns, `${model.id} in ${region}`).to.include(`arn:aws:bedrock:${region}::foundation-model/${foundationModelId(model)}`);
          expect(new Set(arns).size, `${model.id} in ${region}: no duplicates`).to.equal(arns.length);
          if (model.inferenceProfile) {
            expect(arns[0]).to.equal(`arn:aws:bedrock:${region}:${ACCOUNT}:inference-profile/${model.id}`);
            expect(arns).to.have.length(1 + model.inferenceProfile.routesTo.length);
          } else {
            expect(arns).to.have.length(1);
          }
        }
      }
    });

    it('refuses every region outside the catalogue for every model, naming the model, the region and where it is offered', () => {
      for (const model of MODELS) {
        for (const region of ['eu-central-1', 'ap-southeast-2', 'us-east-2', 'eu-west-1', 'us-west-2'].filter((r) => !model.regions.includes(r))) {
          expectThrows(
            () => invokeResourceArns(model.id, region, ACCOUNT),
            Error,
            `Model ${model.id} is not offered in ${region}; it is offered in: ${model.regions.join(', ')}`,
          );
        }
      }
    });

    it('refuses a region the model is not offered in, listing where it is', () => {
      expectThrows(
        () => invokeResourceArns('amazon.titan-image-generator-v2:0', 'eu-central-1', ACCOUNT),
        Error,
        'Model amazon.titan-image-generator-v2:0 is not offered in eu-central-1; it is offered in: us-east-1, us-west-2',
      );
    });
  });

  describe('entries', () => {
    it('match the lifecycle table: regions and end-of-life dates', () => {
      expect(MODELS.map((m) => [m.id, m.family, m.regions.join(' '), m.endOfLife ?? null])).to.deep.equal([
        ['us.stability.stable-image-control-sketch-v1:0', 'stability', 'us-east-1 us-east-2 us-west-2', null],
        ['us.stability.stable-image-control-structure-v1:0', 'stability', 'us-east-1 us-east-2 us-west-2', null],
        ['amazon.titan-image-generator-v2:0', 'titan', 'us-east-1 us-west-2', '2026-06-30'],
        ['amazon.nova-canvas-v1:0', 'nova', 'us-east-1 eu-west-1 ap-northeast-1', '2026-09-30'],
      ]);
    });

    it('name each model, with legacy dates, prices per image and the foundation model behind a profile', () => {
      expect(MODELS.map((m) => [m.id, m.name, m.legacySince ?? null, m.pricePerImage, foundationModelId(m)])).to.deep.equal([
        ['us.stability.stable-image-control-sketch-v1:0', 'Stability AI Stable Image Control Sketch', null, 0.07, 'stability.stable-image-control-sketch-v1:0'],
        ['us.stability.stable-image-control-structure-v1:0', 'Stability AI Stable Image Control Structure', null, 0.07, 'stability.stable-image-control-structure-v1:0'],
        ['amazon.titan-image-generator-v2:0', 'Amazon Titan Image Generator v2', '2025-12-30', 0.01, 'amazon.titan-image-generator-v2:0'],
        ['amazon.nova-canvas-v1:0', 'Amazon Nova Canvas', '2026-03-30', 0.04, 'amazon.nova-canvas-v1:0'],
      ]);
    });

    it('findModel finds by exact id only', () => {
      expect(findModel('amazon.titan-image-generator-v2:0')?.family).to.equal('titan');
      expect(findModel('amazon.titan-image-generator-v2')).to.equal(undefined);
    });
  });
});
