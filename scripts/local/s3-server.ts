/**
 * An embedded, in-memory, S3-compatible server for local runs and tests, which emits S3
 * event notification records shaped like the ones real S3 sends to Lambda.
 *
 * It is fauxqs's S3 emulation (`buildApp`) bound to 127.0.0.1, plus:
 * - `ObjectCreated:Put | Copy | CompleteMultipartUpload` records, delivered to listeners once
 *   the response has been sent (the object is then already visible to GetObject);
 * - conditional writes (`If-None-Match: *`, `If-Match: <etag>`) on PutObject and
 *   CompleteMultipartUpload, which fauxqs 1.9.2 ignores;
 * - zero-byte PutObject / UploadPart without a Content-Type, which fauxqs 1.9.2 answers with a 500;
 * - object bodies sent with a content type fauxqs reserves for SQS/SNS
 *   (`application/x-www-form-urlencoded`, `application/x-amz-json-1.0`), which fauxqs would
 *   otherwise parse and fail to store;
 * - fault injection ({@link LocalS3.injectFault}): chosen requests fail with a real S3 error
 *   response (503 SlowDown, 500 InternalError, 403 AccessDenied…) or a dropped connection,
 *   before they reach the store.
 *
 * The same server also answers SQS (fauxqs's SQS emulation, AWS JSON protocol, `POST /`), with
 * queue URLs on this server's own address (`http://127.0.0.1:<port>/000000000000/<name>`), so an
 * SQS client or `aws sqs --endpoint-url <endpoint>` reaches the queues on the same endpoint. SQS
 * requests are not S3 activity: they are neither counted by {@link LocalS3.idle} (a long poll
 * would keep it busy) nor matched by fault injection. {@link LocalS3.inspectQueue} reads a
 * queue's messages without receiving them.
 *
 * Limits inherited from fauxqs: one request body (PutObject, UploadPart) may be at most 11 MiB
 * (larger uploads must be multipart, as `@aws-sdk/lib-storage` and the AWS CLI do), no
 * versioning, no bucket notification configuration (every object-created event of every bucket
 * reaches every listener), no authentication (any credentials are accepted).
 *
 * The server runs on the event loop of the process that started it: never drive it with a
 * synchronous child process (`spawnSync`/`execFileSync` of the `aws` CLI), which blocks the loop
 * until the CLI gives up with "Read timeout on endpoint URL". Use `execFile`/`spawn` and await.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { S3EventRecord } from 'aws-lambda';
import { buildApp, type BuildAppOptions } from 'fauxqs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

type FauxqsStores = NonNullable<BuildAppOptions['stores']>;
type S3Store = FauxqsStores['s3Store'];
type S3Object = ReturnType<S3Store['headObject']>;
type SqsStore = FauxqsStores['sqsStore'];

/** The object stored under bucket/key, or undefined (fauxqs's store throws for a missing one). */
function findObject(store: S3Store, bucket: string, key: string): S3Object | undefined {
  try {
    return store.headObject(bucket, key);
  } catch {
    return undefined;
  }
}

/** An object-created event listener. A returned promise is awaited by {@link LocalS3.idle}. */
export type ObjectCreatedListener = (record: S3EventRecord) => void | Promise<void>;

