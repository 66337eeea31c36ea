/**
 * Reads the pipeline's wiring from the synthesized Terraform JSON, so the local
 * run uses the same buckets, queues, notifications, event source mappings and
 * function settings that `cdktf deploy` creates: a wiring mistake in the stack
 * breaks `npm start` too. Terraform expressions are evaluated with the
 * variables' defaults (or the values given, as `-var` would); an expression the
 * local run cannot evaluate, or a piece of the wiring that is missing or points
 * nowhere, is an error naming the resource: the local run never guesses.
 */
import { readFile } from 'node:fs/promises';

/** The account id in local ARNs and queue URLs (fauxqs's). */
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface FunctionWiring {
  /** Logical id in the stack (`prepare`, `generate`). */
  readonly id: string;
  readonly handler: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly memoryMb: number;
  readonly timeoutS: number;
  /** Reserved concurrency, when the stack sets one. */
  readonly reservedConcurrency?: number;
}

/** An S3 bucket notification to an SQS queue (`queue` block of aws_s3_bucket_notification). */
export interface NotificationWiring {
  readonly bucketId: string;
  /** Logical id of the aws_sqs_queue it sends to. */
  readonly queueId: string;
  readonly events: readonly string[];
  readonly prefix: string;
  readonly suffix: string;
}

export interface RedriveWiring {
  /** Logical id of the dead-letter queue. */
  readonly deadLetterQueueId: string;
  readonly maxReceiveCount: number;
}

export interface QueueWiring {
  /** Logical id in the stack (`prepare_queue`, `dead_letters`…). */
  readonly id: string;
  /** Queue name used locally. */
  readonly name: string;
  /** `arn:aws:sqs:<region>:000000000000:<name>`, as fauxqs names it. */
  readonly arn: string;
  readonly visibilityTimeoutS: number;
  readonly retentionS: number;
  readonly delayS: number;
  readonly receiveWaitTimeS: number;
  /** From `redrive_policy` on the queue or an aws_sqs_queue_redrive_policy. */
  readonly redrive?: RedriveWiring;
}

export interface EventSourceMappingWiring {
  /** Logical id in the stack. */
  readonly id: string;
  readonly functionId: string;
  readonly queueId: string;
  /** Records per invocation at most (Lambda's default for SQS: 10). */
  readonly batchSize: number;
  /** `scaling_config.maximum_concurrency`: invocations at once at most; undefined when not set. */
  readonly maximumConcurrency?: number;
  /** Seconds Lambda may wait to fill a batch (default 0). */
  readonly maximumBatchingWindowS: number;
  /** `["ReportBatchItemFailures"]` lets the function fail single records. */
  readonly functionResponseTypes: readonly string[];
  readonly enabled: boolean;
}

export interface Wiring {
  /** Logical bucket id → bucket name used locally. */
  readonly buckets: Readonly<Record<string, string>>;
  readonly functions: Readonly<Record<string, FunctionWiring>>;
  readonly queues: Readonly<Record<string, QueueWiring>>;
  /** Bucket notifications to queues. */
  readonly notifications: readonly NotificationWiring[];
  readonly eventSourceMappings: readonly EventSourceMappingWiring[];
  readonly variables: Readonly<Record<string, unknown>>;
  readonly region: string;
}

type Json = Record<string, any>;

const one = <T>(value: T | T[] | undefined): T | undefined => (Array.isArray(value) ? value[0] : value);

// ---------------------------------------------------------------------------------------------
// Terraform expressions
// ---------------------------------------------------------------------------------------------

/** What an expression may refer to besides variables: resource attributes the local run knows. */
type References = (type: string, name: string, attribute: string, where: string) => unknown;

/**
 * Evaluates the part of Terraform's expression language the stack uses: numbers, strings,
 * `var.*`, resource attributes (through `refs`), `+ - * /`, parentheses, `min`, `max`,
 * `floor`, `ceil`, `tonumber`, `tostring`, `jsonencode`, and object constructors
 * `{ "k" = v, … }`. Anything else throws: the local run must not guess.
 */
