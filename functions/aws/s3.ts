import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
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

export const isPreconditionFailed = (error: unknown): boolean =>
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
    if (isPreconditionFailed(error)) return undefined;
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

/** Reads a whole object, or `undefined` when there is none. */
export const readIfExists = async (bucket: string, key: string): Promise<StoredObject | undefined> => {
  try {
    return await readObject(bucket, key);
  } catch (error) {
    if (error instanceof PipelineError && error.reason === 'SOURCE_MISSING') return undefined;
    throw error;
  }
};

/** The objects directly in `folder` (which ends with `/`): not those of folders nested in it. */
export const listFolder = async (bucket: string, folder: string): Promise<string[]> => {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, Delimiter: '/', ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
};

export const deleteObject = async (bucket: string, key: string): Promise<void> => {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
};

export interface Condition {
  /** Write only if the object does not exist. */
  readonly ifNoneMatch?: true;
  /** Write only if the object still has this ETag (quoted, as S3 returns it). */
  readonly ifMatch?: string;
}

/**
 * A conditional PUT: S3 lets exactly one of two racing writers win. Returns the
 * new ETag, or `undefined` when the condition did not hold (412).
 */
export const writeIf = async (bucket: string, key: string, body: string, condition: Condition): Promise<string | undefined> => {
  try {
    const response = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json',
        ...(condition.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        ...(condition.ifMatch ? { IfMatch: condition.ifMatch } : {}),
      }),
    );
    return response.ETag ?? '';
  } catch (error) {
    if (isPreconditionFailed(error)) return undefined;
    throw error;
  }
};

/** A small JSON object with its ETag, for a later conditional write; `undefined` when there is none. */
export const readVersioned = async (bucket: string, key: string): Promise<{ text: string; eTag: string } | undefined> => {
  let response;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  return { text: await response.Body!.transformToString(), eTag: response.ETag ?? '' };
};