/** A running local S3 server. */
export interface LocalS3 {
  /** Base URL, `http://127.0.0.1:<port>`; use with `forcePathStyle: true` (SDK) or `--endpoint-url` (CLI). */
  readonly endpoint: string;
  /** The port the server listens on. */
  readonly port: number;
  /** The `awsRegion` written into event records. */
  readonly region: string;
  /** Creates a bucket (no-op if it exists). Buckets can also be created through the S3 API. */
  createBucket(name: string): void;
  /**
   * Registers a listener called once per object-created event (`ObjectCreated:Put`,
   * `ObjectCreated:Copy`, `ObjectCreated:CompleteMultipartUpload`) in any bucket, after the
   * response has been sent. The record is shaped like real S3's, with the key URL-encoded the
   * way S3 encodes it (see {@link encodeS3EventKey}). A listener that throws or rejects is
   * logged to stderr and does not affect the server or the other listeners.
   *
   * @returns a function that unsubscribes the listener.
   */
  onObjectCreated(listener: ObjectCreatedListener): () => void;
  /**
   * Resolves once no request is in flight and every listener call has settled (including
   * promises listeners returned, and whatever requests those made in turn).
   */
  idle(): Promise<void>;
  /**
   * Makes matching requests fail, from now on, before they reach the store: a failed write
   * stores nothing and emits no record. Faults are checked in the order they were injected;
   * the first one that matches a request counts it and, once past `after` matches and while
   * under `times` firings, answers it (later faults do not see that request).
   *
   * ```ts
   * const slow = s3.injectFault({ kind: 'SlowDown', operation: 'PutObject', bucket: 'output', key: /\/manifest\.json$/, times: 2 });
   * await client.send(new PutObjectCommand(...)); // attempts 1 and 2 get 503 SlowDown, the SDK's 3rd succeeds
   * slow.fired; // 2
   * ```
   */
  injectFault(fault: S3Fault): S3FaultHandle;
  /** Removes every injected fault (their handles keep their counts). */
  clearFaults(): void;
  /**
   * A queue's messages, without receiving them (no receive count, no visibility change):
   * `ready` to be received, `inflight` received and not yet deleted (each with its receive
   * count), `delayed`. Undefined when no queue has that name.
   */
  inspectQueue(name: string): QueueSnapshot | undefined;
  /** Waits for {@link idle} (at most `drainTimeoutMs`, default 10 s), then stops the server. */
  close(options?: { drainTimeoutMs?: number }): Promise<void>;
}

/** Options of {@link startLocalS3}. */
export interface LocalS3Options {
  /** Port to listen on, on 127.0.0.1. Default 0: a free port chosen by the OS. */
  port?: number;
  /** Region written into event records as `awsRegion`. Default `us-east-1`. */
  region?: string;
  /** `s3.configurationId` of the records (the notification configuration's id). */
  configurationId?: string;
}

/** One message of a queue, as {@link LocalS3.inspectQueue} shows it. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly sentTimestamp: number;
}

/** What {@link LocalS3.inspectQueue} returns. */
export interface QueueSnapshot {
  readonly url: string;
  readonly arn: string;
  readonly ready: readonly QueuedMessage[];
  readonly inflight: readonly QueuedMessage[];
  readonly delayed: readonly QueuedMessage[];
}

/** Default `s3.configurationId` of emitted records. */
export const DEFAULT_CONFIGURATION_ID = 'local-object-created';

/**
 * A fresh `x-amz-id-2` (64 base64 characters, like S3's): a random prefix drawn once per server
 * and a counter. Unique per response without drawing 48 random bytes per request, which cost a
 * few percent of a backlog's CPU here.
 */
const hostIds = (): (() => string) => {
  const id = randomBytes(48);
  let counter = 0;
  return () => {
    id.writeUInt32BE(++counter >>> 0, 44);
    return id.toString('base64');
  };
};

/** Characters S3 leaves as they are when it encodes a key for an event record. */
const UNESCAPED = /[A-Za-z0-9\-_.*/]/;
const utf8 = new TextEncoder();

/**
 * Encodes an object key the way S3 encodes `s3.object.key` in event notifications: form
 * encoding (`application/x-www-form-urlencoded`, like Java's `URLEncoder`) of the key's UTF-8
 * bytes, with `/` left as it is. Letters, digits and `- _ . * /` are kept; a space becomes
 * `+`; every other byte becomes `%XX` (upper-case hex), including `+ % ! ' ( ) ~ : = @`.
 *
 * Examples: `my photo+1.jpg` → `my+photo%2B1.jpg`; `dir/a@b:c.png` → `dir/a%40b%3Ac.png`;
 * `é.jpg` → `%C3%A9.jpg`. Decode with `decodeURIComponent(key.replace(/\+/g, ' '))`.
 */
