import { invalidParameterMessage } from './is';
import { adapterFor } from './models';
import type { ModelAdapter } from './models/adapter';
import { IntegerSettings } from './settings';

/** A deploy-time setting is wrong: the function cannot start, so nothing is processed until it is fixed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Typed reads of environment variables, each failing with the variable's name
 * and what is allowed. Pure: the function's config.ts passes `process.env`.
 */
export const envReader = (env: Env) => {
  const fail = (name: string, expected: string, actual: unknown): never => {
    throw new ConfigError(invalidParameterMessage(`environment variable ${name}`, expected, actual));
  };
  return {
    string(name: string, fallback?: string): string {
      const value = env[name];
      if (value !== undefined) return value;
      if (fallback !== undefined) return fallback;
      return fail(name, 'a value (it is required)', undefined);
    },
    /** `MODEL_ID` and the adapter that serves it. */
    model(): { readonly modelId: string; readonly adapter: ModelAdapter } {
      const modelId = this.string('MODEL_ID');
      try {
        return { modelId, adapter: adapterFor(modelId) };
      } catch (error) {
        throw new ConfigError((error as Error).message);
      }
    },
    /** An integer setting of settings.ts, by its variable name, with its range and default. */
    setting(name: keyof typeof IntegerSettings): number {
      const { min, max, default: fallback } = IntegerSettings[name];
      return this.integer(name, min, max, fallback);
    },
    integer(name: string, min: number, max: number, fallback?: number): number {
      const raw = env[name];
      if (raw === undefined || raw === '') {
        if (fallback !== undefined) return fallback;
        return fail(name, `integer between ${min} and ${max} (it is required)`, undefined);
      }
      const value = Number(raw);
      if (!/^\d+$/.test(raw.trim()) || value < min || value > max) fail(name, `integer between ${min} and ${max}`, raw);
      return value;
    },
  };
};
