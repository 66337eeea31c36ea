/** Manifests (and error.json files) as generate writes them: built with the real planOutcome. */
import { planOutcome, type CallResult } from '../../../functions/core/outcome';
import type { ManifestJson } from '../../../scripts/cli/manifest-fields';
import { failureReport, jobParameters, jobSource, readyJob, rejectedJob } from '../../helpers/factories';

const SKETCH = 'us.stability.stable-image-control-sketch-v1:0';
const NOW = new Date('2026-11-26T12:00:00.000Z');

const call = (seed: number, overrides: Partial<CallResult> = {}): CallResult => ({
  seed,
  requested: 1,
  images: [new Uint8Array([1])],
  blocked: 0,
  kept: false,
  attempts: 1,
  ms: 10,
  ...overrides,
});

const parse = (body: Uint8Array | string): ManifestJson => JSON.parse(String(body));

export interface Built {
  readonly manifest: ManifestJson;
  readonly error?: ManifestJson;
}

export const succeeded = (key: string, options: { prompt?: string; count?: number; standIn?: boolean; eTag?: string } = {}): Built => {
  const count = options.count ?? 1;
  const job = readyJob({ source: jobSource({ key, ...(options.eTag ? { eTag: options.eTag } : {}) }), modelId: SKETCH, parameters: jobParameters({ prompt: options.prompt ?? 'a tiger', count }) });
  const planned = planOutcome({
    job,
    generation: {
      modelId: SKETCH,
      family: 'stability',
      unusedParameters: ['control-mode', 'quality'],
      calls: Array.from({ length: count }, (_, i) => call(100 + i, options.standIn === false ? {} : { standIn: 'local Bedrock stand-in, no model was called' })),
      modelCalls: count,
      timings: {},
    },
    edges: new Uint8Array([2]),
    contactSheet: new Uint8Array([3]),
    now: NOW,
  });
  return { manifest: parse(planned.manifest.body) };
};

export const partial = (key: string): Built => {
  const job = readyJob({ source: jobSource({ key }), modelId: SKETCH, parameters: jobParameters({ count: 2 }) });
  const planned = planOutcome({
    job,
    generation: {
      modelId: SKETCH,
      family: 'stability',
      unusedParameters: [],
      calls: [call(1), call(2, { images: [], blocked: 1, failure: failureReport({ reason: 'CONTENT_FILTERED', message: 'Filter reason: output' }) })],
      modelCalls: 2,
      timings: {},
    },
    edges: new Uint8Array([2]),
    now: NOW,
  });
  return { manifest: parse(planned.manifest.body) };
};

export const rejected = (key: string, message = `Expected one of: jpeg, png, webp for s3://in/${key} but received data of no known image format`): Built => {
  const job = rejectedJob({ source: jobSource({ key }), modelId: SKETCH, failure: failureReport({ message }) });
  const planned = planOutcome({ job, failure: job.failure, now: NOW });
  const error = planned.files.find((f) => f.key.endsWith('/error.json'))!;
  return { manifest: parse(planned.manifest.body), error: parse(error.body) };
};
