/** Small predicates for boundary input (metadata, job files, model responses). */

export const defined = <T>(value: T | undefined | null): value is T => value !== undefined && value !== null;

export const string = (value: unknown): value is string => typeof value === 'string';

export const number = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export const integer = (value: unknown): value is number => Number.isSafeInteger(value);

export const inRange = (value: number, min: number, max: number): boolean => value >= min && value <= max;

export const inArray = <T>(value: unknown, list: readonly T[]): value is T => list.includes(value as T);

export const plainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One wording for every complaint: "Expected X for Y but received Z". */
export const invalidParameterMessage = (name: string, expected: string, actual: unknown): string => {
  if (actual === undefined) return `Expected ${expected} for ${name} but received nothing`;
  const shown = typeof actual === 'string' ? JSON.stringify(actual.length > 80 ? `${actual.slice(0, 77)}...` : actual) : String(actual);
  return `Expected ${expected} for ${name} but received ${shown}`;
};
