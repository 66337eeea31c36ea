/**
 * The reliability run's ledger. Each reliability test file adds what its
 * pipeline did (counted from the buckets, the dead-letter file and the
 * stand-in's call log, not from what the tests expected); a root `after` hook
 * prints the totals once the run is over and asserts the numbers that must be
 * zero: model calls billed twice for the same request (also after failures
 * that came after the model answered), uploads that ended nowhere or with
 * other than one complete outcome, stale files, and older uploads shown over
 * newer ones.
 */
import { expect } from 'chai';

export interface Tally {
  /** PutObject calls into the input bucket. */
  inputs: number;
  /** Events delivered again on purpose (re-dispatched S3 records). */
  redelivered: number;
  /** Keys whose latest upload ended with generated pictures. */
  results: number;
  /** Keys whose latest upload ended with error.json. */
  errorReports: number;
  /** Keys whose latest upload's event went to the dead-letter file. */
  deadLettered: number;
  /** Keys whose latest upload has no outcome and no dead letter. */
  lost: number;
  /** InvokeModel HTTP attempts the stand-in received. */
  modelCalls: number;
  /** Successful answers to a request that had already been answered successfully. */
  duplicateCallsBilled: number;
  /** Successful answers the client had stopped waiting for (request timeout): possibly billed, never used. */
  abandonedAnswers: number;
  /** Keys whose folder does not hold exactly one complete outcome of the latest upload (pictures or error.json, and its manifest). */
  notOneOutcome: number;
  /** Files in an output folder that its manifest does not list. */
  staleFiles: number;
  /** Folders showing an older upload of their key than the newest one. */
  olderOverNewer: number;
  /** S3 writes made to fail after the model had answered (output PUTs, claim updates). */
  postCallFailures: number;
  /** Model answers bought again after such a failure. */
  postCallDuplicateCalls: number;
}

const empty = (): Tally => ({
  inputs: 0,
  redelivered: 0,
  results: 0,
  errorReports: 0,
  deadLettered: 0,
  lost: 0,
  modelCalls: 0,
  duplicateCallsBilled: 0,
  abandonedAnswers: 0,
  notOneOutcome: 0,
  staleFiles: 0,
  olderOverNewer: 0,
  postCallFailures: 0,
  postCallDuplicateCalls: 0,
});

const sections = new Map<string, Tally>();

/** Adds one pipeline's counts under `section` (a test file's name). */
export const addToSummary = (section: string, counts: Partial<Tally>): void => {
  const tally = sections.get(section) ?? empty();
  for (const [name, value] of Object.entries(counts) as [keyof Tally, number][]) tally[name] += value;
  sections.set(section, tally);
};

export const summaryTotals = (): Tally => {
  const total = empty();
  for (const tally of sections.values()) for (const name of Object.keys(total) as (keyof Tally)[]) total[name] += tally[name];
  return total;
};

const LABELS: Record<keyof Tally, string> = {
  inputs: 'inputs tried (uploads)',
  redelivered: 'events delivered twice on purpose',
  results: 'results',
  errorReports: 'error reports (error.json)',
  deadLettered: 'dead-lettered (DLQ + alarm)',
  lost: 'lost',
  modelCalls: 'model calls (HTTP attempts)',
  duplicateCallsBilled: 'duplicate calls billed',
  abandonedAnswers: 'answers abandoned on timeout',
  notOneOutcome: 'uploads without exactly 1 outcome',
  staleFiles: 'stale files found',
  olderOverNewer: 'older-over-newer',
  postCallFailures: 'post-call failures injected',
  postCallDuplicateCalls: 'duplicate calls billed after post-call failures',
};

// A root-level hook: it runs once, after every test of the run.
after(function () {
  if (sections.size === 0) return;
  const names = [...sections.keys()];
  const total = summaryTotals();
  const width = Math.max(...Object.values(LABELS).map((l) => l.length));
  const column = (value: string): string => value.padStart(10);
  const lines = [
    '',
    '  Reliability summary',
    `  ${''.padEnd(width)} ${names.map(column).join(' ')} ${column('total')}`,
    ...(Object.keys(LABELS) as (keyof Tally)[]).map(
      (name) => `  ${LABELS[name].padEnd(width)} ${names.map((s) => column(String(sections.get(s)![name]))).join(' ')} ${column(String(total[name]))}`,
    ),
    '',
  ];
  console.log(lines.join('\n'));
  expect(total.duplicateCallsBilled, 'model calls billed twice for the same request').to.equal(0);
  expect(total.lost, 'uploads with neither an outcome nor a dead letter').to.equal(0);
  expect(total.notOneOutcome, 'uploads whose folder does not hold exactly one complete outcome').to.equal(0);
  expect(total.staleFiles, 'files beside a manifest that does not list them').to.equal(0);
  expect(total.olderOverNewer, 'folders showing an older upload than the newest').to.equal(0);
  expect(total.postCallDuplicateCalls, 'model answers bought again after a failure that came after the model answered').to.equal(0);
});
