/**
 * What `npm run status` prints, from what it read: the queues' depths (SQS
 * ApproximateNumberOfMessages / NotVisible / Delayed) and the outcomes' manifests written in
 * the time window. Pure.
 *
 * @module
 */
import { formatUsd, outcomeLabel, type ManifestFacts } from './manifest-fields';
import { summarize } from './summary';

/** One queue's depth, or why it could not be read. */
export type QueueDepth = { readonly waiting: number; readonly inFlight: number; readonly delayed: number } | { readonly error: string };

export interface DatedFacts {
  readonly facts: ManifestFacts;
  /** The manifest's Last-Modified: when the outcome was published. */
  readonly at: Date;
}

export interface StatusInput {
  readonly where: string;
  readonly queues: Readonly<{ prepare?: QueueDepth; generate?: QueueDepth; deadLetter?: QueueDepth }>;
  readonly outcomes: readonly DatedFacts[];
  readonly since: Date;
  readonly now: Date;
  /** How many of the most recent failures to show. @default 5 */
  readonly recentFailures?: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `24h`, `90m`, `7d`, `2w`, `45s` before `now`, or an ISO date/time (`2026-11-26`,
 * `2026-11-26T08:00Z`). @throws Error for anything else.
 */
export const parseSince = (text: string, now: Date): Date => {
  const relative = /^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$/i.exec(text);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNITS[relative[2]!.toLowerCase()]!);
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const at = Date.parse(text.trim());
    if (Number.isFinite(at)) return new Date(at);
  }
  throw new Error(`--since ${JSON.stringify(text)}: expected a duration (30m, 24h, 7d) or a date (2026-11-26, 2026-11-26T08:00Z)`);
};

const when = (date: Date): string => date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

const depthLine = (label: string, depth: QueueDepth | undefined, width: number): string => {
  const name = label.padEnd(width);
  if (!depth) return `  ${name}  (no such queue)`;
  if ('error' in depth) return `  ${name}  could not be read: ${depth.error}`;
  return `  ${name}  waiting ${depth.waiting + depth.delayed} · in progress ${depth.inFlight}`;
};

export const formatStatus = (input: StatusInput): string => {
  const lines: string[] = [`${input.where}, ${when(input.now)}`, '', 'jobs in the queues (approximate, as SQS counts them)'];
  const width = 'dead-letter'.length;
  lines.push(depthLine('prepare', input.queues.prepare, width), depthLine('generate', input.queues.generate, width));
  const dlq = input.queues.deadLetter;
  if (dlq && !('error' in dlq)) {
    const n = dlq.waiting + dlq.inFlight + dlq.delayed;
    lines.push(`  ${'dead-letter'.padEnd(width)}  ${n}${n > 0 ? ' (failed every attempt; after a fix, npm run redrive moves them back)' : ''}`);
  } else lines.push(depthLine('dead-letter', dlq, width));

  const inWindow = input.outcomes.filter((o) => o.at >= input.since);
  const summary = summarize(
    inWindow.map((o) => o.facts),
    0,
  );
  lines.push('', `outcomes published since ${when(input.since)}`);
  if (summary.uploads === 0) lines.push('  none');
  const labelWidth = Math.max(14, ...summary.outcomes.map(([label]) => label.length));
  for (const [label, n] of summary.outcomes) lines.push(`  ${label.padEnd(labelWidth)}  ${n}`);
  if (summary.uploads > 0) {
    lines.push(
      `  ${'total'.padEnd(labelWidth)}  ${summary.uploads} (${summary.images} images)`,
      `  ${'model calls'.padEnd(labelWidth)}  ${summary.modelCalls}`,
      `  ${'estimated spend'.padEnd(labelWidth)}  ${formatUsd(summary.costUsd)}${summary.standIn > 0 ? ` (${summary.standIn === summary.uploads ? 'all' : summary.standIn} answered by a stand-in: not billed)` : ''}`,
    );
  }
  const failures = inWindow
    .filter((o) => o.facts.outcome === 'failed' || o.facts.outcome === 'partial')
    .sort((a, b) => b.at.getTime() - a.at.getTime())
    .slice(0, input.recentFailures ?? 5);
  if (failures.length > 0) {
    lines.push('', 'most recent failures');
    for (const { facts, at } of failures) {
      const why = facts.outcome === 'failed' ? `${facts.reason ?? 'unknown reason'}: ${facts.message ?? ''}` : `${outcomeLabel(facts)}: ${facts.callFailures.join('; ')}`;
      lines.push(`  ${when(at)}  ${facts.key}`, `    ${why.replace(/\s+/g, ' ').trim()}`);
    }
  }
  return lines.join('\n');
};
