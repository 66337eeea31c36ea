/**
 * Runs function bundles the way Lambda runs them: synchronous invocations (an
 * event source mapping's, see event-source-mapping.ts, or `aws lambda invoke`'s),
 * a pool of execution environments (child processes) up to the function's
 * concurrency, the configured timeout (the environment is killed and replaced)
 * and the memory size (an invocation whose peak RSS exceeds it fails as
 * out-of-memory). Invocations beyond the concurrency wait their turn. Retries
 * are the caller's business: for the queues, SQS's (the message comes back
 * after its visibility timeout).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FunctionWiring } from './wiring';

export interface InvocationOutcome {
  readonly functionId: string;
  readonly requestId: string;
  /** Which delivery of the event this was: for a queue batch, its records' highest ApproximateReceiveCount. */
  readonly attempt: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { name: string; message: string; stack?: string };
  readonly durationMs: number;
  readonly maxRssMb: number;
}

export interface HostOptions {
  /** Folder of the bundle (index.js). */
  readonly bundleDir: string;
  readonly workerPath: string;
  /** Variables every environment gets on top of the function's own (region, credentials, endpoints). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Where function logs go, as CloudWatch would keep them. */
  readonly logFile: string;
  /**
   * Pool size when the function has no reserved concurrency: the account's unreserved
   * concurrency. An event source mapping's maximum concurrency bounds it further.
   * @default 1000 (Lambda's default account limit)
   */
  readonly defaultConcurrency?: number;
  /**
   * Node options for the environments' processes, on the command line (where NODE_OPTIONS
   * refuses some, e.g. `--cpu-prof`): for profiling a function locally. With any, {@link
   * LocalFunction.close} lets each idle environment exit on its own (a profile is written at
   * exit) before killing what is left.
   * @default []
   */
  readonly execArgv?: readonly string[];
}

interface Environment {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  busy: boolean;
}

interface Pending {
  readonly event: unknown;
  readonly attempt: number;
  readonly requestId: string;
  readonly answer: (outcome: InvocationOutcome) => void;
}

export class LocalFunction {
  readonly outcomes: InvocationOutcome[] = [];
  private readonly environments: Environment[] = [];
  private readonly queue: Pending[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly listeners: ((outcome: InvocationOutcome) => void)[] = [];
  private readonly log: WriteStream;
  private running = 0;
  private peak = 0;
  private closed = false;
  private nextId = 1;

  constructor(
    readonly wiring: FunctionWiring,
    private readonly options: HostOptions,
  ) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    this.log = createWriteStream(options.logFile, { flags: 'a' });
    // Every environment's stdout and stderr are piped into this one log.
    this.log.setMaxListeners(0);
  }

  get concurrency(): number {
    return this.wiring.reservedConcurrency ?? this.options.defaultConcurrency ?? 1000;
  }

