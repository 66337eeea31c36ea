/**
 * One local "execution environment": a child process that loads a function
 * bundle once (cold start) and runs invocations sent by lambda-host.ts, like
 * the Lambda runtime does. Bundled by scripts/build-functions.ts so the child
 * runs plain Node, without the TypeScript loader.
 */
import { readFileSync } from 'node:fs';
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

/**
 * This process's peak RSS in MB, as Lambda's "Max Memory Used". Linux's VmHWM belongs to the
 * process's own memory map; getrusage's maxRSS also keeps the parent's RSS at fork (it survives
 * exec), so a host grown past the memory size would make every new environment "out of memory".
 */
const peakRssMb = (): number => {
  try {
    const kb = /^VmHWM:\s*(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Math.round(Number(kb) / 1024);
  } catch {
    // Not Linux: getrusage's figure, the best there is.
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
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
  process.send!({ ...reply, maxRssMb: peakRssMb() });
});
// The host closed the channel (it is shutting down, or gone): exit, as Lambda's shutdown phase ends an environment.
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
