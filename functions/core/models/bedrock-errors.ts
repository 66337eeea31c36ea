import { PipelineError, type FailureReason } from '../errors';

/** The parts of an SDK exception the decision needs. */
export interface InvokeFailure {
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly code?: string;
}

const BY_NAME: Readonly<Record<string, FailureReason>> = {
  AccessDeniedException: 'ACCESS_DENIED',
  ResourceNotFoundException: 'MODEL_UNAVAILABLE',
  ModelErrorException: 'MODEL_ERROR',
  ThrottlingException: 'THROTTLED',
  ModelNotReadyException: 'THROTTLED',
  ServiceQuotaExceededException: 'THROTTLED',
  ModelTimeoutException: 'SERVICE_UNAVAILABLE',
  InternalServerException: 'SERVICE_UNAVAILABLE',
  ServiceUnavailableException: 'SERVICE_UNAVAILABLE',
  TimeoutError: 'SERVICE_UNAVAILABLE',
  AbortError: 'SERVICE_UNAVAILABLE',
};

const CONTENT_FILTER = /content filters?/i;
// A wrong id for the region or a base id that needs an inference profile: no retry will fix it.
const MODEL_ID_PROBLEM = /model identifier is invalid|on-demand throughput isn.t supported|end of its life|Legacy/i;
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** Sorts an InvokeModel failure into a reason class; the message stays the service's own. */
export const classifyInvokeFailure = (error: InvokeFailure, modelId: string): PipelineError => {
  const name = error.name ?? 'Error';
  const message = error.message ?? name;
  const status = error.$metadata?.httpStatusCode;
  let reason: FailureReason | undefined = BY_NAME[name];
  if (name === 'ValidationException') {
    if (CONTENT_FILTER.test(message)) reason = 'CONTENT_FILTERED';
    else if (MODEL_ID_PROBLEM.test(message)) reason = 'MODEL_UNAVAILABLE';
    else reason = 'MODEL_REJECTED_REQUEST';
  }
  if (!reason && error.code && NETWORK_CODES.has(error.code)) reason = 'SERVICE_UNAVAILABLE';
  if (!reason && status !== undefined) reason = status >= 500 ? 'SERVICE_UNAVAILABLE' : status === 429 ? 'THROTTLED' : 'MODEL_REJECTED_REQUEST';
  // Unknown failures without an HTTP answer are most likely the network: let Lambda retry.
  reason ??= 'SERVICE_UNAVAILABLE';
  return new PipelineError(reason, `${modelId}: ${name}: ${message}`, { cause: error });
};
