/**
 * Who causes a failure, which decides what happens next:
 * - `upload`: the file or its metadata. Permanent; the same upload again fails the same way, so a
 *   re-upload of it is not tried again (a changed file or setting is a new request).
 * - `deployment`: the account, the stack or the model's availability. Permanent for this attempt;
 *   once an operator fixes it, a re-upload of the same file is tried again.
 * - `model`: the model failed while generating. Permanent for this attempt; a re-upload tries again.
 * - `service`: throttling, a 5xx, a timeout, a crash. Transient: the invocation throws so the
 *   delivery is retried, and only the retries running out turn it into an error report.
 */
export const Cause = {
  UPLOAD: 'upload',
  DEPLOYMENT: 'deployment',
  MODEL: 'model',
  SERVICE: 'service',
} as const;
export type Cause = (typeof Cause)[keyof typeof Cause];

/**
 * Every way a job can fail: the failure policy in one table. Permanent reasons end the job with
 * `error.json` in the output bucket and a successful invocation (a retry would fail the same way,
 * and model calls cost money). Transient reasons are rethrown so the delivery is retried.
 */
export const FailureReason = {
  /** The upload is larger than the configured byte limit. */
  INPUT_TOO_LARGE: { cause: Cause.UPLOAD, permanent: true },
  /** The upload is not one of the allowed image formats (SVG, PDF, text, …). */
  UNSUPPORTED_FORMAT: { cause: Cause.UPLOAD, permanent: true },
  /** The bytes claim an allowed format but cannot be decoded (truncated, corrupt, empty). */
  UNREADABLE_IMAGE: { cause: Cause.UPLOAD, permanent: true },
  /** Too many pixels (decompression bomb guard) or an extreme aspect/size. */
  IMAGE_DIMENSIONS: { cause: Cause.UPLOAD, permanent: true },
  /** The picture would keep the decoder busy too long: more JPEG scans than MAX_JPEG_SCANS, or decoding ran out of time. */
  DECODER_LIMIT: { cause: Cause.UPLOAD, permanent: true },
  /** A metadata value is out of range or malformed. */
  INVALID_PARAMETER: { cause: Cause.UPLOAD, permanent: true },
  /** The model provider's moderation blocked the prompt, the input or the output. */
  CONTENT_FILTERED: { cause: Cause.UPLOAD, permanent: true },
  /** The upload was deleted before it could be read. */
  SOURCE_MISSING: { cause: Cause.UPLOAD, permanent: true },
  /** The model does not exist in this region, has reached end of life, or the job was prepared for another model. */
  MODEL_UNAVAILABLE: { cause: Cause.DEPLOYMENT, permanent: true },
  /** The function's role may not invoke the model (or the account lacks access). */
  ACCESS_DENIED: { cause: Cause.DEPLOYMENT, permanent: true },
  /** The model refused the request body (schema or limits). A bug or a model change. */
  MODEL_REJECTED_REQUEST: { cause: Cause.DEPLOYMENT, permanent: true },
  /** The job file or a claim in the staging bucket is malformed: only something other than the pipeline writes those. */
  INVALID_JOB: { cause: Cause.DEPLOYMENT, permanent: true },
  /** The model failed while generating (ModelErrorException, "Inference error"). */
  MODEL_ERROR: { cause: Cause.MODEL, permanent: true },
  /** The job used up its model-call budget (MAX_MODEL_CALLS_PER_JOB) across retries. */
  CALL_BUDGET_EXHAUSTED: { cause: Cause.SERVICE, permanent: true },
  /**
   * A transient failure outlasted every receive of the queue message (MAX_RECEIVE_COUNT): the
   * message is in the dead-letter queue, and redriving it after a fix tries again.
   */
  RETRIES_EXHAUSTED: { cause: Cause.SERVICE, permanent: true },
  /** Throttled by Bedrock or S3; retrying later helps. */
  THROTTLED: { cause: Cause.SERVICE, permanent: false },
  /** A 5xx, a timeout or a dropped connection; retrying later helps. */
  SERVICE_UNAVAILABLE: { cause: Cause.SERVICE, permanent: false },
} as const satisfies Record<string, { readonly cause: Cause; readonly permanent: boolean }>;

export type FailureReason = keyof typeof FailureReason;

export const isPermanent = (reason: FailureReason): boolean => FailureReason[reason].permanent;

export const causeOf = (reason: FailureReason): Cause => FailureReason[reason].cause;

/**
 * Whether a later upload of the same file with the same settings should try again after this
 * failure: yes unless the upload itself caused it (then the answer would be the same).
 */
export const retriedOnReupload = (reason: FailureReason): boolean => causeOf(reason) !== Cause.UPLOAD;

/** The one error type the core raises: a reason class plus a message fit for the user. */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  readonly reason: FailureReason;

  constructor(reason: FailureReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }

  get permanent(): boolean {
    return isPermanent(this.reason);
  }
}

/** What the user finds in `error.json`: no stack, no SDK internals. */
export interface FailureReport {
  reason: FailureReason;
  message: string;
  permanent: boolean;
  /** RETRIES_EXHAUSTED: how many receives were tried, and what the last one failed with. */
  attempts?: number;
  lastError?: string;
}

export const toFailureReport = (error: PipelineError): FailureReport => ({
  reason: error.reason,
  message: error.message,
  permanent: error.permanent,
});

/**
 * The report for a job whose last receive failed transiently: what the user finds instead of
 * nothing while the message waits in the dead-letter queue.
 */
export const exhaustedReport = (error: unknown, attempts: number): FailureReport => {
  const lastError = error instanceof PipelineError ? `${error.reason}: ${error.message}` : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    reason: 'RETRIES_EXHAUSTED',
    message: `Gave up after ${attempts} attempts (MAX_RECEIVE_COUNT); the last one failed with ${lastError}. The message is in the dead-letter queue: redriving it after the cause is fixed tries again.`,
    permanent: true,
    attempts,
    lastError,
  };
};

/** A failure as log fields: `message` is the log line's own key, so the report's message goes under `detail`. */
export const failureFields = ({ message, ...rest }: FailureReport): Record<string, unknown> => ({ ...rest, detail: message });