const evaluate = (source: string, variables: Record<string, unknown>, refs: References, where: string): unknown => {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`${where}: the local run cannot evaluate \${${source}}: ${why}`);
  };
  const space = (): void => {
    while (/\s/.test(source[at] ?? '')) at++;
  };
  const eat = (token: string): boolean => {
    space();
    if (source.startsWith(token, at)) {
      at += token.length;
      return true;
    }
    return false;
  };
  const expect = (token: string): void => {
    if (!eat(token)) fail(`expected ${token} at ${at}`);
  };
  const number = (value: unknown): number => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(n)) fail(`${JSON.stringify(value)} is not a number`);
    return n;
  };
  const FUNCTIONS: Record<string, (args: unknown[]) => unknown> = {
    min: (args) => Math.min(...args.map(number)),
    max: (args) => Math.max(...args.map(number)),
    floor: (args) => Math.floor(number(args[0])),
    ceil: (args) => Math.ceil(number(args[0])),
    tonumber: (args) => number(args[0]),
    tostring: (args) => String(args[0]),
    jsonencode: (args) => JSON.stringify(args[0]),
  };
  const primary = (): unknown => {
    space();
    if (eat('(')) {
      const value = sum();
      expect(')');
      return value;
    }
    if (eat('-')) return -number(primary());
    if (source[at] === '"') {
      let text = '';
      at++;
      while (at < source.length && source[at] !== '"') {
        if (source[at] === '\\') at++;
        text += source[at++];
      }
      expect('"');
      // A nested interpolation (cdktf writes `tonumber("$${…}")`) is evaluated in turn.
      return text.startsWith('$${') && text.endsWith('}') ? evaluate(text.slice(3, -1), variables, refs, where) : text;
    }
    if (eat('{')) {
      const object: Record<string, unknown> = {};
      while (!eat('}')) {
        space();
        const key = source[at] === '"' ? String(primary()) : (/^[A-Za-z_][A-Za-z0-9_-]*/.exec(source.slice(at))?.[0] ?? fail(`bad object key at ${at}`));
        if (source.startsWith(key, at)) at += key.length;
        if (!eat('=') && !eat(':')) fail(`expected = at ${at}`);
        object[key] = sum();
        eat(',');
      }
      return object;
    }
    const literal = /^\d+(\.\d+)?/.exec(source.slice(at));
    if (literal) {
      at += literal[0].length;
      return Number(literal[0]);
    }
    const path = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*/.exec(source.slice(at));
    if (!path) return fail(`unexpected ${JSON.stringify(source.slice(at, at + 10))}`);
    at += path[0].length;
    const parts = path[0].split('.');
    if (parts.length === 1) {
      const fn = FUNCTIONS[parts[0]!] ?? fail(`function ${parts[0]}() is not supported`);
      expect('(');
      const args: unknown[] = [];
      while (!eat(')')) {
        args.push(sum());
        eat(',');
      }
      return fn(args);
    }
    if (parts[0] === 'var' && parts.length === 2) {
      if (!(parts[1]! in variables)) fail(`variable ${parts[1]} has no default and no local value`);
      return variables[parts[1]!];
    }
    if (parts.length === 3) return refs(parts[0]!, parts[1]!, parts[2]!, where);
    return fail(`unknown reference ${path[0]}`);
  };
  const product = (): unknown => {
    let value = primary();
    for (;;) {
      if (eat('*')) value = number(value) * number(primary());
      else if (eat('/')) value = number(value) / number(primary());
      else return value;
    }
  };
  const sum = (): unknown => {
    let value = product();
    for (;;) {
      if (eat('+')) value = number(value) + number(product());
      else if (eat('-')) value = number(value) - number(product());
      else return value;
    }
  };
  const value = sum();
  space();
  if (at !== source.length) fail(`unexpected ${JSON.stringify(source.slice(at, at + 10))}`);
  return value;
};

/** Index of the `}` that closes the interpolation whose body starts at `from`, skipping string literals. */
const closingBrace = (text: string, from: number): number => {
  let depth = 1;
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '\\') i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return i;
  }
  return -1;
};

