import { expect } from 'chai';
import { DEFAULT_SYNTH_CONFIG, readSynthConfig } from '../../terraform/synth-config.js';

describe('readSynthConfig', () => {
  it('defaults to Titan in us-east-1 when nothing is set', () => {
    expect(readSynthConfig({})).to.deep.equal({ modelId: 'us.stability.stable-image-control-sketch-v1:0', region: 'us-east-1' });
    expect(DEFAULT_SYNTH_CONFIG).to.deep.equal(readSynthConfig({}));
  });

  it('treats empty variables as unset', () => {
    expect(readSynthConfig({ ICP_MODEL_ID: '', ICP_REGION: '' })).to.deep.equal(DEFAULT_SYNTH_CONFIG);
  });

  it('takes the model and region from ICP_MODEL_ID and ICP_REGION', () => {
    // Arrange
    const env = { ICP_MODEL_ID: 'us.stability.stable-image-control-sketch-v1:0', ICP_REGION: 'us-west-2' };
    // Act
    const config = readSynthConfig(env);
    // Assert
    expect(config).to.deep.equal({ modelId: 'us.stability.stable-image-control-sketch-v1:0', region: 'us-west-2' });
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('rejects a model the catalogue does not know, naming the variable and the allowed ids', () => {
    expect(() => readSynthConfig({ ICP_MODEL_ID: 'stability.sd3-large' })).to.throw(
      Error,
      'Expected one of: us.stability.stable-image-control-sketch-v1:0, us.stability.stable-image-control-structure-v1:0, ' +
        'amazon.titan-image-generator-v2:0, amazon.nova-canvas-v1:0 for ICP_MODEL_ID but received "stability.sd3-large"',
    );
  });

  it('rejects something that is not a region name', () => {
    expect(() => readSynthConfig({ ICP_REGION: 'US East' })).to.throw(
      Error,
      'Expected an AWS region name such as us-east-1 for ICP_REGION but received "US East"',
    );
  });
});
