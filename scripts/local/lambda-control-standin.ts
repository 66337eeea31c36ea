/**
 * A local stand-in for the two AWS Lambda control-plane calls `npm run preflight` makes to see
 * whether the generate function's reserved concurrency fits the account, so the preflight can
 * be tested through the real `@aws-sdk/client-lambda`:
 *
 *   GET /2016-08-19/account-settings                 GetAccountSettings
 *   GET /2019-09-30/functions/{FunctionName}/concurrency GetFunctionConcurrency
 *
 * (REST paths from the SDK's schemas.) It speaks HTTP/1.1, as `@aws-sdk/client-lambda`'s
 * default `NodeHttpHandler` does. Point the SDK at it with `AWS_ENDPOINT_URL_LAMBDA=<endpoint>`
 * or `endpoint` in the client config.
 *
 * The account is a concurrency limit and the functions deployed in it with their reservations:
 * `UnreservedConcurrentExecutions` is the limit minus the reservations, as Lambda reports it.
 * GetFunctionConcurrency answers a function's reservation (`{}` without one) and
 * ResourceNotFoundException for a function not in the account. Either call can be answered with
 * an error instead (`errors`), carried in `x-amzn-errortype` and `{"Type": "User", "Message": …}`
 * like the real service, so the SDK raises its own exception classes; the wording is the
 * stand-in's own. The region of a request is read from its SigV4 credential scope (the signature
 * is not checked); one account answers for every region.
 *
 * Run on its own: `npx tsx scripts/local/lambda-control-standin.ts [--port 4599]
 * [--concurrent-executions 10]`, then export the printed AWS_ENDPOINT_URL_LAMBDA.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { STAND_IN_ACCOUNT, type ErrorAnswer } from './bedrock-control-standin';
import { closeServer, scopeRegion, writeReply, type Reply } from './control-plane';
import { listenOnLoopback } from './loopback';

/** Said by every answer, in the `x-standin` header. */
export const LAMBDA_STAND_IN_NOTE = 'local Lambda control-plane stand-in';

export type LambdaControlOperation = 'GetAccountSettings' | 'GetFunctionConcurrency';

export interface LambdaControlStandInOptions {
  /** `AccountLimit.ConcurrentExecutions`. @default 1000 (the default quota) */
  readonly concurrentExecutions?: number;
  /**
   * Functions deployed in the account: name → reserved concurrency, or null for none. Their
   * reservations are subtracted from the limit for `UnreservedConcurrentExecutions`.
   * @default {} (no functions)
   */
  readonly functions?: Readonly<Record<string, number | null>>;
  /** Error answers by operation, e.g. {@link accessDenied} for credentials without the permission. */
  readonly errors?: Partial<Readonly<Record<LambdaControlOperation, ErrorAnswer>>>;
  /** Region assumed for a request without a SigV4 credential scope. @default 'us-east-1' */
  readonly region?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

export interface LambdaControlCall {
  readonly method: string;
  readonly path: string;
  /** null for routes the stand-in does not implement. */
  readonly operation: LambdaControlOperation | null;
  /** Decoded function name from the path (GetFunctionConcurrency). */
  readonly functionName: string | null;
  /** Region from the SigV4 credential scope, or the default. */
  readonly region: string;
  readonly status: number;
  readonly errorType: string | null;
}

export interface LambdaControlStandIn {
  /** `http://127.0.0.1:<port>`: use as `endpoint` or AWS_ENDPOINT_URL_LAMBDA. */
  readonly endpoint: string;
  readonly calls: readonly LambdaControlCall[];
  close(): Promise<void>;
}

/** The answer Lambda gives credentials without `lambda:<operation>`. */
export const accessDenied = (operation: LambdaControlOperation): ErrorAnswer => ({
  error: {
    status: 403,
    type: 'AccessDeniedException',
    message: `User: arn:aws:iam::${STAND_IN_ACCOUNT}:user/standin is not authorized to perform: lambda:${operation}`,
  },
});


const fail = (status: number, type: string, message: string): Reply => ({ status, body: { Type: 'User', Message: message }, errorType: type });

const FUNCTION_CONCURRENCY = /^\/2019-09-30\/functions\/([^/]+)\/concurrency$/;

export async function startLambdaControlStandIn(options: LambdaControlStandInOptions = {}): Promise<LambdaControlStandIn> {
  const defaultRegion = options.region ?? 'us-east-1';
  const limit = options.concurrentExecutions ?? 1000;
  const functions = options.functions ?? {};
  const reserved = Object.values(functions).reduce<number>((sum, n) => sum + (n ?? 0), 0);
  const calls: LambdaControlCall[] = [];

  const route = (method: string, path: string): { operation: LambdaControlOperation | null; functionName: string | null } => {
    if (method !== 'GET') return { operation: null, functionName: null };
    if (path === '/2016-08-19/account-settings') return { operation: 'GetAccountSettings', functionName: null };
    const match = FUNCTION_CONCURRENCY.exec(path);
    if (!match) return { operation: null, functionName: null };
    let name = match[1] ?? '';
    try {
      name = decodeURIComponent(name);
    } catch {
      // Keep it as sent.
    }
    return { operation: 'GetFunctionConcurrency', functionName: name };
  };

  const answer = (operation: LambdaControlOperation, functionName: string | null, region: string): Reply => {
    const error = options.errors?.[operation];
    if (error) return fail(error.error.status, error.error.type, error.error.message);
    if (operation === 'GetAccountSettings') {
      return {
        status: 200,
        errorType: null,
        body: {
          AccountLimit: {
            TotalCodeSize: 80_530_636_800,
            CodeSizeUnzipped: 262_144_000,
            CodeSizeZipped: 52_428_800,
            ConcurrentExecutions: limit,
            UnreservedConcurrentExecutions: limit - reserved,
          },
          AccountUsage: { TotalCodeSize: 0, FunctionCount: Object.keys(functions).length },
        },
      };
    }
    const name = functionName ?? '';
    if (!Object.hasOwn(functions, name)) {
      return fail(404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${region}:${STAND_IN_ACCOUNT}:function:${name}`);
    }
    const own = functions[name];
    return { status: 200, errorType: null, body: own === null || own === undefined ? {} : { ReservedConcurrentExecutions: own } };
  };

  const server = http.createServer((req, res) => {
    // The SDK sends no body on these GETs; drain anything anyway before answering.
    req.resume();
    req.on('end', () => {
      const method = req.method ?? '';
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const region = scopeRegion(req.headers.authorization, 'lambda') ?? defaultRegion;
      const { operation, functionName } = route(method, path);
      const reply = operation
        ? answer(operation, functionName, region)
        : fail(404, 'UnknownOperationException', `The local Lambda control-plane stand-in does not implement ${method} ${path}.`);
      calls.push({ method, path, operation, functionName, region, status: reply.status, errorType: reply.errorType });
      writeReply(res, reply, LAMBDA_STAND_IN_NOTE, calls.length);
    });
  });
  const endpoint = await listenOnLoopback(server, options.port);
  return {
    endpoint,
    calls,
    close: () => closeServer(server),
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4599' },
      'concurrent-executions': { type: 'string', default: '1000' },
    },
  });
  const standIn = await startLambdaControlStandIn({ port: Number(values.port), concurrentExecutions: Number(values['concurrent-executions']) });
  console.log(`Lambda control-plane stand-in (${LAMBDA_STAND_IN_NOTE})`);
  console.log(`export AWS_ENDPOINT_URL_LAMBDA=${standIn.endpoint}`);
  const stop = (): void => {
    void standIn.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