export function encodeS3EventKey(key: string): string {
  let out = '';
  for (const char of key) {
    if (char === ' ') {
      out += '+';
    } else if (UNESCAPED.test(char)) {
      out += char;
    } else {
      // Lone surrogates are encoded as U+FFFD, as TextEncoder (and S3's UTF-8 storage) would.
      for (const byte of utf8.encode(char)) {
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
    }
  }
  return out;
}

type EventName = 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';

interface ObjectWrite {
  bucket: string;
  key: string;
  eventName: EventName;
}

interface StoredSnapshot extends ObjectWrite {
  size: number;
  eTag: string;
  sourceIPAddress: string;
  requestId: string;
  hostId: string;
}

/** Identifies requests that create an object (fauxqs routes all object requests to `/:bucket/*`). */
function objectWriteOf(request: FastifyRequest): ObjectWrite | undefined {
  if (request.routeOptions.url !== '/:bucket/*') return undefined;
  const params = request.params as Record<string, string | undefined>;
  const bucket = params['bucket'];
  const key = params['*'];
  if (!bucket || !key) return undefined;
  const query = (request.query ?? {}) as Record<string, string | undefined>;
  if (request.method === 'PUT') {
    if (query['uploadId'] && query['partNumber']) return undefined; // UploadPart(Copy)
    const copy = request.headers['x-amz-copy-source'] !== undefined;
    return { bucket, key, eventName: copy ? 'ObjectCreated:Copy' : 'ObjectCreated:Put' };
  }
  if (request.method === 'POST' && !('uploads' in query) && query['uploadId']) {
    return { bucket, key, eventName: 'ObjectCreated:CompleteMultipartUpload' };
  }
  return undefined;
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendS3Error(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string>,
): void {
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
    .join('');
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  reply
    .status(status)
    .header('content-type', 'application/xml')
    .header('x-amz-request-id', requestId)
    .header('x-amz-id-2', randomBytes(32).toString('base64'))
    .send(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
        `${fields}<RequestId>${requestId}</RequestId><HostId>local-s3</HostId></Error>`,
    );
}

// ---------------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------------

/** The S3 operations requests are classified into (those fauxqs serves, and a few it does not). */
export const S3_OPERATIONS = [
  'ListBuckets',
  'CreateBucket',
  'HeadBucket',
  'DeleteBucket',
  'ListObjects',
  'ListObjectsV2',
  'DeleteObjects',
  'PutObject',
  'CopyObject',
  'GetObject',
  'HeadObject',
  'DeleteObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
] as const;
export type S3Operation = (typeof S3_OPERATIONS)[number];

/**
 * The error answers a fault can give, as real S3 gives them: status, `<Code>` and default
 * `<Message>`. The SDK raises an exception named after the code (`error.name === 'SlowDown'`,
 * `error.$metadata.httpStatusCode === 503`); it retries the 5xx ones (SlowDown as throttling).
 */
export const S3_FAULT_ERRORS = {
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  ServiceUnavailable: { status: 503, message: 'Service is unable to handle request.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  AccessDenied: { status: 403, message: 'Access Denied' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist' },
} as const;

/**
 * What a fault answers: one of {@link S3_FAULT_ERRORS}, or `reset`: the connection is destroyed
 * without an answer, like an unreachable endpoint or a network failure (the SDK sees a socket
 * error such as ECONNRESET / EPIPE and retries it).
 */
export type S3FaultKind = keyof typeof S3_FAULT_ERRORS | 'reset';
export const S3_FAULT_KINDS: readonly S3FaultKind[] = [...(Object.keys(S3_FAULT_ERRORS) as (keyof typeof S3_FAULT_ERRORS)[]), 'reset'];

/** A fault: which requests fail ({@link S3Fault.operation} etc. all have to match) and how. */
export interface S3Fault {
  readonly kind: S3FaultKind;
  /** Only these operations (see {@link S3_OPERATIONS}). @default every operation */
  readonly operation?: S3Operation | readonly S3Operation[];
  /** Only these HTTP methods (`PUT`, `GET`…, any case). @default every method */
  readonly method?: string | readonly string[];
  /** Only requests to this bucket. @default every bucket (and ListBuckets) */
  readonly bucket?: string;
  /**
   * Only requests for this object key, decoded (as the client gave it, not URL-encoded): an
   * exact string or a RegExp tested against it. Bucket-level requests (ListObjectsV2…) have no
   * key and never match a fault that has one. @default every key
   */
  readonly key?: string | RegExp;
  /** Let this many matching requests through before firing. @default 0 */
  readonly after?: number;
  /** Fire this many times, then let requests through. @default Infinity */
  readonly times?: number;
  /** `<Message>` of the error answer. @default the message S3 gives for the code */
  readonly message?: string;
}

/** What {@link LocalS3.injectFault} returns. */
export interface S3FaultHandle {
  readonly fault: S3Fault;
  /** Requests that matched (including those let through by `after` or once used up). */
  readonly matched: number;
  /** Requests this fault answered. */
  readonly fired: number;
  /** Removes this fault; its counts stay readable. */
  remove(): void;
}

const checkCount = (fault: S3Fault, name: 'after' | 'times', value: unknown, min: number): void => {
  if (value === undefined) return;
  const ok = typeof value === 'number' && value >= min && (Number.isInteger(value) || (name === 'times' && value === Infinity));
  if (!ok) throw new TypeError(`S3 fault ${fault.kind}: ${name} must be an integer ≥ ${min}${name === 'times' ? ' or Infinity' : ''}, got ${String(value)}`);
};

const asList = <T>(value: T | readonly T[] | undefined): readonly T[] | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? (value as readonly T[]) : [value as T];

/** Throws a TypeError naming the first invalid field of `fault`. */
export function checkS3Fault(fault: S3Fault): void {
  if (typeof fault !== 'object' || fault === null) throw new TypeError(`S3 fault must be an object, got ${JSON.stringify(fault)}`);
  if (!S3_FAULT_KINDS.includes(fault.kind)) {
    throw new TypeError(`S3 fault kind must be one of ${S3_FAULT_KINDS.join(', ')}, got ${JSON.stringify(fault.kind)}`);
  }
  for (const operation of asList(fault.operation) ?? []) {
    if (!(S3_OPERATIONS as readonly string[]).includes(operation)) {
      throw new TypeError(`S3 fault ${fault.kind}: operation must be one of ${S3_OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`);
    }
  }
  for (const method of asList(fault.method) ?? []) {
    if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) throw new TypeError(`S3 fault ${fault.kind}: method must be an HTTP method, got ${JSON.stringify(method)}`);
  }
  if (fault.bucket !== undefined && typeof fault.bucket !== 'string') throw new TypeError(`S3 fault ${fault.kind}: bucket must be a string`);
  if (fault.key !== undefined && typeof fault.key !== 'string' && !(fault.key instanceof RegExp)) {
    throw new TypeError(`S3 fault ${fault.kind}: key must be a string or a RegExp`);
  }
  if (fault.message !== undefined && typeof fault.message !== 'string') throw new TypeError(`S3 fault ${fault.kind}: message must be a string`);
  checkCount(fault, 'after', fault.after, 0);
  checkCount(fault, 'times', fault.times, 1);
}

/**
 * Reads a JSON array of faults, as `npm start -- --s3-faults '<json>'` takes it: the fields of
 * {@link S3Fault}, with `key` an exact key and `keyRegExp` (a RegExp source, no flags) in place
 * of a RegExp `key`; `times` left out means unlimited. Throws on anything it does not know.
 *
 * Example: `[{"kind":"SlowDown","operation":"PutObject","keyRegExp":"/manifest\\.json$","times":2}]`
 */
export function parseS3Faults(json: string): S3Fault[] {
  const list: unknown = JSON.parse(json);
  if (!Array.isArray(list)) throw new TypeError('S3 faults must be a JSON array');
  const known = new Set(['kind', 'operation', 'method', 'bucket', 'key', 'keyRegExp', 'after', 'times', 'message']);
  return list.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new TypeError(`S3 fault must be an object, got ${JSON.stringify(item)}`);
    const { keyRegExp, ...rest } = item as Record<string, unknown>;
    for (const name of Object.keys(item)) if (!known.has(name)) throw new TypeError(`S3 fault: unknown field ${JSON.stringify(name)}`);
    if (keyRegExp !== undefined && rest['key'] !== undefined) throw new TypeError('S3 fault: give key or keyRegExp, not both');
    if (keyRegExp !== undefined && typeof keyRegExp !== 'string') throw new TypeError('S3 fault: keyRegExp must be a string');
    const fault = (keyRegExp === undefined ? rest : { ...rest, key: new RegExp(keyRegExp) }) as unknown as S3Fault;
    checkS3Fault(fault);
    return fault;
  });
}

