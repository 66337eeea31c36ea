/**
 * emf.ts on metric lines captured from the built bundles (test/functions/telemetry.test.ts with
 * KEEP_FUNCTION_TEST_LOGS=1): what Powertools Metrics really writes, summed as CloudWatch sums it.
 */
import { expect } from 'chai';
import { Metrics } from '../../../functions/core/settings';
import { describeTotal, parseEmfLine, parseEmfLog, totalsOf } from '../../../scripts/cli/emf';
import { formatMetricTotals } from '../../../scripts/cli/summary';

/** generate's log of four deliveries: two successes (1 and 2 images), a duplicate, a job blocked by moderation. */
const GENERATE_LOG = [
  "{\"_aws\":{\"Timestamp\":1795697896447,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\",\"outcome\"]],\"Metrics\":[{\"Name\":\"Outcomes\",\"Unit\":\"Count\"}]}]},\"service\":\"generate\",\"outcome\":\"succeeded\",\"Outcomes\":1}",
  "{\"_aws\":{\"Timestamp\":1795697896457,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\"]],\"Metrics\":[{\"Name\":\"ModelCalls\",\"Unit\":\"Count\"},{\"Name\":\"ImagesGenerated\",\"Unit\":\"Count\"},{\"Name\":\"ModelLatency\",\"Unit\":\"Milliseconds\"},{\"Name\":\"EstimatedCostUsd\",\"Unit\":\"None\"}]}]},\"service\":\"generate\",\"ModelCalls\":1,\"ImagesGenerated\":1,\"ModelLatency\":200,\"EstimatedCostUsd\":0.01}",
  "{\"_aws\":{\"Timestamp\":1795697898017,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\",\"outcome\"]],\"Metrics\":[{\"Name\":\"Outcomes\",\"Unit\":\"Count\"}]}]},\"service\":\"generate\",\"outcome\":\"succeeded\",\"Outcomes\":1}",
  "{\"_aws\":{\"Timestamp\":1795697898018,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\"]],\"Metrics\":[{\"Name\":\"ModelCalls\",\"Unit\":\"Count\"},{\"Name\":\"ImagesGenerated\",\"Unit\":\"Count\"},{\"Name\":\"ModelLatency\",\"Unit\":\"Milliseconds\"},{\"Name\":\"EstimatedCostUsd\",\"Unit\":\"None\"}]}]},\"service\":\"generate\",\"ModelCalls\":1,\"ImagesGenerated\":2,\"ModelLatency\":186,\"EstimatedCostUsd\":0.02}",
  "{\"_aws\":{\"Timestamp\":1795697898464,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\"]],\"Metrics\":[{\"Name\":\"DuplicateEvents\",\"Unit\":\"Count\"}]}]},\"service\":\"generate\",\"DuplicateEvents\":1}",
  "{\"_aws\":{\"Timestamp\":1795697899070,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\",\"outcome\"]],\"Metrics\":[{\"Name\":\"Outcomes\",\"Unit\":\"Count\"}]}]},\"service\":\"generate\",\"outcome\":\"failed\",\"Outcomes\":1}",
  // Not metric lines: a log line and the local host's REPORT line.
  "{\"level\":\"WARN\",\"message\":\"job failed\",\"timestamp\":\"2026-11-26T12:58:19.071Z\",\"service\":\"generate\",\"cold_start\":false,\"function_memory_size\":\"512\",\"function_name\":\"generate-2\",\"function_request_id\":\"2d4a4cd3-8056-4426-9710-0ce623b21f11\",\"sampling_rate\":0,\"jobId\":\"4e3ccf4995d2eab3d792e49813d71e7f\",\"key\":\"telemetry/blocked.png\",\"sequencer\":\"0001A217EF75170000\",\"outcome\":\"failed\",\"reason\":\"CONTENT_FILTERED\",\"permanent\":true,\"modelCalls\":1}",
  "{\"type\":\"REPORT\",\"at\":\"2026-11-26T12:58:16.459Z\",\"functionId\":\"generate-2\",\"requestId\":\"27f32777-543c-4902-aadb-d6782c1ba32c\",\"attempt\":1,\"ok\":true,\"durationMs\":581,\"maxRssMb\":115}",
  "{\"_aws\":{\"Timestamp\":1795697899070,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\",\"reason\"]],\"Metrics\":[{\"Name\":\"Failures\",\"Unit\":\"Count\"}]}]},\"service\":\"generate\",\"reason\":\"CONTENT_FILTERED\",\"Failures\":1}",
  "{\"_aws\":{\"Timestamp\":1795697899071,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\"]],\"Metrics\":[{\"Name\":\"ModelCalls\",\"Unit\":\"Count\"},{\"Name\":\"ImagesGenerated\",\"Unit\":\"Count\"},{\"Name\":\"ModelLatency\",\"Unit\":\"Milliseconds\"},{\"Name\":\"EstimatedCostUsd\",\"Unit\":\"None\"}]}]},\"service\":\"generate\",\"ModelCalls\":1,\"ImagesGenerated\":0,\"ModelLatency\":109,\"EstimatedCostUsd\":0}",
].join('\n');

