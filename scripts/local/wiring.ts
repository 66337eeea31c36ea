/**
 * Reads the pipeline's wiring from the synthesized Terraform JSON, so the local
 * run uses the same buckets, notifications and function settings that
 * `cdktf deploy` creates: a wiring mistake in the stack breaks `npm start` too.
 */
import { readFile } from 'node:fs/promises';

export interface FunctionWiring {
  /** Logical id in the stack (`prepare`, `generate`). */
  readonly id: string;
  readonly handler: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly memoryMb: number;
  readonly timeoutS: number;
  /** Lambda's async retries for this function (event invoke config, else Lambda's default of 2). */
  readonly maximumRetryAttempts: number;
  /** Reserved concurrency, when the stack sets one. */
  readonly reservedConcurrency?: number;
}

export interface NotificationWiring {
  readonly bucketId: string;
  readonly functionId: string;
  readonly events: readonly string[];
  readonly prefix: string;
  readonly suffix: string;
}

export interface Wiring {
  /** Logical bucket id → bucket name used locally. */
  readonly buckets: Readonly<Record<string, string>>;
  readonly functions: Readonly<Record<string, FunctionWiring>>;
  readonly notifications: readonly NotificationWiring[];
  readonly variables: Readonly<Record<string, unknown>>;
}

type Json = Record<string, any>;

const one = <T>(value: T | T[] | undefined): T | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Resolves the Terraform expressions the stack uses in function settings:
 * variables (defaults, or `overrides`) and bucket/function attributes.
 * Anything else is an error: the local run must not guess.
 */
const resolver = (buckets: Record<string, string>, variables: Record<string, unknown>) => (value: unknown, where: string): string => {
  if (typeof value !== 'string') return String(value);
  return value.replace(/\$\{([^}]*)\}/g, (_, expression: string) => {
    const ref = expression.trim();
    let match = /^var\.([A-Za-z0-9_-]+)$/.exec(ref);
    if (match) {
      const name = match[1]!;
      if (!(name in variables)) throw new Error(`${where}: variable ${name} has no default and no local value`);
      return String(variables[name]);
    }
    match = /^aws_s3_bucket\.([A-Za-z0-9_-]+)\.(bucket|id|arn)$/.exec(ref);
    if (match) {
      const name = buckets[match[1]!];
      if (!name) throw new Error(`${where}: unknown bucket ${match[1]}`);
      return match[2] === 'arn' ? `arn:aws:s3:::${name}` : name;
    }
    match = /^aws_lambda_function\.([A-Za-z0-9_-]+)\.(arn|function_name)$/.exec(ref);
    if (match) return match[1]!;
    // Arithmetic on numeric variables, e.g. a timeout derived from another.
    const arithmetic = ref.replace(/var\.([A-Za-z0-9_-]+)/g, (_whole, name: string) => {
      const value = variables[name];
      return typeof value === 'number' ? String(value) : 'NaN';
    });
    if (/^[\d\s+\-*/().]+$/.test(arithmetic)) {
      const value = Number(new Function(`return (${arithmetic});`)());
      if (Number.isFinite(value)) return String(value);
    }
    throw new Error(`${where}: the local run cannot evaluate \${${ref}}`);
  });
};

/** Builds the wiring from a parsed cdk.tf.json; `variableOverrides` plays the part of `-var`. */
export const wiringFrom = (tf: Json, options: { bucketSuffix: string; variableOverrides?: Record<string, unknown> }): Wiring => {
  const resources: Json = tf.resource ?? {};
  const variables: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries<Json>(tf.variable ?? {})) if ('default' in spec) variables[name] = spec.default;
  Object.assign(variables, options.variableOverrides ?? {});

  const buckets: Record<string, string> = {};
  for (const [id, spec] of Object.entries<Json>(resources.aws_s3_bucket ?? {})) {
    const plain = resolver({}, variables);
    const name = spec.bucket ? plain(spec.bucket, `aws_s3_bucket.${id}.bucket`) : `${plain(spec.bucket_prefix ?? `${id}-`, `aws_s3_bucket.${id}.bucket_prefix`)}${options.bucketSuffix}`;
    buckets[id] = name.toLowerCase();
  }
  const resolve = resolver(buckets, variables);

  const invokeConfigs: Record<string, Json> = {};
  for (const spec of Object.values<Json>(resources.aws_lambda_function_event_invoke_config ?? {})) {
    const target = /aws_lambda_function\.([A-Za-z0-9_-]+)\./.exec(String(spec.function_name))?.[1];
    if (target) invokeConfigs[target] = spec;
  }

  const functions: Record<string, FunctionWiring> = {};
  for (const [id, spec] of Object.entries<Json>(resources.aws_lambda_function ?? {})) {
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(one<Json>(spec.environment)?.variables ?? {})) {
      environment[key] = resolve(value, `aws_lambda_function.${id}.environment.${key}`);
    }
    const retries = invokeConfigs[id]?.maximum_retry_attempts;
    const reserved = spec.reserved_concurrent_executions;
    functions[id] = {
      id,
      handler: resolve(spec.handler, `aws_lambda_function.${id}.handler`),
      environment,
      memoryMb: Number(resolve(spec.memory_size ?? 128, `aws_lambda_function.${id}.memory_size`)),
      timeoutS: Number(resolve(spec.timeout ?? 3, `aws_lambda_function.${id}.timeout`)),
      maximumRetryAttempts: retries === undefined ? 2 : Number(resolve(retries, `event invoke config of ${id}`)),
      ...(reserved !== undefined && Number(resolve(reserved, `${id}.reserved_concurrent_executions`)) >= 0
        ? { reservedConcurrency: Number(resolve(reserved, `${id}.reserved_concurrent_executions`)) }
        : {}),
    };
  }

  const notifications: NotificationWiring[] = [];
  for (const [id, spec] of Object.entries<Json>(resources.aws_s3_bucket_notification ?? {})) {
    const bucketId = /aws_s3_bucket\.([A-Za-z0-9_-]+)\./.exec(String(spec.bucket))?.[1];
    if (!bucketId) throw new Error(`aws_s3_bucket_notification.${id}: bucket must reference an aws_s3_bucket`);
    for (const target of [spec.lambda_function ?? []].flat() as Json[]) {
      const functionId = resolve(target.lambda_function_arn, `aws_s3_bucket_notification.${id}.lambda_function_arn`);
      if (!functions[functionId]) throw new Error(`aws_s3_bucket_notification.${id} targets unknown function ${functionId}`);
      notifications.push({
        bucketId,
        functionId,
        events: target.events ?? [],
        prefix: target.filter_prefix ? resolve(target.filter_prefix, `${id}.filter_prefix`) : '',
        suffix: target.filter_suffix ? resolve(target.filter_suffix, `${id}.filter_suffix`) : '',
      });
    }
  }
  return { buckets, functions, notifications, variables };
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
