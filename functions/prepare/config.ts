import { ConfigError, envReader } from '../core/env';
import { DEFAULT_MAX_JPEG_SCANS } from '../core/jpeg-structure';
import { parseParameters, type RawParameters } from '../core/params';
import { Env } from '../core/settings';

/**
 * Everything prepare reads from its environment, checked once at cold start:
 * a wrong setting fails every invocation with the variable's name instead of
 * failing uploads one by one.
 */
const read = (env: NodeJS.ProcessEnv) => {
  const vars = envReader(env);
  const { modelId, adapter } = vars.model();
  const defaults: RawParameters = {
    prompt: vars.string(Env.DEFAULT_PROMPT, ''),
    'negative-prompt': vars.string(Env.DEFAULT_NEGATIVE_PROMPT, ''),
    'control-mode': vars.string(Env.DEFAULT_CONTROL_MODE, 'CANNY_EDGE'),
    'control-strength': vars.string(Env.DEFAULT_CONTROL_STRENGTH, '0.7'),
    count: vars.string(Env.DEFAULT_COUNT, '1'),
    quality: vars.string(Env.DEFAULT_QUALITY, 'standard'),
  };
  try {
    // A placeholder prompt: an empty default prompt is allowed (then every upload must carry one).
    parseParameters({}, { ...defaults, prompt: defaults.prompt || 'placeholder' }, adapter.limits);
  } catch (error) {
    throw new ConfigError(`A DEFAULT_* environment variable is invalid: ${(error as Error).message}`);
  }
  return Object.freeze({
    stagingBucket: vars.string(Env.STAGING_BUCKET),
    modelId,
    adapter,
    defaults: Object.freeze(defaults),
    maxInputBytes: vars.setting('MAX_INPUT_BYTES'),
    /** Decompression-bomb guard passed to sharp's limitInputPixels. */
    maxInputPixels: vars.setting('MAX_INPUT_PIXELS'),
    /** The queue's receives before the dead-letter queue: the last one reports the failure. */
    maxReceiveCount: vars.setting('MAX_RECEIVE_COUNT'),
    /**
     * Most scans a JPEG may have; more are refused with DECODER_LIMIT before any decoding
     * (every scan is a decoder pass over the whole picture; see core/jpeg-structure.ts for
     * what encoders write and why 100). @default 100
     */
    maxJpegScans: vars.integer(Env.MAX_JPEG_SCANS, 1, 10_000, DEFAULT_MAX_JPEG_SCANS),
  });
};

export type PrepareConfig = ReturnType<typeof read>;
export const readPrepareConfig = read;