/** prepare's: two uploads prepared, one refused. */
const PREPARE_LOG = [
  "{\"_aws\":{\"Timestamp\":1795697895560,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\"]],\"Metrics\":[{\"Name\":\"UploadsPrepared\",\"Unit\":\"Count\"},{\"Name\":\"PrepareDuration\",\"Unit\":\"Milliseconds\"},{\"Name\":\"EdgeDensity\",\"Unit\":\"Percent\"}]}]},\"service\":\"prepare\",\"UploadsPrepared\":1,\"PrepareDuration\":248,\"EdgeDensity\":2.81}",
  "{\"_aws\":{\"Timestamp\":1795697896894,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\"]],\"Metrics\":[{\"Name\":\"UploadsPrepared\",\"Unit\":\"Count\"},{\"Name\":\"PrepareDuration\",\"Unit\":\"Milliseconds\"},{\"Name\":\"EdgeDensity\",\"Unit\":\"Percent\"}]}]},\"service\":\"prepare\",\"UploadsPrepared\":1,\"PrepareDuration\":119,\"EdgeDensity\":3.55}",
  "{\"_aws\":{\"Timestamp\":1795697897214,\"CloudWatchMetrics\":[{\"Namespace\":\"ImageConditioningPipeline\",\"Dimensions\":[[\"service\",\"reason\"]],\"Metrics\":[{\"Name\":\"UploadsRejected\",\"Unit\":\"Count\"}]}]},\"service\":\"prepare\",\"reason\":\"UNSUPPORTED_FORMAT\",\"UploadsRejected\":1}",
].join('\n');

/** A job of three model calls: Powertools writes a metric added several times as an array (format as above, values made up). */
const THREE_CALLS =
  '{"_aws":{"Timestamp":1795697899500,"CloudWatchMetrics":[{"Namespace":"ImageConditioningPipeline","Dimensions":[["service"]],"Metrics":[{"Name":"ModelCalls","Unit":"Count"},{"Name":"ModelLatency","Unit":"Milliseconds"}]}]},"service":"generate","ModelCalls":3,"ModelLatency":[900,1200,300]}';

