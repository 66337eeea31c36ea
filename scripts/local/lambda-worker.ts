/**
 * One local "execution environment": a child process that loads a function
 * bundle once (cold start) and runs invocations sent by lambda-host.ts, like
 * the Lambda runtime does. Bundled by scripts/build-functions.ts so the child
 * runs plain Node, without the TypeScript loader.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

interface InvokeMessage {
  readonly id: number;
  readonly event: unknown;
  readonly timeoutMs: number;
  readonly requestId: string;
}

const taskRoot = process.env.LAMBDA_TASK_ROOT!;
const [moduleName, exportName] = (process.env._HANDLER ?? 'index.handler').split('.') as [string, string];

let handler: ((event: unknown, context: unknown) => Promise<unknown>) | undefined;
let initError: Error | undefined;
try {
  const loaded = createRequire(join(taskRoot, 'noop.js'))(join(taskRoot, moduleName));
  handler = loaded[exportName];
  if (typeof handler !== 'function') throw new Error(`${moduleName}.${exportName} is not a function`);
} catch (error) {
  initError = error as Error;
}

const serialize = (error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, stack: e.stack };
};

process.on('message', async (message: InvokeMessage) => {
  const deadline = Date.now() + message.timeoutMs;
  const context = {
    awsRequestId: message.requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let reply;
  try {
    if (initError) throw initError;
    const result = await handler!(message.event, context);
    reply = { id: message.id, ok: true, result };
  } catch (error) {
    reply = { id: message.id, ok: false, error: serialize(error), initError: initError !== undefined };
  }
  // maxRSS is in KiB on Linux: the process's peak, as Lambda's "Max Memory Used".
  process.send!({ ...reply, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
});
// The host closed the channel (it is shutting down, or gone): exit, as Lambda's shutdown phase ends an environment.
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
