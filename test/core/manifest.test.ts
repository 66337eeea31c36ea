import { expect } from 'chai';
import { buildManifest, type CallRecord, type GenerationResult } from '../../functions/core/manifest';
import { failureReport, jobParameters, readyJob, rejectedJob, MODEL_ID } from '../helpers/factories';

const NOW = new Date('2026-10-01T12:00:30.000Z');

const result = (calls: CallRecord[], overrides: Partial<GenerationResult> = {}): GenerationResult => {
  const received = calls.reduce((n, c) => n + c.received, 0);
  return {
    modelId: MODEL_ID,
    family: 'titan',
    unusedParameters: [],
    seeds: calls.flatMap((c) => Array.from({ length: c.received }, () => c.seed)),
    imageKeys: Array.from({ length: received }, (_, i) => `photos/tiger/${i + 1}.png`),
    calls,
    timings: { readMs: 5, modelMs: 9000, writeMs: 50 },
    ...overrides,
  };
};

describe('core/manifest', () => {
  describe('buildManifest', () => {
    it('reports a fully delivered job as succeeded, with seeds, outputs and provenance', () => {
      // Arrange
      const job = readyJob({ parameters: jobParameters({ count: 2, negativePrompt: 'blurry' }), ignoredMetadata: ['promt'] });
      const generated = result([{ seed: 1234, requested: 2, received: 2, ms: 9000 }]);

      // Act
      const manifest = buildManifest(job, generated, undefined, NOW);

      // Assert
      expect(manifest.outcome).to.equal('succeeded');
      expect(manifest.jobId).to.equal(job.jobId);
      expect(manifest.source).to.deep.equal(job.source);
      expect(manifest.model).to.deep.equal({ id: MODEL_ID, family: 'titan', unusedParameters: [] });
      expect(manifest.prompt).to.equal('a tiger as a pencil sketch');
      expect(manifest.negativePrompt).to.equal('blurry');
      expect(manifest.parameters).to.deep.equal({ ...job.parameters, seeds: [1234, 1234] });
      expect(manifest.ignoredMetadata).to.deep.equal(['promt']);
      expect(manifest.sizes).to.deep.equal({ source: { width: 5120, height: 2880 }, conditioning: { width: 1152, height: 640 } });
      expect(manifest.crop).to.deep.equal(job.conditioning.crop);
      expect(manifest.sourceFormat).to.equal('jpeg');
      expect(manifest.edgeMask).to.deep.equal({ thresholds: { low: 40, high: 100 }, density: 0.08 });
      expect(manifest.outputs).to.deep.equal({ images: ['photos/tiger/1.png', 'photos/tiger/2.png'], edges: 'photos/tiger/edges.png' });
      expect(manifest.calls).to.deep.equal(generated.calls);
      expect(manifest.imagesBlocked).to.equal(0);
      expect(manifest).not.to.have.property('failure');
      expect(manifest.timings).to.deep.equal({ prepare: job.timings, generate: generated.timings });
      expect(manifest.preparedAt).to.equal(job.preparedAt);
      expect(manifest.completedAt).to.equal('2026-10-01T12:00:30.000Z');
    });

    it('records a missing negative prompt as null', () => {
      const manifest = buildManifest(readyJob(), result([{ seed: 1, requested: 1, received: 1, ms: 1 }]), undefined, NOW);
      expect(manifest.negativePrompt).to.equal(null);
    });

    it('reports partially-blocked with the number of blocked images when the model returned fewer than asked', () => {
      // Two one-image calls delivered, one blocked; one three-image call delivered one.
      const calls = [
        { seed: 11, requested: 1, received: 1, ms: 10 },
        { seed: 12, requested: 1, received: 0, ms: 10 },
        { seed: 13, requested: 3, received: 1, ms: 10 },
      ];
      const manifest = buildManifest(readyJob({ parameters: jobParameters({ count: 5 }) }), result(calls), undefined, NOW);
      expect(manifest.outcome).to.equal('partially-blocked');
      expect(manifest.imagesBlocked).to.equal(3);
      expect(manifest.parameters?.seeds).to.deep.equal([11, 13]);
      expect(manifest.outputs.images).to.have.length(2);
    });

    it('reports partially-blocked when a single image of several was blocked', () => {
      const manifest = buildManifest(readyJob(), result([{ seed: 5, requested: 2, received: 1, ms: 10 }]), undefined, NOW);
      expect(manifest.outcome).to.equal('partially-blocked');
      expect(manifest.imagesBlocked).to.equal(1);
    });

    it('reports failed with the failure and the error key when a ready job failed', () => {
      const failure = failureReport({ reason: 'CONTENT_FILTERED', message: 'All of the generated images have been blocked by our content filters.' });
      const manifest = buildManifest(readyJob(), undefined, failure, NOW);
      expect(manifest.outcome).to.equal('failed');
      expect(manifest.failure).to.deep.equal(failure);
      expect(manifest.outputs).to.deep.equal({ images: [], edges: 'photos/tiger/edges.png', error: 'photos/tiger/error.json' });
      expect(manifest.model).to.deep.equal({ id: MODEL_ID });
      expect(manifest.parameters?.seeds).to.deep.equal([]);
      expect(manifest).not.to.have.property('calls');
      expect(manifest).not.to.have.property('imagesBlocked');
      expect(manifest.timings).to.deep.equal({ prepare: readyJob().timings, generate: {} });
    });

    it('reports failed when a failure comes with a result', () => {
      const generated = result([{ seed: 1, requested: 1, received: 1, ms: 1 }]);
      expect(buildManifest(readyJob(), generated, failureReport(), NOW).outcome).to.equal('failed');
    });

    it('gives a rejected job a failed outcome with the failure and no parameters, prompt or edges', () => {
      // Arrange
      const job = rejectedJob();

      // Act
      const manifest = buildManifest(job, undefined, job.failure, NOW);

      // Assert
      expect(manifest.outcome).to.equal('failed');
      expect(manifest.failure).to.deep.equal(job.failure);
      for (const key of ['parameters', 'prompt', 'negativePrompt', 'ignoredMetadata', 'sizes', 'crop', 'sourceFormat', 'edgeMask', 'calls']) {
        expect(manifest, key).not.to.have.property(key);
      }
      expect(manifest.outputs).to.deep.equal({ images: [], edges: null, error: 'photos/tiger/error.json' });
    });
  
    it('records the parameters the model ignored, so a user sees that their setting had no effect', () => {
      const manifest = buildManifest(readyJob(), result([{ seed: 7, requested: 1, received: 1, ms: 10 }], { unusedParameters: ['control-mode', 'quality'] }), undefined, NOW);

      expect(manifest.model).to.deep.include({ unusedParameters: ['control-mode', 'quality'] });
    });
});
});
