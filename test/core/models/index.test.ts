import { expect } from 'chai';
import { adapterFor } from '../../../functions/core/models';
import { titanAdapter } from '../../../functions/core/models/titan';
import { expectThrows } from '../../helpers/assertions';

describe('core/models/index', () => {
  describe('adapterFor', () => {
    it('returns the Titan adapter for the Titan v2 id', () => {
      expect(adapterFor('amazon.titan-image-generator-v2:0')).to.equal(titanAdapter);
    });

    it('refuses an unknown id, listing the ids that have an adapter', () => {
      expectThrows(
        () => adapterFor('amazon.titan-image-generator-v1'),
        RangeError,
        'Expected one of: amazon.titan-image-generator-v2:0 for environment variable MODEL_ID but received "amazon.titan-image-generator-v1"',
      );
    });
  });
});