/**
 * Resolves a value from cdk.tf.json: a string with `${…}` interpolations (a whole-string
 * interpolation keeps its type, as Terraform does), or a plain value.
 */
const resolver =
  (variables: Record<string, unknown>, refs: References) =>
  (value: unknown, where: string): unknown => {
    if (typeof value !== 'string') return value;
    if (value.startsWith('${') && closingBrace(value, 2) === value.length - 1) return evaluate(value.slice(2, -1), variables, refs, where);
    return value.replace(/\$\{([^}]*)\}/g, (_, expression: string) => String(evaluate(expression, variables, refs, where)));
  };

// ---------------------------------------------------------------------------------------------
// The wiring
// ---------------------------------------------------------------------------------------------

/** Builds the wiring from a parsed cdk.tf.json; `variableOverrides` plays the part of `-var`. */
export const wiringFrom = (tf: Json, options: { bucketSuffix: string; variableOverrides?: Record<string, unknown> }): Wiring => {
  const resources: Json = tf.resource ?? {};
  const variables: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries<Json>(tf.variable ?? {})) if ('default' in spec) variables[name] = spec.default;
  Object.assign(variables, options.variableOverrides ?? {});
  const region = String(variables.region ?? 'us-east-1');

  const buckets: Record<string, string> = {};
  const queueNames: Record<string, string> = {};
  const refs: References = (type, name, attribute, where) => {
    if (type === 'aws_s3_bucket') {
      const bucket = buckets[name] ?? fail(`${where}: unknown bucket ${name}`);
      if (attribute === 'arn') return `arn:aws:s3:::${bucket}`;
      if (attribute === 'bucket' || attribute === 'id') return bucket;
    }
    if (type === 'aws_lambda_function' && (attribute === 'arn' || attribute === 'function_name' || attribute === 'id')) {
      if (!resources.aws_lambda_function?.[name]) fail(`${where}: unknown function ${name}`);
      return `function:${name}`;
    }
    if (type === 'aws_sqs_queue') {
      const queue = queueNames[name] ?? fail(`${where}: unknown queue ${name}`);
      if (attribute === 'arn') return `arn:aws:sqs:${region}:${LOCAL_ACCOUNT_ID}:${queue}`;
      if (attribute === 'name') return queue;
      if (attribute === 'url' || attribute === 'id') return `queue:${name}`;
    }
    return fail(`${where}: the local run does not know ${type}.${name}.${attribute}`);
  };
  const resolve = resolver(variables, refs);
  const text = (value: unknown, where: string): string => String(resolve(value, where));
  const integer = (value: unknown, where: string): number => {
    const n = Number(resolve(value, where));
    if (!Number.isInteger(n)) fail(`${where}: expected an integer, got ${JSON.stringify(value)}`);
    return n;
  };
  const nameOf = (type: string, id: string, spec: Json, nameField: string): string =>
    spec[nameField] ? text(spec[nameField], `${type}.${id}.${nameField}`) : `${text(spec[`${nameField}_prefix`] ?? `${id}-`, `${type}.${id}.${nameField}_prefix`)}${options.bucketSuffix}`;

  for (const [id, spec] of Object.entries<Json>(resources.aws_s3_bucket ?? {})) buckets[id] = nameOf('aws_s3_bucket', id, spec, 'bucket').toLowerCase();
  for (const [id, spec] of Object.entries<Json>(resources.aws_sqs_queue ?? {})) queueNames[id] = nameOf('aws_sqs_queue', id, spec, 'name');

  const functions: Record<string, FunctionWiring> = {};
  for (const [id, spec] of Object.entries<Json>(resources.aws_lambda_function ?? {})) {
    const where = `aws_lambda_function.${id}`;
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(one<Json>(spec.environment)?.variables ?? {})) environment[key] = text(value, `${where}.environment.${key}`);
    const reserved = spec.reserved_concurrent_executions === undefined ? -1 : integer(spec.reserved_concurrent_executions, `${where}.reserved_concurrent_executions`);
    functions[id] = {
      id,
      handler: text(spec.handler, `${where}.handler`),
      environment,
      memoryMb: integer(spec.memory_size ?? 128, `${where}.memory_size`),
      timeoutS: integer(spec.timeout ?? 3, `${where}.timeout`),
      ...(reserved >= 0 ? { reservedConcurrency: reserved } : {}),
    };
  }

  const queueIdOf = (value: unknown, where: string): string => {
    const resolved = text(value, where);
    const found = Object.keys(queueNames).find((id) => resolved === `queue:${id}` || resolved === refs('aws_sqs_queue', id, 'arn', where));
    return found ?? fail(`${where}: ${JSON.stringify(value)} names no aws_sqs_queue of the stack`);
  };
  const redriveOf = (value: unknown, where: string): RedriveWiring => {
    const resolved = resolve(value, where);
    let policy: Json;
    try {
      policy = typeof resolved === 'string' ? JSON.parse(resolved) : (resolved as Json);
    } catch {
      return fail(`${where}: redrive_policy is not JSON: ${JSON.stringify(resolved)}`);
    }
    if (policy?.deadLetterTargetArn === undefined || policy?.maxReceiveCount === undefined) fail(`${where}: redrive_policy needs deadLetterTargetArn and maxReceiveCount`);
    return { deadLetterQueueId: queueIdOf(policy.deadLetterTargetArn, `${where}.deadLetterTargetArn`), maxReceiveCount: integer(policy.maxReceiveCount, `${where}.maxReceiveCount`) };
  };

  const redrives: Record<string, RedriveWiring> = {};
  for (const [id, spec] of Object.entries<Json>(resources.aws_sqs_queue ?? {})) {
    if (spec.redrive_policy !== undefined) redrives[id] = redriveOf(spec.redrive_policy, `aws_sqs_queue.${id}.redrive_policy`);
  }
  for (const [id, spec] of Object.entries<Json>(resources.aws_sqs_queue_redrive_policy ?? {})) {
    const where = `aws_sqs_queue_redrive_policy.${id}`;
    redrives[queueIdOf(spec.queue_url, `${where}.queue_url`)] = redriveOf(spec.redrive_policy, `${where}.redrive_policy`);
  }
  const queues: Record<string, QueueWiring> = {};
  for (const [id, spec] of Object.entries<Json>(resources.aws_sqs_queue ?? {})) {
    const where = `aws_sqs_queue.${id}`;
    if (spec.fifo_queue === true || spec.fifo_queue === 'true') fail(`${where}: FIFO queues are not part of the local run`);
    const redrive = redrives[id];
    queues[id] = {
      id,
      name: queueNames[id]!,
      arn: String(refs('aws_sqs_queue', id, 'arn', where)),
      // SQS's defaults when the stack leaves a setting out.
      visibilityTimeoutS: integer(spec.visibility_timeout_seconds ?? 30, `${where}.visibility_timeout_seconds`),
      retentionS: integer(spec.message_retention_seconds ?? 345_600, `${where}.message_retention_seconds`),
      delayS: integer(spec.delay_seconds ?? 0, `${where}.delay_seconds`),
      receiveWaitTimeS: integer(spec.receive_wait_time_seconds ?? 0, `${where}.receive_wait_time_seconds`),
      ...(redrive ? { redrive } : {}),
    };
  }

  const notifications: NotificationWiring[] = [];
  for (const [id, spec] of Object.entries<Json>(resources.aws_s3_bucket_notification ?? {})) {
    const where = `aws_s3_bucket_notification.${id}`;
    const bucketId = /aws_s3_bucket\.([A-Za-z0-9_-]+)\./.exec(String(spec.bucket))?.[1];
    if (!bucketId || !buckets[bucketId]) fail(`${where}: bucket must reference an aws_s3_bucket`);
    if ([spec.lambda_function ?? [], spec.topic ?? []].flat().length > 0) {
      fail(`${where}: S3 notifies the functions through queues now (queue blocks); lambda_function and topic targets are not run locally`);
    }
    for (const [n, target] of ([spec.queue ?? []].flat() as Json[]).entries()) {
      notifications.push({
        bucketId: bucketId!,
        queueId: queueIdOf(target.queue_arn, `${where}.queue[${n}].queue_arn`),
        events: (target.events ?? []).map((event: unknown, i: number) => text(event, `${where}.queue[${n}].events[${i}]`)),
        prefix: target.filter_prefix ? text(target.filter_prefix, `${where}.queue[${n}].filter_prefix`) : '',
        suffix: target.filter_suffix ? text(target.filter_suffix, `${where}.queue[${n}].filter_suffix`) : '',
      });
    }
  }

  const eventSourceMappings: EventSourceMappingWiring[] = [];
  for (const [id, spec] of Object.entries<Json>(resources.aws_lambda_event_source_mapping ?? {})) {
    const where = `aws_lambda_event_source_mapping.${id}`;
    const functionRef = text(spec.function_name, `${where}.function_name`);
    const functionId = functionRef.startsWith('function:') ? functionRef.slice('function:'.length) : fail(`${where}.function_name must reference an aws_lambda_function of the stack, got ${JSON.stringify(spec.function_name)}`);
    const scaling = one<Json>(spec.scaling_config);
    const maximumConcurrency = scaling?.maximum_concurrency === undefined ? undefined : integer(scaling.maximum_concurrency, `${where}.scaling_config.maximum_concurrency`);
    const enabled = spec.enabled === undefined ? true : String(resolve(spec.enabled, `${where}.enabled`)) === 'true';
    eventSourceMappings.push({
      id,
      functionId,
      queueId: queueIdOf(spec.event_source_arn, `${where}.event_source_arn`),
      batchSize: integer(spec.batch_size ?? 10, `${where}.batch_size`),
      ...(maximumConcurrency !== undefined ? { maximumConcurrency } : {}),
      maximumBatchingWindowS: integer(spec.maximum_batching_window_in_seconds ?? 0, `${where}.maximum_batching_window_in_seconds`),
      functionResponseTypes: ((spec.function_response_types ?? []) as unknown[]).map((type, i) => text(type, `${where}.function_response_types[${i}]`)),
      enabled,
    });
  }
  return { buckets, functions, queues, notifications, eventSourceMappings, variables, region };
};