  /**
   * A synchronous invocation (RequestResponse, as event source mappings and `aws lambda invoke`
   * make): one attempt, no retry, the outcome returned. `attempt` is recorded in the outcome.
   */
  invoke(event: unknown, options: { attempt?: number } = {}): Promise<InvocationOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ event, attempt: options.attempt ?? 1, requestId: randomUUID(), answer: resolve });
      this.pump();
    });
  }

  onOutcome(listener: (outcome: InvocationOutcome) => void): void {
    this.listeners.push(listener);
  }

  /** Resolves when no invocation is waiting or running. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    // Invocations still waiting for an environment are answered: the caller is not left hanging.
    for (const pending of this.queue.splice(0)) {
      pending.answer({ functionId: this.wiring.id, requestId: pending.requestId, attempt: pending.attempt, ok: false, error: { name: 'Shutdown', message: 'the local function was closed' }, durationMs: 0, maxRssMb: 0 });
    }
    const environments = this.environments.splice(0);
    if ((this.options.execArgv ?? []).length > 0) {
      // The worker exits when its IPC channel closes: a --cpu-prof profile is written then.
      await Promise.all(
        environments.map(
          ({ child }) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null || !child.connected) return resolve();
              const timer = setTimeout(resolve, 10_000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.disconnect();
            }),
        ),
      );
    }
    for (const environment of environments) environment.child.kill('SIGKILL');
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  /** Invocations running right now. */
  get inFlight(): number {
    return this.running;
  }

  /** The most invocations that ever ran at once: never above `concurrency`. */
  get peakConcurrency(): number {
    return this.peak;
  }

  isIdle(): boolean {
    return this.queue.length === 0 && this.running === 0;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private spawn(): Environment {
    const env = {
      ...this.options.baseEnv,
      ...this.wiring.environment,
      LAMBDA_TASK_ROOT: this.options.bundleDir,
      _HANDLER: this.wiring.handler,
      AWS_LAMBDA_FUNCTION_NAME: this.wiring.id,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.wiring.memoryMb),
      PATH: process.env.PATH ?? '',
    };
    const child = fork(this.options.workerPath, [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [...(this.options.execArgv ?? [])] });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`environment exited during start with code ${code}`)));
    });
    const environment: Environment = { child, ready, busy: false };
    child.on('exit', () => this.removeFromPool(environment));
    this.environments.push(environment);
    return environment;
  }

  private removeFromPool(environment: Environment): void {
    const index = this.environments.indexOf(environment);
    if (index >= 0) this.environments.splice(index, 1);
  }

  /**
   * Out of the pool at once, then killed: its 'exit' comes later, and an invocation sent to it
   * meanwhile would fail with the dead environment (or EPIPE).
   */
  private discard(environment: Environment): void {
    this.removeFromPool(environment);
    environment.child.kill('SIGKILL');
  }

  private pump(): void {
    if (this.closed) return;
    while (this.queue.length > 0 && this.running < this.concurrency) {
      const pending = this.queue.shift()!;
      const environment = this.environments.find((e) => !e.busy) ?? this.spawn();
      environment.busy = true;
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      void this.run(environment, pending).then((outcome) => this.complete(environment, pending, outcome));
    }
    this.settle();
  }

  private async run(environment: Environment, pending: Pending): Promise<InvocationOutcome> {
    const started = Date.now();
    const timeoutMs = this.wiring.timeoutS * 1000;
    const base = { functionId: this.wiring.id, requestId: pending.requestId, attempt: pending.attempt };
    try {
      await environment.ready;
    } catch (error) {
      return { ...base, ok: false, error: { name: 'Runtime.InitError', message: String(error) }, durationMs: Date.now() - started, maxRssMb: 0 };
    }
    const id = this.nextId++;
    return new Promise<InvocationOutcome>((resolve) => {
      const timer = setTimeout(() => {
        cleanup();
        // Lambda freezes and discards an environment that ran out of time.
        this.discard(environment);
        resolve({ ...base, ok: false, error: { name: 'Sandbox.Timedout', message: `Task timed out after ${this.wiring.timeoutS}.00 seconds` }, durationMs: Date.now() - started, maxRssMb: 0 });
      }, timeoutMs);
      const onMessage = (message: { id?: number; ok: boolean; result?: unknown; error?: InvocationOutcome['error']; maxRssMb: number }): void => {
        if (message.id !== id) return;
        cleanup();
        const outOfMemory = message.maxRssMb > this.wiring.memoryMb;
        if (outOfMemory) this.discard(environment);
        resolve({
          ...base,
          ok: message.ok && !outOfMemory,
          ...(message.ok ? { result: message.result } : {}),
          ...(outOfMemory
            ? { error: { name: 'Runtime.OutOfMemory', message: `Max memory used ${message.maxRssMb} MB exceeds ${this.wiring.memoryMb} MB` } }
            : message.error
              ? { error: message.error }
              : {}),
          durationMs: Date.now() - started,
          maxRssMb: message.maxRssMb,
        });
      };
      const onExit = (code: number | null): void => {
        cleanup();
        resolve({ ...base, ok: false, error: { name: 'Runtime.ExitError', message: `environment exited with ${code}` }, durationMs: Date.now() - started, maxRssMb: 0 });
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        environment.child.off('message', onMessage);
        environment.child.off('exit', onExit);
      };
      environment.child.on('message', onMessage);
      environment.child.once('exit', onExit);
      // An environment that died since it was picked answers through onExit, not as an uncaught EPIPE.
      environment.child.send({ id, event: pending.event, timeoutMs, requestId: pending.requestId }, () => undefined);
    });
  }

  private complete(environment: Environment, pending: Pending, outcome: InvocationOutcome): void {
    environment.busy = false;
    this.running--;
    this.outcomes.push(outcome);
    const line = { at: new Date().toISOString(), ...outcome };
    this.log.write(`${JSON.stringify({ type: 'REPORT', ...line, result: undefined })}\n`);
    for (const listener of this.listeners) listener(outcome);
    pending.answer(outcome);
    this.pump();
  }
}

export const defaultWorkerPath = (root: string): string => join(root, 'dist', 'local', 'lambda-worker.cjs');
