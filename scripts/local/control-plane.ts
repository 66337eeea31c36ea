/**
 * What the two control-plane stand-ins (Bedrock, Lambda) share: AWS's REST-JSON
 * answer shape, the region from the SigV4 credential scope, and shutdown.
 */
import type { Server, ServerResponse } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  /** `x-amzn-errortype`, from which the SDK names the exception; null on success. */
  readonly errorType: string | null;
}

/** `Credential=AKID/20261124/us-east-1/<service>/aws4_request` → `us-east-1`. */
export const scopeRegion = (authorization: string | undefined, service: string): string | null =>
  new RegExp(`Credential=[^/,\\s]+/\\d{8}/([a-z0-9-]+)/${service}/`).exec(authorization ?? '')?.[1] ?? null;

/** Writes `reply` as JSON, marked as coming from a stand-in. */
export const writeReply = (res: ServerResponse, reply: Reply, note: string, requestNumber: number): void => {
  const body = Buffer.from(JSON.stringify(reply.body), 'utf8');
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-amzn-requestid': `standin-${requestNumber}`,
    'x-standin': note,
    ...(reply.errorType ? { 'x-amzn-errortype': reply.errorType } : {}),
  });
  res.end(body);
};

/** Stops listening and drops kept-alive connections, so a test's `after` does not hang. */
export const closeServer = async (server: Server): Promise<void> => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
};