/** The operation, bucket and decoded key of an S3 request; undefined for anything else (fauxqs's SQS/SNS). */
function s3RequestOf(request: FastifyRequest): { operation: S3Operation; bucket?: string; key?: string } | undefined {
  const url = request.routeOptions.url;
  if (url === '/') return request.method === 'GET' ? { operation: 'ListBuckets' } : undefined;
  if (url !== '/:bucket' && url !== '/:bucket/*') return undefined;
  const params = request.params as Record<string, string | undefined>;
  const bucket = params['bucket'] ?? '';
  const key = params['*'] ?? '';
  const query = (request.query ?? {}) as Record<string, string | undefined>;
  const copy = request.headers['x-amz-copy-source'] !== undefined;
  const on = (operation: S3Operation): { operation: S3Operation; bucket: string; key?: string } =>
    key ? { operation, bucket, key } : { operation, bucket };
  if (!key) {
    switch (request.method) {
      case 'PUT':
        return on('CreateBucket');
      case 'HEAD':
        return on('HeadBucket');
      case 'GET':
        return on(query['list-type'] === '2' ? 'ListObjectsV2' : 'ListObjects');
      case 'DELETE':
        return on('DeleteBucket');
      case 'POST':
        return on('DeleteObjects');
      default:
        return undefined;
    }
  }
  switch (request.method) {
    case 'PUT':
      if (query['uploadId'] && query['partNumber']) return on(copy ? 'UploadPartCopy' : 'UploadPart');
      return on(copy ? 'CopyObject' : 'PutObject');
    case 'GET':
      return on(query['uploadId'] ? 'ListParts' : 'GetObject');
    case 'HEAD':
      return on('HeadObject');
    case 'DELETE':
      return on(query['uploadId'] ? 'AbortMultipartUpload' : 'DeleteObject');
    case 'POST':
      if ('uploads' in query) return on('CreateMultipartUpload');
      return on(query['uploadId'] ? 'CompleteMultipartUpload' : 'DeleteObjects');
    default:
      return undefined;
  }
}

