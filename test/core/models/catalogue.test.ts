import { expect } from 'chai';
import { findModel, invokeResourceArns, MODELS } from '../../../functions/core/models/catalogue';
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

    it('findModel finds by exact id only', () => {
      expect(findModel('amazon.titan-image-generator-v2:0')?.family).to.equal('titan');
      expect(findModel('amazon.titan-image-generator-v2')).to.equal(undefined);
    });
  });
});
