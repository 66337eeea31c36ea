import { PipelineError } from './errors';
import { inArray, inRange, invalidParameterMessage } from './is';
import { decodeRfc2047 } from './rfc2047';

/** The per-upload settings, as S3 user-metadata names (S3 lower-cases them). */
export const PARAMETER_NAMES = [
  'prompt',
  'negative-prompt',
  'control-mode',
  'control-strength',
  'seed',
  'count',
  'quality',
] as const;
export type ParameterName = (typeof PARAMETER_NAMES)[number];

/** Raw values as strings, from metadata or from deploy-time defaults. */
export type RawParameters = Partial<Record<ParameterName, string>>;

export const ControlMode = { CANNY_EDGE: 'CANNY_EDGE', SEGMENTATION: 'SEGMENTATION' } as const;
export type ControlMode = (typeof ControlMode)[keyof typeof ControlMode];

export const Quality = { STANDARD: 'standard', PREMIUM: 'premium' } as const;
export type Quality = (typeof Quality)[keyof typeof Quality];

/** What a model accepts; each adapter states its own. */
export interface ParameterLimits {
  readonly promptMaxLength: number;
  readonly negativePromptMaxLength: number;
  readonly seedMax: number;
  readonly countMax: number;
  readonly controlModes: readonly ControlMode[];
  readonly qualities: readonly Quality[];
}

export interface JobParameters {
  readonly prompt: string;
  /** Omitted rather than empty: Nova rejects an empty negativeText. */
  readonly negativePrompt?: string;
  readonly controlMode: ControlMode;
  readonly controlStrength: number;
  /** Absent: generate derives one per job and records it. */
  readonly seed?: number;
  readonly count: number;
  readonly quality: Quality;
}

export interface ParsedParameters {
  readonly parameters: JobParameters;
  /** Metadata keys that are not parameters: recorded so a typo like `promt` is visible in the manifest. */
  readonly ignoredMetadata: readonly string[];
}

const FALLBACKS: Required<Omit<RawParameters, 'prompt' | 'negative-prompt' | 'seed'>> = {
  'control-mode': ControlMode.CANNY_EDGE,
  'control-strength': '0.7',
  count: '1',
  quality: Quality.STANDARD,
};

const DECIMAL = /^\s*\d+(\.\d+)?\s*$/;
const WHOLE = /^\s*\d+\s*$/;

/**
 * Merges upload metadata over deploy-time defaults and checks every value
 * against the model's limits. Never coerces: an invalid value is an
 * INVALID_PARAMETER failure naming the value and where it came from.
 */
export const parseParameters = (
  metadata: Readonly<Record<string, string | undefined>>,
  defaults: RawParameters,
  limits: ParameterLimits,
): ParsedParameters => {
  // S3 lower-cases metadata names; other writers may not.
  const byName = Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key.toLowerCase(), value]));
  const ignoredMetadata = Object.keys(metadata).filter((key) => !inArray(key.toLowerCase(), PARAMETER_NAMES));
  const lookup = (name: ParameterName): { value: string | undefined; from: string } => {
    const fromMetadata = byName[name];
    if (fromMetadata !== undefined) return { value: decodeRfc2047(fromMetadata), from: `metadata ${name}` };
    const fallback = defaults[name] ?? (FALLBACKS as RawParameters)[name];
    return { value: fallback === '' ? undefined : fallback, from: `default ${name}` };
  };
  const fail = (name: string, expected: string, actual: unknown): never => {
    throw new PipelineError('INVALID_PARAMETER', invalidParameterMessage(name, expected, actual));
  };

  const prompt = lookup('prompt');
  const promptText = prompt.value?.trim() ?? '';
  if (promptText.length === 0) {
    fail('prompt', `a text of 1 to ${limits.promptMaxLength} characters (set S3 metadata "prompt" or a default prompt)`, prompt.value);
  }
  if (promptText.length > limits.promptMaxLength) {
    fail(prompt.from, `at most ${limits.promptMaxLength} characters`, `${promptText.length} characters`);
  }

  const negative = lookup('negative-prompt');
  const negativeText = negative.value?.trim() ?? '';
  if (negativeText.length > limits.negativePromptMaxLength) {
    fail(negative.from, `at most ${limits.negativePromptMaxLength} characters`, `${negativeText.length} characters`);
  }

  const mode = lookup('control-mode');
  const controlMode = mode.value?.trim().toUpperCase();
  if (!inArray(controlMode, limits.controlModes)) fail(mode.from, `one of: ${limits.controlModes.join(', ')}`, mode.value);

  const strength = lookup('control-strength');
  const controlStrength = Number(strength.value);
  if (!DECIMAL.test(strength.value ?? '') || !inRange(controlStrength, 0, 1)) {
    fail(strength.from, 'number between 0 and 1', strength.value);
  }

  const seedRaw = lookup('seed');
  let seed: number | undefined;
  if (seedRaw.value !== undefined) {
    seed = Number(seedRaw.value);
    if (!WHOLE.test(seedRaw.value) || !inRange(seed, 0, limits.seedMax)) {
      fail(seedRaw.from, `integer between 0 and ${limits.seedMax}`, seedRaw.value);
    }
  }

  const countRaw = lookup('count');
  const count = Number(countRaw.value);
  if (!WHOLE.test(countRaw.value ?? '') || !inRange(count, 1, limits.countMax)) {
    fail(countRaw.from, `integer between 1 and ${limits.countMax}`, countRaw.value);
  }

  const qualityRaw = lookup('quality');
  const quality = qualityRaw.value?.trim().toLowerCase();
  if (!inArray(quality, limits.qualities)) fail(qualityRaw.from, `one of: ${limits.qualities.join(', ')}`, qualityRaw.value);

  return {
    parameters: {
      prompt: promptText,
      ...(negativeText ? { negativePrompt: negativeText } : {}),
      controlMode: controlMode as ControlMode,
      controlStrength,
      ...(seed !== undefined ? { seed } : {}),
      count,
      quality: quality as Quality,
    },
    ignoredMetadata,
  };
};
