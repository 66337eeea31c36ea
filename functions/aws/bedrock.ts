import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo, RetryStrategyV2, RetryToken, StandardRetryToken } from '@smithy/types';
import { PipelineError } from '../core/errors';
import { classifyInvokeFailure } from '../core/models/bedrock-errors';

export interface Invocation {
  readonly body: unknown;
  /** HTTP attempts the SDK made, retries included. */
  readonly attempts: number | undefined;
}

/** The request may have reached the model and been billed; only the answer was lost. */
const isClientTimeout = (error: unknown): boolean => {
  const e = error as { name?: string; code?: string } | undefined;
  return e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT';
};

/**
 * The SDK's standard strategy (jittered exponential backoff, Retry-After honoured,
 * throttling retried), except after a client-side timeout: that request may have
 * been generated and billed already, so it is left to the next delivery of the
 * job, which the per-job call budget meters, rather than bought again at once.
 */
export class PaidCallRetryStrategy implements RetryStrategyV2 {
  private readonly standard: StandardRetryStrategy;

  constructor(maxAttempts: number) {
    this.standard = new StandardRetryStrategy(maxAttempts);
  }

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.standard.acquireInitialRetryToken(scope);
  }

  refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    if (isClientTimeout(errorInfo.error)) return Promise.reject(errorInfo.error);
    return this.standard.refreshRetryTokenForRetry(token as StandardRetryToken, errorInfo);
  }

  recordSuccess(token: RetryToken): void {
    this.standard.recordSuccess(token as StandardRetryToken);
  }
}

/**
 * The Bedrock adapter, configured only by the standard AWS variables plus the
 * retry and timeout settings (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` redirects it
 * locally). Every failure leaves it as a PipelineError with its reason class
 * (core/models/bedrock-errors.ts) and the attempts it cost: each attempt is a
 * paid generation, so the count feeds the per-job budget.
 */
export const createBedrock = (options: { requestTimeoutMs: number; maxAttempts: number }) => {
  const client = new BedrockRuntimeClient({
    maxAttempts: options.maxAttempts,
    retryStrategy: new PaidCallRetryStrategy(options.maxAttempts),
    requestHandler: { requestTimeout: options.requestTimeoutMs },
  });
  return {
    client,
    /** One InvokeModel call with a JSON body; returns the parsed JSON answer. */
    async invoke(modelId: string, body: unknown, abortSignal?: AbortSignal): Promise<Invocation> {
      try {
        const response = await client.send(
          new InvokeModelCommand({ modelId, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(body) }),
          abortSignal ? { abortSignal } : {},
        );
        return { body: JSON.parse(new TextDecoder().decode(response.body)), attempts: response.$metadata.attempts };
      } catch (error) {
        throw new InvokeFailed(classifyInvokeFailure(error as Error, modelId), (error as { $metadata?: { attempts?: number } }).$metadata?.attempts);
      }
    },
  };
};
export type Bedrock = ReturnType<typeof createBedrock>;

/** A failed InvokeModel call: its reason, and the attempts it cost (undefined: the SDK did not say). */
export class InvokeFailed extends Error {
  override readonly name = 'InvokeFailed';

  constructor(
    readonly failure: PipelineError,
    readonly attempts: number | undefined,
  ) {
    super(failure.message, { cause: failure });
  }
}
