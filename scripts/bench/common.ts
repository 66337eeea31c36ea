/** Small helpers shared by the benchmark's sections. */

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const printTable = (rows: readonly (readonly string[])[]): void => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
};

export type Verdict = 'PASS' | 'FAIL' | 'SKIPPED';

/** One line of the closing summary: what was asked, what was measured, and whether it holds. */
export interface GoalResult {
  readonly goal: string;
  readonly measured: string;
  readonly verdict: Verdict;
}

export const verdict = (holds: boolean | undefined): Verdict => (holds === undefined ? 'SKIPPED' : holds ? 'PASS' : 'FAIL');

export const fixed = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');
