/**
 * What an operator reads: Powertools' structured log lines and the CloudWatch
 * metrics in embedded metric format (EMF), captured from the built bundles'
 * output as CloudWatch Logs would receive it.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../functions/core/settings';
import type { LocalFunction } from '../../scripts/local/lambda-host';
import { eventOf, stageJob, usePipelineRig } from '../helpers/local-functions';
import { photo } from '../helpers/photos';

interface EmfLine {
  readonly _aws: { readonly CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  readonly [field: string]: unknown;
}

describe('telemetry: Powertools logs and EMF metrics (built bundles)', function () {
  this.timeout(60_000);
  const { rig, prepare, generate } = usePipelineRig();

  const logOf = (fn: LocalFunction): string => {
    try {
      return readFileSync(join(rig().workDir, 'logs', `${fn.wiring.id}.log`), 'utf8');
    } catch {
      return '';
    }
  };

  /**
   * Every JSON line a function wrote while `act` ran (EMF lines carry no request id, so the log is
   * cut by position; the tests invoke one function at a time).
   */
  const linesDuring = async <T>(fn: LocalFunction, act: () => Promise<T>): Promise<{ result: T; lines: Record<string, any>[] }> => {
    const from = logOf(fn).length;
    const result = await act();
    // The environment's process writes its log a little after it answers.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lines = logOf(fn)
      .slice(from)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
    return { result, lines };
  };

  /** name → [value, unit, dimensions] of every EMF metric in the lines. */
  const metricsIn = (lines: Record<string, any>[]): Map<string, { value: unknown; unit: string; dimensions: Record<string, unknown> }[]> => {
    const found = new Map<string, { value: unknown; unit: string; dimensions: Record<string, unknown> }[]>();
    for (const line of lines.filter((l): l is EmfLine => l._aws !== undefined)) {
      for (const directive of line._aws.CloudWatchMetrics) {
        expect(directive.Namespace).to.equal(Metrics.NAMESPACE);
        const dimensions = Object.fromEntries(directive.Dimensions.flat().map((name) => [name, line[name]]));
        for (const metric of directive.Metrics) {
          found.set(metric.Name, [...(found.get(metric.Name) ?? []), { value: line[metric.Name], unit: metric.Unit, dimensions }]);
        }
      }
    }
    return found;
  };

  it("one upload's story is one query: prepare's and generate's lines carry the same jobId and key, with the Lambda context", async () => {
    const prepared = await linesDuring(prepare(), () => stageJob(rig(), prepare(), 'telemetry/story.png', photo('chelsea.png')));
    const staged = prepared.result;
    const generated = await linesDuring(generate(), () => generate().invoke(eventOf(staged.jobRecord)));
    expect(generated.result.ok).to.equal(true);

    const lines = [...prepared.lines, ...generated.lines].filter((l) => l.message !== undefined);
    const ofJob = lines.filter((l) => l.jobId === staged.jobId);
    expect(ofJob.map((l) => l.service)).to.include.members(['prepare', 'generate']);
    for (const line of ofJob) {
      expect(line, line.message).to.include({ key: 'telemetry/story.png', sequencer: staged.job.source.sequencer });
      expect(line).to.have.property('function_request_id');
      expect(line).to.have.property('cold_start');
      expect(line).to.have.property('level');
    }
    expect(ofJob.map((l) => l.message)).to.include.members(['job prepared', 'job succeeded']);
  });

  it('prepare emits UploadsPrepared, PrepareDuration and EdgeDensity; a refused upload UploadsRejected by reason', async () => {
    const good = metricsIn((await linesDuring(prepare(), () => stageJob(rig(), prepare(), 'telemetry/good.png', photo('coffee.png')))).lines);
    expect(good.get(Metrics.UPLOADS_PREPARED)?.[0]).to.deep.include({ value: 1, unit: 'Count' });
    expect(good.get(Metrics.PREPARE_DURATION)?.[0]?.unit).to.equal('Milliseconds');
    expect(good.get(Metrics.EDGE_DENSITY)?.[0]?.value).to.be.a('number').within(0.01, 100);

    const badRun = await linesDuring(prepare(), () => stageJob(rig(), prepare(), 'telemetry/bad.jpg', 'plain text, not a picture'));
    const bad = metricsIn(badRun.lines);
    // The report's own message rides as `detail`: `message` is the log line's, and Powertools refuses to overwrite it.
    const rejected = badRun.lines.find((l) => l.message === 'upload rejected');
    expect(rejected).to.include({ reason: 'UNSUPPORTED_FORMAT', key: 'telemetry/bad.jpg' });
    expect(rejected?.detail).to.match(/^Expected one of: jpeg, png, webp for s3:\/\/input\/telemetry\/bad\.jpg/);
    expect(badRun.lines.some((l) => /reserved key/i.test(JSON.stringify(l))), 'no reserved-key warning').to.equal(false);
    expect(bad.get(Metrics.UPLOADS_REJECTED)?.[0]).to.deep.include({ value: 1, dimensions: { service: 'prepare', reason: 'UNSUPPORTED_FORMAT' } });
    expect(bad.has(Metrics.UPLOADS_PREPARED)).to.equal(false);
  });

  it('generate emits ModelCalls, ImagesGenerated, ModelLatency, EstimatedCostUsd and Outcomes by outcome; a failure Failures by reason; a duplicate DuplicateEvents', async () => {
    const staged = await stageJob(rig(), prepare(), 'telemetry/gen.png', photo('chelsea.png'), { count: '2' });
    const made = metricsIn((await linesDuring(generate(), () => generate().invoke(eventOf(staged.jobRecord)))).lines);
    expect(made.get(Metrics.MODEL_CALLS)?.[0]).to.deep.include({ value: 1, unit: 'Count', dimensions: { service: 'generate' } });
    expect(made.get(Metrics.IMAGES_GENERATED)?.[0]?.value).to.equal(2);
    expect(made.get(Metrics.MODEL_LATENCY)?.[0]?.unit).to.equal('Milliseconds');
    expect(made.get(Metrics.ESTIMATED_COST)?.[0]?.value).to.equal(0.02);
    expect(made.get(Metrics.OUTCOMES)?.[0]).to.deep.include({ value: 1, dimensions: { service: 'generate', outcome: 'succeeded' } });

    const again = metricsIn((await linesDuring(generate(), () => generate().invoke(eventOf(staged.jobRecord)))).lines);
    expect(again.get(Metrics.DUPLICATE_EVENTS)?.[0]?.value).to.equal(1);
    expect(again.get(Metrics.MODEL_CALLS)?.[0]?.value ?? 0, 'a duplicate calls nothing').to.equal(0);

    const blocked = await stageJob(rig(), prepare(), 'telemetry/blocked.png', photo('chelsea.png'), { prompt: 'standin-blocked tiger' });
    const failed = metricsIn((await linesDuring(generate(), () => generate().invoke(eventOf(blocked.jobRecord)))).lines);
    expect(failed.get(Metrics.FAILURES)?.[0]).to.deep.include({ value: 1, dimensions: { service: 'generate', reason: 'CONTENT_FILTERED' } });
    expect(failed.get(Metrics.OUTCOMES)?.[0]?.dimensions).to.deep.include({ outcome: 'failed' });
  });
});
