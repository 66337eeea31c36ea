/**
 * What the stack and the functions share, written once: the environment
 * variables the stack sets and the functions read (with each numeric one's
 * default and allowed range), and the facts of the queues between the stages.
 * functions/*\/config.ts check these at cold start, terraform/ sets them, the
 * tests import them.
 */
export const Env = {
  STAGING_BUCKET: 'STAGING_BUCKET',
  OUTPUT_BUCKET: 'OUTPUT_BUCKET',
  MODEL_ID: 'MODEL_ID',
  DEFAULT_PROMPT: 'DEFAULT_PROMPT',
  DEFAULT_NEGATIVE_PROMPT: 'DEFAULT_NEGATIVE_PROMPT',
  DEFAULT_CONTROL_MODE: 'DEFAULT_CONTROL_MODE',
  DEFAULT_CONTROL_STRENGTH: 'DEFAULT_CONTROL_STRENGTH',
  DEFAULT_COUNT: 'DEFAULT_COUNT',
  DEFAULT_QUALITY: 'DEFAULT_QUALITY',
  MAX_INPUT_BYTES: 'MAX_INPUT_BYTES',
  MAX_INPUT_PIXELS: 'MAX_INPUT_PIXELS',
  MAX_JPEG_SCANS: 'MAX_JPEG_SCANS',
  REQUEST_TIMEOUT_MS: 'REQUEST_TIMEOUT_MS',
  MODEL_MAX_ATTEMPTS: 'MODEL_MAX_ATTEMPTS',
  MAX_MODEL_CALLS_PER_JOB: 'MAX_MODEL_CALLS_PER_JOB',
  MIN_MODEL_CALL_MS: 'MIN_MODEL_CALL_MS',
  MAX_RECEIVE_COUNT: 'MAX_RECEIVE_COUNT',
} as const;
export type EnvName = (typeof Env)[keyof typeof Env];

export interface IntegerSetting {
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** Integer settings read from the environment: default and allowed range. */
export const IntegerSettings = {
  /** Uploads larger than this are refused from their size (50 MiB). */
  MAX_INPUT_BYTES: { default: 52_428_800, min: 1, max: 524_288_000 },
  /** Decompression-bomb guard passed to sharp's limitInputPixels (60 MP). */
  MAX_INPUT_PIXELS: { default: 60_000_000, min: 1, max: 268_402_689 },
  /** Per-attempt HTTP timeout for InvokeModel; the stack sets it below the function timeout. */
  REQUEST_TIMEOUT_MS: { default: 120_000, min: 1000, max: 900_000 },
  /** HTTP attempts per InvokeModel call, the SDK's retries included: each one is a paid generation. */
  MODEL_MAX_ATTEMPTS: { default: 3, min: 1, max: 10 },
  /** InvokeModel attempts one upload may cost across all retries (five images × three attempts). */
  MAX_MODEL_CALLS_PER_JOB: { default: 15, min: 1, max: 100 },
  /**
   * The shortest time one model call occupies its execution: a faster answer waits out the rest.
   * It turns the cap on calls in flight into a cap on calls per hour, and so on spend.
   */
  MIN_MODEL_CALL_MS: { default: 5000, min: 0, max: 60_000 },
  /** Receives of a queue message before it goes to the dead-letter queue; the last one reports the failure. */
  MAX_RECEIVE_COUNT: { default: 5, min: 1, max: 1000 },
} as const satisfies Record<string, IntegerSetting>;

/** The queues between the stages (SQS), and how the functions read them. */
export const Queueing = {
  /** SQS's longest retention: a backlog may wait this long. */
  RETENTION_S: 1_209_600,
  /** AWS's guidance for a queue feeding Lambda: a visibility timeout of at least six times the function's timeout. */
  VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT: 6,
  /** Messages per invocation. generate: one job per execution, so executions are calls in flight. */
  GENERATE_BATCH_SIZE: 1,
  PREPARE_BATCH_SIZE: 5,
  /** Lambda's floor for an event source mapping's maximum concurrency. */
  MIN_MAXIMUM_CONCURRENCY: 2,
} as const;

/** CloudWatch metrics the functions emit (embedded metric format) and the stack's alarms and dashboard read. */
export const Metrics = {
  NAMESPACE: 'ImageConditioningPipeline',
  /** InvokeModel attempts, each a possibly paid generation. Dimension service=generate. */
  MODEL_CALLS: 'ModelCalls',
  IMAGES_GENERATED: 'ImagesGenerated',
  /** Outcomes published, with the dimension outcome (succeeded, partial, failed). */
  OUTCOMES: 'Outcomes',
  /** Failed outcomes, with the dimension reason. */
  FAILURES: 'Failures',
  /** Milliseconds of one model call that was made (not read back from a kept answer). */
  MODEL_LATENCY: 'ModelLatency',
  /** Deliveries that found their job already published, superseded by a newer upload, or running elsewhere. */
  DUPLICATE_EVENTS: 'DuplicateEvents',
  /** List price of the pictures received, in US dollars. */
  ESTIMATED_COST: 'EstimatedCostUsd',
  UPLOADS_PREPARED: 'UploadsPrepared',
  /** Uploads prepare refused, with the dimension reason. */
  UPLOADS_REJECTED: 'UploadsRejected',
  PREPARE_DURATION: 'PrepareDuration',
  /** Share of edge pixels in the mask, in percent: a mask near 0 or very high makes poor conditioning. */
  EDGE_DENSITY: 'EdgeDensity',
} as const;
