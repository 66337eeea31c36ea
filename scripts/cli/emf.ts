/**
 * CloudWatch's embedded metric format (EMF), read back from function logs: the metric lines
 * Powertools Metrics writes (one JSON object per line with `_aws.CloudWatchMetrics`), summed
 * the way CloudWatch sums them, so a local run can show the numbers the deployed dashboard
 * would. Pure: text in, totals out.
 *
 * One EMF line holds one or more directives (namespace, dimension sets, metric names and units);
 * the values are the line's own fields: a number, or an array of numbers when a metric was added
 * several times before the line was written (one ModelLatency per model call). The dimension
 * values are fields of the line too.
 *
 * @module
 */

/** One metric of one EMF line: every value it carries, with its dimensions. */
export interface EmfMetric {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string;
  /** Dimension name → value, for each dimension of the directive (all of its dimension sets). */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  /** `_aws.Timestamp`: milliseconds since the epoch. */
  readonly timestamp: number;
}

interface Directive {
  readonly Namespace?: unknown;
  readonly Dimensions?: unknown;
  readonly Metrics?: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const numbersOf = (value: unknown): number[] =>
  (Array.isArray(value) ? value : [value]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

/** The metrics of one log line; none for a line that is not EMF (text, a log line, a REPORT line). */
export const parseEmfLine = (line: string): EmfMetric[] => {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return [];
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isRecord(object) || !isRecord(object._aws)) return [];
  const { Timestamp, CloudWatchMetrics } = object._aws;
  if (!Array.isArray(CloudWatchMetrics)) return [];
  const timestamp = typeof Timestamp === 'number' ? Timestamp : NaN;
  const found: EmfMetric[] = [];
  for (const directive of CloudWatchMetrics as Directive[]) {
    if (!isRecord(directive) || typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics)) continue;
    const dimensionNames = Array.isArray(directive.Dimensions) ? directive.Dimensions.flat().filter((d): d is string => typeof d === 'string') : [];
    const dimensions = Object.fromEntries(dimensionNames.filter((d) => typeof object[d] === 'string').map((d) => [d, object[d] as string]));
    for (const metric of directive.Metrics) {
      if (!isRecord(metric) || typeof metric.Name !== 'string') continue;
      const values = numbersOf(object[metric.Name]);
      if (values.length === 0) continue;
      found.push({
        namespace: directive.Namespace,
        name: metric.Name,
        unit: typeof metric.Unit === 'string' ? metric.Unit : 'None',
        dimensions,
        values,
        timestamp,
      });
    }
  }
  return found;
};

/** Every metric of a log's lines (one JSON object per line; other lines are skipped). */
export const parseEmfLog = (text: string): EmfMetric[] => text.split('\n').flatMap(parseEmfLine);

/** A metric summed over all its lines, as CloudWatch would aggregate it (statistics Sum, SampleCount, Average, Maximum). */
export interface MetricTotal {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string;
  readonly sum: number;
  /** Values received (SampleCount). */
  readonly count: number;
  readonly max: number;
  /** The sum per value of each dimension other than the default ones, e.g. `outcome` → `succeeded` → 3. */
  readonly byDimension: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface TotalsOptions {
  /** Dimensions every metric carries, not broken down by (Powertools' `service`). @default ['service'] */
  readonly defaultDimensions?: readonly string[];
  /** Only metrics at or after this time (ms since the epoch), e.g. this run's. @default - all */
  readonly since?: number;
  /** Only this namespace. @default - all */
  readonly namespace?: string;
}

/** The metrics summed by namespace and name, in the order they first appear. */
export const totalsOf = (metrics: readonly EmfMetric[], options: TotalsOptions = {}): MetricTotal[] => {
  const defaults = new Set(options.defaultDimensions ?? ['service']);
  const totals = new Map<string, { namespace: string; name: string; unit: string; sum: number; count: number; max: number; byDimension: Record<string, Record<string, number>> }>();
  for (const metric of metrics) {
    if (options.since !== undefined && !(metric.timestamp >= options.since)) continue;
    if (options.namespace !== undefined && metric.namespace !== options.namespace) continue;
    const key = `${metric.namespace}\u0000${metric.name}`;
    const total = totals.get(key) ?? { namespace: metric.namespace, name: metric.name, unit: metric.unit, sum: 0, count: 0, max: -Infinity, byDimension: {} };
    const sum = metric.values.reduce((n, v) => n + v, 0);
    total.sum += sum;
    total.count += metric.values.length;
    total.max = Math.max(total.max, ...metric.values);
    for (const [dimension, value] of Object.entries(metric.dimensions)) {
      if (defaults.has(dimension)) continue;
      const byValue = (total.byDimension[dimension] ??= {});
      byValue[value] = (byValue[value] ?? 0) + sum;
    }
    totals.set(key, total);
  }
  // Sums of decimal amounts (dollars) without float noise: 0.07 + 0.07 + 0.07 is 0.21.
  const round = (n: number): number => Math.round(n * 1e6) / 1e6;
  return [...totals.values()].map((t) => ({ ...t, sum: round(t.sum) }));
};

/** Units whose sum means nothing (a latency, a share): shown as average and maximum instead. */
const AVERAGED_UNITS = new Set(['Milliseconds', 'Microseconds', 'Seconds', 'Percent']);

const UNIT_SUFFIX: Record<string, string> = { Milliseconds: ' ms', Microseconds: ' µs', Seconds: ' s', Percent: ' %' };

const formatNumber = (n: number): string => (Number.isInteger(n) ? String(n) : String(Math.round(n * 10_000) / 10_000));

/** One total as the summary shows it: `12`, `3 (succeeded 2, failed 1)`, or `avg 412 ms, max 980 ms (12 values)`. */
export const describeTotal = (total: MetricTotal): string => {
  if (AVERAGED_UNITS.has(total.unit)) {
    const suffix = UNIT_SUFFIX[total.unit] ?? '';
    const average = total.count > 0 ? total.sum / total.count : 0;
    return `avg ${formatNumber(Math.round(average * 100) / 100)}${suffix}, max ${formatNumber(total.max)}${suffix} (${total.count} value${total.count === 1 ? '' : 's'})`;
  }
  const breakdowns = Object.values(total.byDimension).map((byValue) =>
    Object.entries(byValue)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([value, n]) => `${value} ${formatNumber(n)}`)
      .join(', '),
  );
  return `${formatNumber(total.sum)}${breakdowns.length > 0 ? ` (${breakdowns.join('; ')})` : ''}`;
};
