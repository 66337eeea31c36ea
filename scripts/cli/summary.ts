/**
 * The table printed at the end of a batch: outcomes by reason, model calls, estimated cost and
 * time; and the functions' metrics of the run (formatMetricTotals). Pure.
 *
 * @module
 */
import { describeTotal, type MetricTotal } from './emf';
import { factsOf, formatUsd, outcomeLabel, type ManifestFacts, type ManifestJson } from './manifest-fields';
import { formatDuration } from './progress';

export interface BatchSummary {
  /** `succeeded`, `partial`, `failed: <REASON>` → uploads, most common first. */
  readonly outcomes: readonly (readonly [string, number])[];
  readonly uploads: number;
  readonly images: number;
  readonly modelCalls: number;
  readonly costUsd: number;
  /** Uploads answered by a stand-in (no model called, nothing billed). */
  readonly standIn: number;
  /** Files that were not uploaded or whose outcome never came, with why. */
  readonly notProcessed: number;
  readonly elapsedMs: number;
}

export const summarize = (manifests: readonly (ManifestJson | ManifestFacts)[], elapsedMs: number, notProcessed = 0): BatchSummary => {
  const facts = manifests.map((m) => ('outcome' in m && 'callFailures' in m ? (m as ManifestFacts) : factsOf(m as ManifestJson)));
  const counts = new Map<string, number>();
  for (const f of facts) counts.set(outcomeLabel(f), (counts.get(outcomeLabel(f)) ?? 0) + 1);
  const order = (label: string): number => (label === 'succeeded' ? 0 : label === 'partial' ? 1 : 2);
  return {
    outcomes: [...counts.entries()].sort((a, b) => order(a[0]) - order(b[0]) || b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    uploads: facts.length,
    images: facts.reduce((n, f) => n + f.images.length, 0),
    modelCalls: facts.reduce((n, f) => n + f.modelCalls, 0),
    costUsd: Math.round(facts.reduce((n, f) => n + f.costUsd, 0) * 10_000) / 10_000,
    standIn: facts.filter((f) => f.standIn).length,
    notProcessed,
    elapsedMs,
  };
};

/** The summary as aligned text lines. */
export const formatSummary = (summary: BatchSummary): string => {
  const rows: [string, string][] = [
    ...summary.outcomes.map(([label, n]): [string, string] => [label, String(n)]),
    ...(summary.notProcessed > 0 ? [['not processed', String(summary.notProcessed)] as [string, string]] : []),
  ];
  const perMinute = summary.elapsedMs > 0 ? (summary.uploads / summary.elapsedMs) * 60_000 : 0;
  const cost =
    summary.standIn > 0 && summary.standIn === summary.uploads
      ? `${formatUsd(summary.costUsd)} at list price (stand-in: no model was called, nothing was billed)`
      : `${formatUsd(summary.costUsd)}${summary.standIn > 0 ? ` (${summary.standIn} answered by a stand-in, not billed)` : ''}`;
  const totals: [string, string][] = [
    ['uploads', String(summary.uploads)],
    ['images', String(summary.images)],
    ['model calls', String(summary.modelCalls)],
    ['estimated cost', cost],
    ['time', `${formatDuration(summary.elapsedMs)}${summary.uploads > 0 ? ` (${perMinute.toFixed(perMinute >= 10 ? 0 : 1)} uploads/min)` : ''}`],
  ];
  const width = Math.max(...[...rows, ...totals].map(([label]) => label.length));
  const line = ([label, value]: [string, string]): string => `  ${label.padEnd(width)}  ${value}`;
  return ['outcome', ...rows.map(line), '', ...totals.map(line)].join('\n');
};

/**
 * The metrics the functions emitted during the run, summed as CloudWatch sums them (from their
 * EMF log lines, see emf.ts): the numbers the deployed dashboard would show for the same uploads.
 * Metrics in `order` first, in that order; none at all → no section.
 */
export const formatMetricTotals = (totals: readonly MetricTotal[], order: readonly string[] = []): string => {
  if (totals.length === 0) return '';
  const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
  const sorted = [...totals].sort((a, b) => rank(a.name) - rank(b.name));
  const namespaces = [...new Set(sorted.map((t) => t.namespace))];
  const width = Math.max(...sorted.map((t) => t.name.length));
  return [`metrics (as CloudWatch counts them; namespace ${namespaces.join(', ')})`, ...sorted.map((t) => `  ${t.name.padEnd(width)}  ${describeTotal(t)}`)].join('\n');
};