interface FaultEntry {
  readonly fault: S3Fault;
  readonly operations: readonly string[] | undefined;
  readonly methods: readonly string[] | undefined;
  matched: number;
  fired: number;
}

function faultMatches(entry: FaultEntry, request: FastifyRequest, target: { operation: S3Operation; bucket?: string; key?: string }): boolean {
  const { fault } = entry;
  if (entry.operations && !entry.operations.includes(target.operation)) return false;
  if (entry.methods && !entry.methods.includes(request.method)) return false;
  if (fault.bucket !== undefined && fault.bucket !== target.bucket) return false;
  if (fault.key === undefined) return true;
  if (target.key === undefined) return false;
  if (typeof fault.key === 'string') return fault.key === target.key;
  fault.key.lastIndex = 0; // a /g or /y RegExp would otherwise carry its position over
  return fault.key.test(target.key);
}

/**
 * Conditional writes, as S3 implements them for PutObject and CompleteMultipartUpload:
 * `If-None-Match: *` fails with 412 when the key exists, `If-Match: <etag>` fails with 404 when
 * it does not and 412 when the ETag differs. Returns true when the request was answered.
 */
function rejectFailedPrecondition(request: FastifyRequest, reply: FastifyReply, store: S3Store): boolean {
  const write = objectWriteOf(request);
  if (!write || write.eventName === 'ObjectCreated:Copy') return false;
  const ifNoneMatch = request.headers['if-none-match'];
  const ifMatch = request.headers['if-match'];
  if (ifNoneMatch === undefined && ifMatch === undefined) return false;
  const existing = findObject(store, write.bucket, write.key);
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      sendS3Error(reply, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', {
        Header: 'If-None-Match',
      });
      return true;
    }
    if (existing) {
      sendS3Error(reply, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-None-Match',
      });
      return true;
    }
  }
  if (ifMatch !== undefined) {
    if (!existing) {
      sendS3Error(reply, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: write.key });
      return true;
    }
    const wanted = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, '').replaceAll('"', ''));
    if (!wanted.includes('*') && !wanted.includes(existing.etag.replaceAll('"', ''))) {
      sendS3Error(reply, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-Match',
      });
      return true;
    }
  }
  return false;
}

