import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { PipelineError } from '../core/errors';

/**
 * One client per container, configured only by the standard AWS variables
 * (region, credentials, `AWS_ENDPOINT_URL_S3`), so the local runner and tests
 * drive exactly this code.
 */
export const s3 = new S3Client({});

export interface StoredObject {
  readonly bytes: Uint8Array;
  readonly metadata: Readonly<Record<string, string>>;
  readonly eTag: string;
  readonly contentType?: string;
}

const isMissing = (error: unknown): boolean =>
  error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404);

const isSuperseded = (error: unknown): boolean =>
  error instanceof S3ServiceException && (error.name === 'PreconditionFailed' || error.$metadata.httpStatusCode === 412);

export interface ReadOptions {
  /** Refuse (without downloading) objects larger than this. */
  readonly maxBytes?: number;
  /** Read only this version of the object (the one the event announced). */
  readonly eTag?: string;
}

/**
 * Reads a whole object. A missing object is SOURCE_MISSING. One replaced since
 * its event (ETag mismatch) gives `undefined`: the newer upload has its own
 * event, and a report about the old one must not overwrite its results.
 * Anything else S3 says is rethrown so Lambda retries.
 */
export const readObject = async (bucket: string, key: string, options: ReadOptions = {}): Promise<StoredObject | undefined> => {
  let response;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(options.eTag ? { IfMatch: `"${options.eTag}"` } : {}) }));
  } catch (error) {
    if (isMissing(error)) throw new PipelineError('SOURCE_MISSING', `s3://${bucket}/${key} no longer exists`, { cause: error });
    if (isSuperseded(error)) return undefined;
    throw error;
  }
  const body = response.Body;
  const length = response.ContentLength ?? 0;
  if (options.maxBytes !== undefined && length > options.maxBytes) {
    // Not reading the body: closing the stream returns the connection without downloading it.
    (body as { destroy?: () => void } | undefined)?.destroy?.();
    throw new PipelineError(
      'INPUT_TOO_LARGE',
      `Expected at most ${options.maxBytes} bytes for s3://${bucket}/${key} but received ${length} bytes`,
    );
  }
  const bytes = body ? await body.transformToByteArray() : new Uint8Array();
  return {
    bytes,
    metadata: response.Metadata ?? {},
    eTag: (response.ETag ?? '').replace(/"/g, ''),
    ...(response.ContentType ? { contentType: response.ContentType } : {}),
  };
};

export const writeObject = async (bucket: string, key: string, body: Uint8Array | string, contentType: string): Promise<void> => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
};

export const writeJson = (bucket: string, key: string, value: unknown): Promise<void> =>
  writeObject(bucket, key, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
