import { expect } from 'chai';
import { spendCeiling } from '../../functions/core/spend';

describe('core/spend', () => {
  it('turns calls in flight and the shortest call into a ceiling of calls, images and dollars per hour', () => {
    const ceiling = spendCeiling({ modelId: 'us.stability.stable-image-control-sketch-v1:0', callsInFlight: 4, minCallMs: 5000, imagesPerCall: 1 });
    expect(ceiling).to.deep.equal({ modelCallsPerHour: 2880, imagesPerHour: 2880, usdPerHour: 201.6 });
  });

  it('counts every picture a several-image call may return', () => {
    const ceiling = spendCeiling({ modelId: 'amazon.titan-image-generator-v2:0', callsInFlight: 2, minCallMs: 10_000, imagesPerCall: 5 });
    expect(ceiling).to.deep.equal({ modelCallsPerHour: 720, imagesPerHour: 3600, usdPerHour: 36 });
  });

  it('has no ceiling without a shortest call, and refuses a model it does not know', () => {
    expect(spendCeiling({ modelId: 'amazon.nova-canvas-v1:0', callsInFlight: 2, minCallMs: 0, imagesPerCall: 5 }).usdPerHour).to.equal(Infinity);
    expect(() => spendCeiling({ modelId: 'nope', callsInFlight: 2, minCallMs: 1, imagesPerCall: 1 })).to.throw('Expected a model of the catalogue for modelId but received "nope"');
  });
});
