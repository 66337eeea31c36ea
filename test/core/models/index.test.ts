import { expect } from 'chai';
import { adapterFor, ADAPTERS } from '../../../functions/core/models';
import { MODELS } from '../../../functions/core/models/catalogue';
import { novaAdapter } from '../../../functions/core/models/nova';
import { controlSketchAdapter, controlStructureAdapter } from '../../../functions/core/models/stability';
import { titanAdapter } from '../../../functions/core/models/titan';
import { expectThrows } from '../../helpers/assertions';

describe('core/models/index', () => {
  describe('adapterFor', () => {
    it('returns the Titan adapter for the Titan v2 id', () => {
      expect(adapterFor('amazon.titan-image-generator-v2:0')).to.equal(titanAdapter);
    });

    it('returns the Nova adapter for Nova Canvas', () => {
      expect(adapterFor('amazon.nova-canvas-v1:0')).to.equal(novaAdapter);
    });

    it('tells the two Stability tools apart: Sketch gets the edge mask, Structure the photo', () => {
      const sketch = adapterFor('us.stability.stable-image-control-sketch-v1:0');
      const structure = adapterFor('us.stability.stable-image-control-structure-v1:0');
      expect(sketch).to.equal(controlSketchAdapter);
      expect(structure).to.equal(controlStructureAdapter);
      expect(sketch.conditioningInput).to.equal('edges');
      expect(structure.conditioningInput).to.equal('photo');
    });

    it('has an adapter of the catalogued family for every catalogued model, and no other', () => {
      expect(Object.keys(ADAPTERS)).to.have.members(MODELS.map((m) => m.id));
      for (const model of MODELS) expect(adapterFor(model.id).family, model.id).to.equal(model.family);
    });

    it('refuses an unknown id (a retired model, a Stability base id without the profile, a prototype key), listing the ids that have an adapter', () => {
      for (const id of ['amazon.titan-image-generator-v1', 'stability.stable-image-control-sketch-v1:0', 'toString', '']) {
        expectThrows(
          () => adapterFor(id),
          RangeError,
          `Expected one of: us.stability.stable-image-control-sketch-v1:0, us.stability.stable-image-control-structure-v1:0, amazon.titan-image-generator-v2:0, amazon.nova-canvas-v1:0 for environment variable MODEL_ID but received ${JSON.stringify(id)}`,
        );
      }
    });
  });
});
