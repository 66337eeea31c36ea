/**
 * The body of the pipeline's CloudWatch dashboard (`aws_cloudwatch_dashboard.pipeline`), built
 * from the metric names the functions emit (functions/core/settings.ts `Metrics`) and the
 * outcomes they publish (functions/core/outcome.ts `Outcome`). Pure: names of functions and
 * queues come in as strings, which in the stack are Terraform references (`${aws_…}`); they are
 * written into the JSON text as they are, and Terraform fills them in when it sends the body.
 * None of them can hold a quote or a backslash, so the JSON stays valid once they are filled in.
 *
 * @module
 */
import { Outcome, Stage } from '../functions/core/outcome.js';
import { Metrics } from '../functions/core/settings.js';

/** The dimensions the functions put on their metrics (Powertools' default dimension `service`, and the two single metrics'). */
export const MetricDimension = { SERVICE: 'service', OUTCOME: 'outcome', REASON: 'reason' } as const;

/** The `service` dimension of each function's metrics: the stage it runs (functions/aws/telemetry.ts). */
export const Service = Stage;

/** Rendering options of one line of a metric widget. */
export interface MetricOptions {
  readonly id?: string;
  readonly expression?: string;
  readonly label?: string;
  readonly stat?: string;
  readonly period?: number;
  readonly yAxis?: 'left' | 'right';
  readonly visible?: boolean;
}

/** One line: namespace, metric name, dimension name/value pairs, then options; or only options for an expression. */
export type MetricRow = readonly (string | MetricOptions)[];

export interface MetricWidgetProperties {
  readonly title: string;
  readonly region: string;
  readonly view: 'timeSeries' | 'singleValue';
  readonly stacked: boolean;
  readonly period: number;
  readonly stat: string;
  readonly metrics: readonly MetricRow[];
  readonly yAxis?: { readonly left?: { readonly min?: number; readonly label?: string }; readonly right?: { readonly min?: number; readonly label?: string } };
}

