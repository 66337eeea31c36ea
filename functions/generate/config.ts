import { envReader } from '../core/env';
import { Env } from '../core/settings';

/** Everything generate reads from its environment, checked once at cold start (ranges and defaults: core/settings.ts). */
export const readGenerateConfig = (env: NodeJS.ProcessEnv) => {
  const vars = envReader(env);
  const { modelId, adapter } = vars.model();
  return Object.freeze({
    outputBucket: vars.string(Env.OUTPUT_BUCKET),
    modelId,
    adapter,
    /** Per-attempt HTTP timeout for InvokeModel, below the function timeout so a hung call fails inside the invocation. */
    requestTimeoutMs: vars.setting('REQUEST_TIMEOUT_MS'),
    /** HTTP attempts per InvokeModel call, the SDK's retries included. */
    modelMaxAttempts: vars.setting('MODEL_MAX_ATTEMPTS'),
    /** InvokeModel attempts one upload may cost across all retries; each attempt is a paid generation. */
    maxModelCallsPerJob: vars.setting('MAX_MODEL_CALLS_PER_JOB'),
    /** The shortest time a model call occupies this execution: what makes the spend ceiling hold. */
    minModelCallMs: vars.setting('MIN_MODEL_CALL_MS'),
    /** The queue's receives before the dead-letter queue: the last one publishes the failure. */
    maxReceiveCount: vars.setting('MAX_RECEIVE_COUNT'),
  });
};

export type GenerateConfig = ReturnType<typeof readGenerateConfig>;