describe('EMF metric lines (emf.ts)', () => {
  it('reads a line\'s metrics with their units, dimensions and timestamp', () => {
    expect(parseEmfLine(GENERATE_LOG.split('\n')[1]!)).to.deep.equal([
      { namespace: Metrics.NAMESPACE, name: 'ModelCalls', unit: 'Count', dimensions: { service: 'generate' }, values: [1], timestamp: 1795697896457 },
      { namespace: Metrics.NAMESPACE, name: 'ImagesGenerated', unit: 'Count', dimensions: { service: 'generate' }, values: [1], timestamp: 1795697896457 },
      { namespace: Metrics.NAMESPACE, name: 'ModelLatency', unit: 'Milliseconds', dimensions: { service: 'generate' }, values: [200], timestamp: 1795697896457 },
      { namespace: Metrics.NAMESPACE, name: 'EstimatedCostUsd', unit: 'None', dimensions: { service: 'generate' }, values: [0.01], timestamp: 1795697896457 },
    ]);
    expect(parseEmfLine(GENERATE_LOG.split('\n')[0]!)).to.deep.equal([
      { namespace: Metrics.NAMESPACE, name: 'Outcomes', unit: 'Count', dimensions: { service: 'generate', outcome: 'succeeded' }, values: [1], timestamp: 1795697896447 },
    ]);
  });

  it('skips lines that are not metric lines: log lines, REPORT lines, text, broken JSON', () => {
    for (const line of [GENERATE_LOG.split('\n')[6]!, GENERATE_LOG.split('\n')[7]!, 'START RequestId: 1', '{"_aws": ', '', '{"_aws":{"CloudWatchMetrics":"no"}}']) {
      expect(parseEmfLine(line), line).to.deep.equal([]);
    }
  });

  it('sums each metric over the lines, broken down by outcome and reason, as CloudWatch would count them', () => {
    const totals = totalsOf(parseEmfLog(`${PREPARE_LOG}\n${GENERATE_LOG}`));
    const byName = Object.fromEntries(totals.map((t) => [t.name, t]));
    expect(totals.map((t) => t.name)).to.have.members([
      'UploadsPrepared', 'PrepareDuration', 'EdgeDensity', 'UploadsRejected',
      'Outcomes', 'ModelCalls', 'ImagesGenerated', 'ModelLatency', 'EstimatedCostUsd', 'DuplicateEvents', 'Failures',
    ]);
    expect(byName.UploadsPrepared).to.include({ sum: 2, count: 2 });
    expect(byName.UploadsRejected).to.deep.include({ sum: 1, byDimension: { reason: { UNSUPPORTED_FORMAT: 1 } } });
    expect(byName.Outcomes).to.deep.include({ sum: 3, byDimension: { outcome: { succeeded: 2, failed: 1 } } });
    expect(byName.Failures).to.deep.include({ sum: 1, byDimension: { reason: { CONTENT_FILTERED: 1 } } });
    expect(byName.ModelCalls).to.include({ sum: 3, count: 3 });
    expect(byName.ImagesGenerated).to.include({ sum: 3 });
    expect(byName.DuplicateEvents).to.include({ sum: 1 });
    // 0.01 + 0.02 + 0, without float noise.
    expect(byName.EstimatedCostUsd).to.include({ sum: 0.03, unit: 'None' });
    expect(byName.ModelLatency).to.include({ sum: 200 + 186 + 109, count: 3, max: 200, unit: 'Milliseconds' });
    // service is every metric's default dimension: not a breakdown.
    expect(byName.ModelCalls!.byDimension).to.deep.equal({});
  });

  it('counts every value of a metric written as an array (one per model call)', () => {
    const [calls, latency] = totalsOf(parseEmfLog(THREE_CALLS));
    expect(calls).to.include({ name: 'ModelCalls', sum: 3, count: 1 });
    expect(latency).to.include({ name: 'ModelLatency', sum: 2400, count: 3, max: 1200 });
    expect(describeTotal(latency!)).to.equal('avg 800 ms, max 1200 ms (3 values)');
  });

  it('keeps only the metrics of this run (by their timestamp) and of one namespace', () => {
    const metrics = parseEmfLog(GENERATE_LOG);
    // The second success and everything after it.
    const since = totalsOf(metrics, { since: 1795697898017 });
    expect(Object.fromEntries(since.map((t) => [t.name, t.sum]))).to.deep.include({ Outcomes: 2, ModelCalls: 2, ImagesGenerated: 2 });
    expect(totalsOf(metrics, { namespace: 'Other' })).to.deep.equal([]);
  });

  it('prints the totals in the order given, with their breakdowns, averages for latencies and shares', () => {
    const { NAMESPACE, ...names } = Metrics;
    const text = formatMetricTotals(totalsOf(parseEmfLog(`${PREPARE_LOG}\n${GENERATE_LOG}`), { namespace: NAMESPACE }), Object.values(names));
    expect(text.split('\n')).to.deep.equal([
      'metrics (as CloudWatch counts them; namespace ImageConditioningPipeline)',
      '  ModelCalls        3',
      '  ImagesGenerated   3',
      '  Outcomes          3 (succeeded 2, failed 1)',
      '  Failures          1 (CONTENT_FILTERED 1)',
      '  ModelLatency      avg 165 ms, max 200 ms (3 values)',
      '  DuplicateEvents   1',
      '  EstimatedCostUsd  0.03',
      '  UploadsPrepared   2',
      '  UploadsRejected   1 (UNSUPPORTED_FORMAT 1)',
      '  PrepareDuration   avg 183.5 ms, max 248 ms (2 values)',
      '  EdgeDensity       avg 3.18 %, max 3.55 % (2 values)',
    ]);
    expect(formatMetricTotals([])).to.equal('');
  });
});