/**
 * A sequencer like S3's: upper-case hex, 18 digits, strictly increasing within this process
 * (S3 only promises ordering per key; compare sequencers of equal length as strings).
 */
function makeSequencer(): () => string {
  let last = 0n;
  return () => {
    const candidate = BigInt(Date.now()) << 16n;
    last = candidate > last ? candidate : last + 1n;
    return last.toString(16).toUpperCase().padStart(18, '0');
  };
}

/** The fauxqs S3Store class; it is not exported from the package's entry point. */
async function loadS3StoreClass(): Promise<new () => S3Store> {
  const url = new URL('./s3/s3Store.js', import.meta.resolve('fauxqs'));
  const module = (await import(url.href)) as { S3Store: new () => S3Store };
  return module.S3Store;
}

/** The fauxqs SqsStore class, likewise. */
async function loadSqsStoreClass(): Promise<new () => SqsStore> {
  const url = new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs'));
  const module = (await import(url.href)) as { SqsStore: new () => SqsStore };
  return module.SqsStore;
}

/** Requests fauxqs routes to SQS, SNS or STS (`POST /`), and its health and inspection routes: not S3. */
const isS3Request = (request: FastifyRequest): boolean => {
  const url = request.routeOptions.url;
  return url === '/:bucket' || url === '/:bucket/*' || (url === '/' && request.method !== 'POST');
};

/** Content types fauxqs parses for SQS/SNS; on S3 object routes they must stay raw bytes. */
const FAUXQS_SERVICE_TYPES = ['application/x-www-form-urlencoded', 'application/x-amz-json-1.0'] as const;

