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
 *   otherwise parse and fail to store.
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

/** Default `s3.configurationId` of emitted records. */
export const DEFAULT_CONFIGURATION_ID = 'local-object-created';

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
  // fauxqs falls back to its own SQS/SNS stores for the stores not given.
  const stores = { s3Store: store } as FauxqsStores;
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

  app.addHook('onRequest', (request, reply, done) => {
    inFlight.add(request);
    // Safety net for responses that never finish (client gone): onResponse is not called then,
    // but an object the handler stored still gets its record, as on S3.
    reply.raw.once('close', () => setImmediate(() => finish(request)));
    done();
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
    if (reply.getHeader('x-amz-id-2') === 'fauxqs') reply.header('x-amz-id-2', randomBytes(48).toString('base64'));
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
