import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';

/**
 * The Bedrock client, configured only by the standard AWS variables plus the
 * request timeout (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` redirects it locally).
 */
export const createBedrock = (options: { requestTimeoutMs: number }) => {
  const client = new BedrockRuntimeClient({ requestHandler: { requestTimeout: options.requestTimeoutMs } });
  return {
    /** One InvokeModel call with a JSON body; returns the parsed JSON answer. */
    async invoke(modelId: string, body: unknown, abortSignal?: AbortSignal): Promise<unknown> {
      const response = await client.send(
        new InvokeModelCommand({ modelId, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(body) }),
        abortSignal ? { abortSignal } : {},
      );
      return JSON.parse(new TextDecoder().decode(response.body));
    },
  };
};
