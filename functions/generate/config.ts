import { envReader } from '../core/env';

/** Everything generate reads from its environment, checked once at cold start. */
export const readGenerateConfig = (env: NodeJS.ProcessEnv) => {
  const vars = envReader(env);
  const { modelId, adapter } = vars.model();
  return Object.freeze({
    outputBucket: vars.string('OUTPUT_BUCKET'),
    modelId,
    adapter,
    /**
     * Per-attempt HTTP timeout for InvokeModel; below the function timeout so a
     * hung call fails inside the invocation and can be retried.
     * @default 120000
     */
    requestTimeoutMs: vars.integer('REQUEST_TIMEOUT_MS', 1000, 900_000, 120_000),
    /** Model calls in flight at once for one job (count > 1 on one-image models). @default 2 */
    callConcurrency: vars.integer('CALL_CONCURRENCY', 1, 5, 2),
    /** HTTP attempts per InvokeModel call, the SDK's retries included. @default 3 */
    modelMaxAttempts: vars.integer('MODEL_MAX_ATTEMPTS', 1, 10, 3),
    /**
     * InvokeModel attempts one upload may cost across SDK and Lambda retries;
     * each attempt is a paid generation. @default 15 (five images × three attempts)
     */
    maxModelCallsPerJob: vars.integer('MAX_MODEL_CALLS_PER_JOB', 1, 100, 15),
  });
};

export type GenerateConfig = ReturnType<typeof readGenerateConfig>;
