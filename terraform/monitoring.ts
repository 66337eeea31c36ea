import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { CloudwatchQueryDefinition } from '@cdktf/provider-aws/lib/cloudwatch-query-definition/index.js';
import { Construct } from 'constructs';
import { Outcome } from '../functions/core/outcome.js';
import { Metrics } from '../functions/core/settings.js';
import type { PipelineFunction } from './constructs/pipeline-function.js';
import { dashboardBody, MetricDimension, Service } from './dashboard.js';

/** The saved Logs Insights queries: logical id → title (the name is `<name_prefix>/<title>`) and query text. */
export const SAVED_QUERIES = {
  upload_story: {
    title: 'story of one upload',
    // Powertools Logger puts jobId and key on every line of a job, in prepare and in generate.
    query: [
      '# Every line prepare and generate wrote for one upload, in order. Put its S3 key between the quotes',
      '# (or filter on jobId = "…" for one upload of a key that was uploaded several times).',
      'fields @timestamp, service, level, message, outcome, reason, detail, modelCalls, jobId, function_request_id',
      '| filter key = "<upload key>"',
      '| sort @timestamp asc',
      '| limit 1000',
    ].join('\n'),
    logGroups: ['prepare', 'generate'],
  },
  failures_by_reason: {
    title: 'failures by reason',
    // prepare's "upload rejected" (WARN), generate's "job failed" (WARN) and "retries exhausted" (ERROR) carry the reason.
    query: [
      "# Failed uploads by reason: prepare's refusals (\"upload rejected\") and generate's failed outcomes",
      '# ("job failed", "retries exhausted"). A refused upload counts once in each service.',
      'filter ispresent(reason) and level in ["WARN", "ERROR"]',
      '| stats count(*) as lines, count_distinct(key) as uploads by service, reason',
      '| sort lines desc',
    ].join('\n'),
    logGroups: ['prepare', 'generate'],
  },
  slowest_model_calls: {
    title: 'slowest model calls',
    // The metric line generate writes with each outcome (embedded metric format): one ModelLatency per call made.
    query: [
      "# The 20 jobs with the slowest model call: generate's metric lines, one per published outcome. A job of",
      '# several calls (Stability with count > 1) lists one latency per call (ModelLatency.0, .1, …).',
      '# Its story: the "job …" line just before it in the same log stream.',
      `fields @timestamp, greatest(coalesce(${Metrics.MODEL_LATENCY}, 0), ${[0, 1, 2, 3, 4].map((i) => `coalesce(\`${Metrics.MODEL_LATENCY}.${i}\`, 0)`).join(', ')}) as slowestCallMs,`,
      `  ${Metrics.MODEL_CALLS}, ${Metrics.IMAGES_GENERATED}, ${Metrics.ESTIMATED_COST}, @logStream`,
      `| filter ${Metrics.MODEL_CALLS} > 0`,
      '| sort slowestCallMs desc',
      '| limit 20',
    ].join('\n'),
    logGroups: ['generate'],
  },
} as const satisfies Record<string, { title: string; query: string; logGroups: readonly ('prepare' | 'generate')[] }>;

/** The alarm on sustained Bedrock throttling: five-minute periods, each with at least one throttled call. */
export const THROTTLE_ALARM = { periodS: 300, periods: 3 } as const;

/** The alarm on function errors: one-minute periods, this many of the last `of` with an error. */
export const FUNCTION_ERRORS_ALARM = { periodS: 60, datapoints: 3, of: 5 } as const;

export interface MonitoringProps {
  /** `<name_prefix>` (a `var.*` token): names the dashboard, the alarms and the queries. */
  readonly namePrefix: string;
  readonly region: string;
  /** The model id generate calls (a `var.*` token): Bedrock's metrics carry it as the ModelId dimension. */
  readonly modelId: string;
  readonly functions: { readonly prepare: PipelineFunction; readonly generate: PipelineFunction };
  /** Queue names. */
  readonly queues: { readonly prepare: string; readonly generate: string; readonly deadLetters: string };
  /** Topics every alarm notifies (a list token that may be empty). */
  readonly alarmActions: string[];
  /** Share of failed outcomes above which the failure-ratio alarm fires (a `var.*` token). */
  readonly failureRatioAlarm: number;
  /** Seconds the failure ratio is computed over (a `var.*` token). */
  readonly failureRatioWindowS: number;
}

/**
 * What an operator looks at: the dashboard (`aws_cloudwatch_dashboard.pipeline`), the alarms
 * beyond the queues' and the spend ceiling's (`aws_cloudwatch_metric_alarm.failure_ratio`,
 * `.model_throttles`, `.prepare_errors`, `.generate_errors`) and the saved Logs Insights queries
 * (`aws_cloudwatch_query_definition.<id of SAVED_QUERIES>`).
 */
export class Monitoring extends Construct {
  readonly dashboard: CloudwatchDashboard;
  readonly alarms: Record<'failure_ratio' | 'model_throttles' | 'prepare_errors' | 'generate_errors', CloudwatchMetricAlarm>;
  readonly queries: Record<keyof typeof SAVED_QUERIES, CloudwatchQueryDefinition>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { namePrefix, alarmActions } = props;
    const queryName = (title: string): string => `${namePrefix}/${title}`;

    this.queries = Object.fromEntries(
      Object.entries(SAVED_QUERIES).map(([queryId, saved]) => {
        const definition = new CloudwatchQueryDefinition(this, queryId, {
          name: queryName(saved.title),
          queryString: saved.query,
          logGroupNames: saved.logGroups.map((fn) => props.functions[fn].logGroup.name),
        });
        definition.overrideLogicalId(queryId);
        return [queryId, definition];
      }),
    ) as Record<keyof typeof SAVED_QUERIES, CloudwatchQueryDefinition>;

    this.dashboard = new CloudwatchDashboard(this, 'dashboard', {
      dashboardName: `${namePrefix}-pipeline`,
      dashboardBody: dashboardBody({
        region: props.region,
        functions: { prepare: props.functions.prepare.function.functionName, generate: props.functions.generate.function.functionName },
        queues: props.queues,
        queries: Object.values(SAVED_QUERIES).map((saved) => queryName(saved.title)),
      }),
    });
    this.dashboard.overrideLogicalId('pipeline');

    // Failed outcomes over all outcomes. The Failures metric counts the same uploads (a failed
    // outcome is exactly one with a failure reason), but an alarm cannot SEARCH over its reason
    // dimension, and Outcomes' three series can be named. Missing series (no failures, or no
    // uploads at all) count as 0; without outcomes the ratio is 0, not a division by zero.
    const outcome = (value: string) => ({
      id: value,
      returnData: false,
      metric: {
        namespace: Metrics.NAMESPACE,
        metricName: Metrics.OUTCOMES,
        dimensions: { [MetricDimension.SERVICE]: Service.GENERATE, [MetricDimension.OUTCOME]: value },
        stat: 'Sum',
        period: props.failureRatioWindowS,
      },
    });
    const filled = Object.values(Outcome).map((value) => `FILL(${value}, 0)`);
    const failureRatio = new CloudwatchMetricAlarm(this, 'failure-ratio', {
      alarmName: `${namePrefix}-failure-ratio`,
      alarmDescription:
        'More than failure_ratio_alarm of the uploads that ended in failure_ratio_window_s failed (metric Outcomes, outcome=failed, over all outcomes). Run the "failures by reason" query: a reason of the upload (format, size, moderation) is the users\'; of the deployment (ACCESS_DENIED, MODEL_UNAVAILABLE, MODEL_REJECTED_REQUEST) or the service (RETRIES_EXHAUSTED, CALL_BUDGET_EXHAUSTED) is yours (README "Operating it").',
      comparisonOperator: 'GreaterThanThreshold',
      threshold: props.failureRatioAlarm,
      evaluationPeriods: 1,
      metricQuery: [
        ...Object.values(Outcome).map(outcome),
        { id: 'total', expression: filled.join(' + '), label: 'outcomes', returnData: false },
        {
          id: 'ratio',
          expression: `IF(total > 0, FILL(${Outcome.FAILED}, 0) / total, 0)`,
          label: 'failed outcomes / all outcomes',
          returnData: true,
        },
      ],
      treatMissingData: 'notBreaching',
      alarmActions,
      okActions: alarmActions,
    });
    failureRatio.overrideLogicalId('failure_ratio');

    // Bedrock publishes InvocationThrottles (AWS/Bedrock, dimension ModelId: the id the request
    // named, here model_id) for every throttled attempt, the SDK's retries included. A throttle
    // now and then is absorbed by the retries and the queue; throttles in every five minutes
    // for a quarter of an hour mean the quota is too low for max_model_calls_in_flight.
    const throttles = new CloudwatchMetricAlarm(this, 'model-throttles', {
      alarmName: `${namePrefix}-model-throttled`,
      alarmDescription: `Bedrock throttled calls to the model in each of the last ${THROTTLE_ALARM.periods} five-minute periods (AWS/Bedrock InvocationThrottles): the account's quota for the model is below what max_model_calls_in_flight asks. Jobs are retried and wait in generate's queue; lower max_model_calls_in_flight or ask for a higher Bedrock quota (README "Operating it").`,
      namespace: 'AWS/Bedrock',
      metricName: 'InvocationThrottles',
      dimensions: { ModelId: props.modelId },
      statistic: 'Sum',
      period: THROTTLE_ALARM.periodS,
      evaluationPeriods: THROTTLE_ALARM.periods,
      datapointsToAlarm: THROTTLE_ALARM.periods,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions,
      okActions: alarmActions,
    });
    throttles.overrideLogicalId('model_throttles');

    const errors = (fn: 'prepare' | 'generate'): CloudwatchMetricAlarm => {
      // Lambda's Errors count invocations that failed as a whole: a crash, a timeout, running out of
      // memory, a bad setting at cold start. A failed job is not one (partial batch responses).
      const alarm = new CloudwatchMetricAlarm(this, `${fn}-errors`, {
        alarmName: `${namePrefix}-${fn}-errors`,
        alarmDescription: `The ${fn} function failed whole invocations in ${FUNCTION_ERRORS_ALARM.datapoints} of the last ${FUNCTION_ERRORS_ALARM.of} minutes (AWS/Lambda Errors): a crash, a timeout, out of memory, or a setting it refuses at cold start. Its messages come back after the visibility timeout and end in the dead-letter queue; read the function's ERROR lines (README "Operating it").`,
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions: { FunctionName: props.functions[fn].function.functionName },
        statistic: 'Sum',
        period: FUNCTION_ERRORS_ALARM.periodS,
        evaluationPeriods: FUNCTION_ERRORS_ALARM.of,
        datapointsToAlarm: FUNCTION_ERRORS_ALARM.datapoints,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
        alarmActions,
        okActions: alarmActions,
      });
      alarm.overrideLogicalId(`${fn}_errors`);
      return alarm;
    };

    this.alarms = { failure_ratio: failureRatio, model_throttles: throttles, prepare_errors: errors('prepare'), generate_errors: errors('generate') };
  }
}
