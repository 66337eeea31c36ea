/**
 * Every way a job can fail, and whether trying again could help.
 *
 * Permanent reasons end the job with `error.json` in the output bucket and a
 * successful invocation (a retry would fail the same way, and model calls cost
 * money). Transient reasons are rethrown so Lambda's async retry takes over.
 */
export const FailureReason = {
  /** The upload is larger than the configured byte limit. */
  INPUT_TOO_LARGE: { permanent: true },
  /** The upload is not one of the allowed image formats (SVG, PDF, text, …). */
  UNSUPPORTED_FORMAT: { permanent: true },
  /** The bytes claim an allowed format but cannot be decoded (truncated, corrupt, empty). */
  UNREADABLE_IMAGE: { permanent: true },
  /** Too many pixels (decompression bomb guard) or an extreme aspect/size. */
  IMAGE_DIMENSIONS: { permanent: true },
  /** A metadata value or deploy-time default is out of range or malformed. */
  INVALID_PARAMETER: { permanent: true },
  /** The model provider's moderation blocked the prompt, the input or the output. */
  CONTENT_FILTERED: { permanent: true },
  /** The model does not exist in this region or has reached end of life. */
  MODEL_UNAVAILABLE: { permanent: true },
  /** The function's role may not invoke the model (or the account lacks access). */
  ACCESS_DENIED: { permanent: true },
  /** The model refused the request body (schema or limits). A bug or a model change. */
  MODEL_REJECTED_REQUEST: { permanent: true },
  /** The model failed while generating (ModelErrorException, "Inference error"). */
  MODEL_ERROR: { permanent: true },
  /** The upload was deleted or replaced before it could be read. */
  SOURCE_MISSING: { permanent: true },
  /** The job used up its model-call budget (MAX_MODEL_CALLS_PER_JOB) across retries. */
  CALL_BUDGET_EXHAUSTED: { permanent: true },
  /** The job file in the staging bucket is missing or malformed. */
  INVALID_JOB: { permanent: true },
  /** Throttled by Bedrock or S3; retrying later helps. */
  THROTTLED: { permanent: false },
  /** A 5xx, a timeout or a dropped connection; retrying later helps. */
  SERVICE_UNAVAILABLE: { permanent: false },
} as const;

export type FailureReason = keyof typeof FailureReason;

export const isPermanent = (reason: FailureReason): boolean => FailureReason[reason].permanent;

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
}

export const toFailureReport = (error: PipelineError): FailureReport => ({
  reason: error.reason,
  message: error.message,
  permanent: error.permanent,
});
