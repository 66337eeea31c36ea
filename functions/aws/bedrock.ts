import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';

export interface Invocation {
  readonly body: unknown;
  /** HTTP attempts the SDK made, retries included. */
  readonly attempts: number | undefined;
}

/**
 * The Bedrock client, configured only by the standard AWS variables plus the
 * retry and timeout settings (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` redirects it
 * locally). Retries are the SDK's standard strategy (jittered exponential
 * backoff, Retry-After honoured) bounded by `maxAttempts`: each attempt is a
 * paid generation, so the bound is part of the per-job budget.
 */
export const createBedrock = (options: { requestTimeoutMs: number; maxAttempts: number }) => {
  const client = new BedrockRuntimeClient({
    maxAttempts: options.maxAttempts,
    retryMode: 'standard',
    requestHandler: { requestTimeout: options.requestTimeoutMs },
  });
  return {
    /** One InvokeModel call with a JSON body; returns the parsed JSON answer. */
    async invoke(modelId: string, body: unknown, abortSignal?: AbortSignal): Promise<Invocation> {
      const response = await client.send(
        new InvokeModelCommand({ modelId, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(body) }),
        abortSignal ? { abortSignal } : {},
      );
      return { body: JSON.parse(new TextDecoder().decode(response.body)), attempts: response.$metadata.attempts };
    },
  };
};