/**
 * Starts an S3-compatible server on 127.0.0.1 that emits object-created event records.
 *
 * ```ts
 * const s3 = await startLocalS3();
 * s3.createBucket('input');
 * s3.onObjectCreated((record) => handler({ Records: [record] }));
 * const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1',
 *   credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
 * ...
 * await s3.close();
 * ```
 */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const region = options.region ?? 'us-east-1';
  const configurationId = options.configurationId ?? DEFAULT_CONFIGURATION_ID;
  const S3StoreClass = await loadS3StoreClass();
  const store = new S3StoreClass();
  const sqsStore = new (await loadSqsStoreClass())();
  // No host: queue URLs are built from the request's Host header, i.e. this server's own
  // address, instead of fauxqs's `sqs.<region>.localhost` (which needs DNS for it).
  (sqsStore as { host: string | undefined }).host = '';
  // fauxqs falls back to its own SNS store.
  const stores = { s3Store: store, sqsStore } as FauxqsStores;
  // fauxqs's declaration of buildApp's return type does not resolve to fastify's types.
  const app = buildApp({ logger: false, defaultRegion: region, stores }) as unknown as FastifyInstance;

  // Keep object bodies raw whatever their content type (fauxqs parses these two for SQS/SNS,
  // which turns an S3 body into an object it then fails to store).
  for (const type of FAUXQS_SERVICE_TYPES) {
    app.removeContentTypeParser(type);
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (request, body, done) => {
      if (request.routeOptions.url !== '/') {
        done(null, body);
        return;
      }
      try {
        const text = (body as Buffer).toString('utf8');
        done(null, type === 'application/x-amz-json-1.0' ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text)));
      } catch (error) {
        done(error as Error);
      }
    });
  }

  const listeners = new Set<ObjectCreatedListener>();
  const nextSequencer = makeSequencer();
  const nextHostId = hostIds();
  const snapshots = new WeakMap<FastifyRequest, StoredSnapshot>();
  const inFlight = new Set<FastifyRequest>();
  const pendingListenerCalls = new Set<Promise<void>>();
  let idleWaiters: Array<() => void> = [];

  const checkIdle = (): void => {
    if (inFlight.size > 0 || pendingListenerCalls.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const logListenerError = (error: unknown): void => {
    console.error('[local-s3] object-created listener failed:', error);
  };

  const dispatch = (record: S3EventRecord): void => {
    for (const listener of [...listeners]) {
      try {
        const result = listener(structuredClone(record));
        if (result && typeof (result as Promise<void>).then === 'function') {
          const tracked: Promise<void> = Promise.resolve(result)
            .catch(logListenerError)
            .finally(() => {
              pendingListenerCalls.delete(tracked);
              checkIdle();
            });
          pendingListenerCalls.add(tracked);
        }
      } catch (error) {
        logListenerError(error);
      }
    }
  };

  /** Emits the request's record, if it stored an object, then marks the request finished. */
  const finish = (request: FastifyRequest): void => {
    const snapshot = snapshots.get(request);
    if (snapshot) {
      snapshots.delete(request);
      dispatch({
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: new Date().toISOString(),
        eventName: snapshot.eventName,
        userIdentity: { principalId: 'AWS:AIDALOCALS3USEREXAMPLE' },
        requestParameters: { sourceIPAddress: snapshot.sourceIPAddress },
        responseElements: { 'x-amz-request-id': snapshot.requestId, 'x-amz-id-2': snapshot.hostId },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId,
          bucket: {
            name: snapshot.bucket,
            ownerIdentity: { principalId: 'ALOCALS3OWNEREXAMPLE' },
            arn: `arn:aws:s3:::${snapshot.bucket}`,
          },
          object: { key: encodeS3EventKey(snapshot.key), size: snapshot.size, eTag: snapshot.eTag, sequencer: nextSequencer() },
        },
      });
    }
    if (inFlight.delete(request)) checkIdle();
  };

  let faults: FaultEntry[] = [];
  /** The fault that answers this request, counting the match of every fault it goes through. */
  const takeFault = (request: FastifyRequest): S3Fault | undefined => {
    if (faults.length === 0) return undefined;
    const target = s3RequestOf(request);
    if (!target) return undefined;
    for (const entry of faults) {
      if (!faultMatches(entry, request, target)) continue;
      entry.matched++;
      if (entry.matched > (entry.fault.after ?? 0) && entry.fired < (entry.fault.times ?? Infinity)) {
        entry.fired++;
        return entry.fault;
      }
    }
    return undefined;
  };

  app.addHook('onRequest', (request, reply, done) => {
    if (!isS3Request(request)) {
      done();
      return;
    }
    inFlight.add(request);
    // Safety net for responses that never finish (client gone): onResponse is not called then,
    // but an object the handler stored still gets its record, as on S3.
    reply.raw.once('close', () => setImmediate(() => finish(request)));
    // Faults answer before the body is read and before any handler runs: nothing is stored.
    const fault = takeFault(request);
    if (!fault) {
      done();
    } else if (fault.kind === 'reset') {
      request.raw.socket.destroy();
    } else {
      const known = S3_FAULT_ERRORS[fault.kind];
      // Node sends no body with a HEAD answer, as S3 does not.
      sendS3Error(reply, known.status, fault.kind, fault.message ?? known.message, {});
    }
  });

  app.addHook('preValidation', (request, _reply, done) => {
    // fauxqs answers 500 to a PUT without body and Content-Type: fastify leaves `body` undefined.
    if (request.method === 'PUT' && request.body === undefined && request.routeOptions.url === '/:bucket/*') {
      request.body = Buffer.alloc(0);
    }
    done();
  });

  app.addHook('preHandler', (request, reply, done) => {
    // Synchronous on purpose: the check and fauxqs's write run in the same tick, so together
    // they are atomic.
    if (!rejectFailedPrecondition(request, reply, store)) done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    // Snapshot the object as stored, right after the handler wrote it (fauxqs's own onSend hook,
    // registered first, has set the request id headers by now).
    if (reply.getHeader('x-amz-id-2') === 'fauxqs') reply.header('x-amz-id-2', nextHostId());
    const status = reply.statusCode;
    const write = status >= 200 && status < 300 ? objectWriteOf(request) : undefined;
    const stored = write && findObject(store, write.bucket, write.key);
    if (write && stored) {
      const header = (name: string): string => {
        const value = reply.getHeader(name);
        return typeof value === 'string' ? value : '';
      };
      snapshots.set(request, {
        ...write,
        size: stored.contentLength,
        eTag: stored.etag.replaceAll('"', ''),
        sourceIPAddress: request.ip,
        requestId: header('x-amz-request-id'),
        hostId: header('x-amz-id-2'),
      });
    }
    done(null, payload);
  });

  app.addHook('onResponse', (request, _reply, done) => {
    finish(request);
    done();
  });

  app.addHook('onRequestAbort', (request, done) => {
    finish(request);
    done();
  });

  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('local S3 server has no TCP address');
  const port = address.port;

  const idle = (): Promise<void> =>
    new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      checkIdle();
    });

  let closing: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    createBucket(name: string): void {
      store.createBucket(name);
    },
    onObjectCreated(listener: ObjectCreatedListener): () => void {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    idle,
    injectFault(fault: S3Fault): S3FaultHandle {
      checkS3Fault(fault);
      const entry: FaultEntry = {
        fault,
        operations: asList(fault.operation),
        methods: asList(fault.method)?.map((method) => method.toUpperCase()),
        matched: 0,
        fired: 0,
      };
      faults = [...faults, entry];
      return {
        fault,
        get matched() {
          return entry.matched;
        },
        get fired() {
          return entry.fired;
        },
        remove() {
          faults = faults.filter((other) => other !== entry);
        },
      };
    },
    clearFaults(): void {
      faults = [];
    },
    inspectQueue(name: string): QueueSnapshot | undefined {
      const found = sqsStore.inspectQueue(name);
      if (!found) return undefined;
      type Message = { messageId: string; body: string; approximateReceiveCount: number; sentTimestamp: number };
      const show = (message: Message): QueuedMessage => ({
        messageId: message.messageId,
        body: message.body,
        receiveCount: message.approximateReceiveCount,
        sentTimestamp: message.sentTimestamp,
      });
      const messages = found.messages as unknown as { ready: Message[]; delayed: Message[]; inflight: { message: Message }[] };
      return {
        url: found.url,
        arn: found.arn,
        ready: messages.ready.map(show),
        inflight: messages.inflight.map((entry) => show(entry.message)),
        delayed: messages.delayed.map(show),
      };
    },
    close({ drainTimeoutMs = 10_000 } = {}): Promise<void> {
      closing ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), drainTimeoutMs);
        });
        const outcome = await Promise.race([idle().then(() => 'idle' as const), timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          console.error(
            `[local-s3] closing with ${inFlight.size} request(s) and ${pendingListenerCalls.size} listener call(s) still pending`,
          );
        }
        await app.close();
      })();
      return closing;
    },
  };
}