interface Placed {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface MetricWidget extends Placed {
  readonly type: 'metric';
  readonly properties: MetricWidgetProperties;
}

export interface TextWidget extends Placed {
  readonly type: 'text';
  readonly properties: { readonly markdown: string };
}

export type Widget = MetricWidget | TextWidget;

export interface Dashboard {
  readonly widgets: readonly Widget[];
}

export interface DashboardRefs {
  /** Region of every widget (the stack's). */
  readonly region: string;
  /** Function names. */
  readonly functions: { readonly prepare: string; readonly generate: string };
  /** Queue names. */
  readonly queues: { readonly prepare: string; readonly generate: string; readonly deadLetters: string };
  /** Names of the saved Logs Insights queries, listed in the header. */
  readonly queries?: readonly string[];
}

/** Widget titles, for the tests and the README. */
export const WidgetTitle = {
  UPLOADS: 'Uploads and outcomes (per hour)',
  IMAGES: 'Images and model calls (per hour)',
  LATENCY: 'Model latency (ms per call)',
  FAILURES: 'Failures by reason (per hour)',
  SPEND_HOUR: 'Estimated spend (USD per hour)',
  SPEND_DAY: 'Estimated spend (USD per day)',
  PREPARE_QUEUE: "prepare's queue: depth and oldest message",
  GENERATE_QUEUE: "generate's queue: depth and oldest message",
  DEAD_LETTERS: 'Dead-letter queue depth',
  PREPARE_FUNCTION: 'prepare function: errors, throttles, duration',
  GENERATE_FUNCTION: 'generate function: errors, throttles, duration',
} as const;

const HOUR = 3600;
const DAY = 86_400;
const FIVE_MINUTES = 300;

/** Every series of a metric over its reason dimension, one line per reason (`SEARCH` finds the reasons that occurred). */
export const byReason = (metric: string, period: number): string =>
  `SEARCH('{${Metrics.NAMESPACE},${MetricDimension.REASON},${MetricDimension.SERVICE}} MetricName="${metric}"', 'Sum', ${period})`;

const own = (metric: string, service: string, options: MetricOptions = {}): MetricRow => [
  Metrics.NAMESPACE,
  metric,
  MetricDimension.SERVICE,
  service,
  ...(Object.keys(options).length > 0 ? [options] : []),
];

/** The dashboard's widgets, laid out on CloudWatch's 24-column grid. */
export const dashboard = (refs: DashboardRefs): Dashboard => {
  const { region } = refs;
  const metricWidget = (at: Placed, properties: Omit<MetricWidgetProperties, 'region' | 'view' | 'stacked'> & { stacked?: boolean }): MetricWidget => ({
    type: 'metric',
    ...at,
    properties: { view: 'timeSeries', stacked: false, region, ...properties },
  });

  const queueWidget = (x: number, y: number, title: string, queue: string): MetricWidget =>
    metricWidget(
      { x, y, width: 8, height: 6 },
      {
        title,
        period: FIVE_MINUTES,
        stat: 'Maximum',
        metrics: [
          ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue, { label: 'waiting (visible)' }],
          ['AWS/SQS', 'ApproximateNumberOfMessagesNotVisible', 'QueueName', queue, { label: 'in flight (not visible)' }],
          ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queue, { label: 'oldest message (s)', yAxis: 'right' }],
        ],
        yAxis: { left: { min: 0, label: 'messages' }, right: { min: 0, label: 'seconds' } },
      },
    );

  const functionWidget = (x: number, y: number, title: string, functionName: string): MetricWidget =>
    metricWidget(
      { x, y, width: 12, height: 6 },
      {
        title,
        period: FIVE_MINUTES,
        stat: 'Sum',
        metrics: [
          ['AWS/Lambda', 'Errors', 'FunctionName', functionName, { label: 'errors' }],
          ['AWS/Lambda', 'Throttles', 'FunctionName', functionName, { label: 'throttles' }],
          ['AWS/Lambda', 'Duration', 'FunctionName', functionName, { stat: 'p50', label: 'duration p50 (ms)', yAxis: 'right' }],
          ['AWS/Lambda', 'Duration', 'FunctionName', functionName, { stat: 'p90', label: 'duration p90 (ms)', yAxis: 'right' }],
          ['AWS/Lambda', 'Duration', 'FunctionName', functionName, { stat: 'Maximum', label: 'duration max (ms)', yAxis: 'right' }],
        ],
        yAxis: { left: { min: 0, label: 'invocations' }, right: { min: 0, label: 'ms' } },
      },
    );

  const header: TextWidget = {
    type: 'text',
    x: 0,
    y: 0,
    width: 24,
    height: 2,
    properties: {
      markdown: [
        `Pipeline metrics (namespace **${Metrics.NAMESPACE}**, emitted by the functions in embedded metric format), the queues and the functions.`,
        refs.queries && refs.queries.length > 0 ? `Saved Logs Insights queries: ${refs.queries.map((name) => `*${name}*`).join(', ')}.` : '',
      ]
        .filter((line) => line !== '')
        .join(' '),
    },
  };

  return {
    widgets: [
      header,
      metricWidget(
        { x: 0, y: 2, width: 12, height: 6 },
        {
          title: WidgetTitle.UPLOADS,
          period: HOUR,
          stat: 'Sum',
          metrics: [
            own(Metrics.UPLOADS_PREPARED, Service.PREPARE, { label: 'uploads prepared' }),
            [{ id: 'rejected', expression: `SUM(${byReason(Metrics.UPLOADS_REJECTED, HOUR)})`, label: 'uploads rejected' }],
            ...Object.values(Outcome).map(
              (outcome): MetricRow => [Metrics.NAMESPACE, Metrics.OUTCOMES, MetricDimension.SERVICE, Service.GENERATE, MetricDimension.OUTCOME, outcome, { label: `outcome ${outcome}` }],
            ),
          ],
          yAxis: { left: { min: 0 } },
        },
      ),
      metricWidget(
        { x: 12, y: 2, width: 12, height: 6 },
        {
          title: WidgetTitle.IMAGES,
          period: HOUR,
          stat: 'Sum',
          metrics: [
            own(Metrics.IMAGES_GENERATED, Service.GENERATE, { label: 'images generated' }),
            own(Metrics.MODEL_CALLS, Service.GENERATE, { label: 'model calls (attempts)' }),
            own(Metrics.DUPLICATE_EVENTS, Service.GENERATE, { label: 'duplicate deliveries' }),
          ],
          yAxis: { left: { min: 0 } },
        },
      ),
      metricWidget(
        { x: 0, y: 8, width: 8, height: 6 },
        {
          title: WidgetTitle.LATENCY,
          period: FIVE_MINUTES,
          stat: 'p50',
          metrics: [
            own(Metrics.MODEL_LATENCY, Service.GENERATE, { stat: 'p50', label: 'p50' }),
            own(Metrics.MODEL_LATENCY, Service.GENERATE, { stat: 'p90', label: 'p90' }),
          ],
          yAxis: { left: { min: 0, label: 'ms' } },
        },
      ),
      metricWidget(
        { x: 8, y: 8, width: 8, height: 6 },
        {
          title: WidgetTitle.FAILURES,
          period: HOUR,
          stat: 'Sum',
          stacked: true,
          // No label: each line is named after its reason.
          metrics: [[{ id: 'failures', expression: byReason(Metrics.FAILURES, HOUR) }]],
          yAxis: { left: { min: 0 } },
        },
      ),
      metricWidget(
        { x: 16, y: 8, width: 4, height: 6 },
        { title: WidgetTitle.SPEND_HOUR, period: HOUR, stat: 'Sum', metrics: [own(Metrics.ESTIMATED_COST, Service.GENERATE, { label: 'USD per hour' })], yAxis: { left: { min: 0 } } },
      ),
      metricWidget(
        { x: 20, y: 8, width: 4, height: 6 },
        { title: WidgetTitle.SPEND_DAY, period: DAY, stat: 'Sum', metrics: [own(Metrics.ESTIMATED_COST, Service.GENERATE, { label: 'USD per day' })], yAxis: { left: { min: 0 } } },
      ),
      queueWidget(0, 14, WidgetTitle.PREPARE_QUEUE, refs.queues.prepare),
      queueWidget(8, 14, WidgetTitle.GENERATE_QUEUE, refs.queues.generate),
      metricWidget(
        { x: 16, y: 14, width: 8, height: 6 },
        {
          title: WidgetTitle.DEAD_LETTERS,
          period: FIVE_MINUTES,
          stat: 'Maximum',
          metrics: [['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', refs.queues.deadLetters, { label: 'dead letters' }]],
          yAxis: { left: { min: 0, label: 'messages' } },
        },
      ),
      functionWidget(0, 20, WidgetTitle.PREPARE_FUNCTION, refs.functions.prepare),
      functionWidget(12, 20, WidgetTitle.GENERATE_FUNCTION, refs.functions.generate),
    ],
  };
};

/** The dashboard as the JSON text `dashboard_body` takes. */
export const dashboardBody = (refs: DashboardRefs): string => JSON.stringify(dashboard(refs));