const fail = (message: string): never => {
  throw new Error(message);
};

/**
 * Checks that the stack has what the local pipeline runs: these buckets and functions, and for
 * each function a queue that a bucket notifies and an event source mapping feeds to it.
 */
export const checkPipelineWiring = (wiring: Wiring, expected: { buckets: readonly string[]; functions: readonly string[] }): void => {
  for (const id of expected.buckets) if (!wiring.buckets[id]) fail(`The synthesized stack has no aws_s3_bucket "${id}"`);
  for (const id of expected.functions) {
    if (!wiring.functions[id]) fail(`The synthesized stack has no aws_lambda_function "${id}"`);
    const mapping = wiring.eventSourceMappings.find((m) => m.functionId === id);
    if (!mapping) fail(`The synthesized stack has no aws_lambda_event_source_mapping for function "${id}" (S3 → SQS → ${id})`);
    if (!wiring.notifications.some((n) => n.queueId === mapping!.queueId)) {
      fail(`No aws_s3_bucket_notification sends to aws_sqs_queue.${mapping!.queueId}, the queue that feeds ${id}`);
    }
  }
};

export const readWiring = async (path: string, options: Parameters<typeof wiringFrom>[1]): Promise<Wiring> =>
  wiringFrom(JSON.parse(await readFile(path, 'utf8')), options);

/** S3's matching: `s3:ObjectCreated:*` covers every ObjectCreated event; prefix and suffix are plain string tests on the decoded key. */
export const matches = (notification: NotificationWiring, bucketId: string, eventName: string, key: string): boolean =>
  notification.bucketId === bucketId &&
  notification.events.some((pattern) => {
    const wanted = pattern.replace(/^s3:/, '');
    return wanted.endsWith(':*') ? eventName.startsWith(wanted.slice(0, -1)) : eventName === wanted;
  }) &&
  key.startsWith(notification.prefix) &&
  key.endsWith(notification.suffix);
