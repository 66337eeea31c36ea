import type { S3Event } from 'aws-lambda';

/** One uploaded object the pipeline should look at, with its key decoded. */
export interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** As S3 sends it in events: no quotes. */
  readonly eTag: string;
  readonly eventName: string;
}

export interface SkippedRecord {
  readonly key: string;
  readonly why: string;
}

export interface DecodedEvent {
  readonly objects: readonly CreatedObject[];
  readonly skipped: readonly SkippedRecord[];
}

/**
 * S3 event keys are form-encoded: `+` is a space and `%2B` a plus, so `+` must
 * become a space before percent-decoding, never after.
 */
export const decodeS3EventKey = (encoded: string): string => decodeURIComponent(encoded.replace(/\+/g, ' '));

/**
 * Picks the records that name a newly created object. Folder markers (keys
 * ending in `/`, made by consoles) and other event types are skipped, with a
 * reason so the handler can log what it ignored.
 */
export const decodeS3Event = (event: S3Event): DecodedEvent => {
  const objects: CreatedObject[] = [];
  const skipped: SkippedRecord[] = [];
  for (const record of event.Records ?? []) {
    const rawKey = record.s3?.object?.key ?? '';
    let key: string;
    try {
      key = decodeS3EventKey(rawKey);
    } catch {
      skipped.push({ key: rawKey, why: 'key is not valid URL encoding' });
      continue;
    }
    if (!record.eventName?.startsWith('ObjectCreated:')) {
      skipped.push({ key, why: `event ${record.eventName} is not ObjectCreated` });
      continue;
    }
    if (key.endsWith('/')) {
      skipped.push({ key, why: 'folder marker' });
      continue;
    }
    objects.push({
      bucket: record.s3.bucket.name,
      key,
      size: record.s3.object.size ?? 0,
      eTag: (record.s3.object.eTag ?? '').replace(/"/g, ''),
      eventName: record.eventName,
    });
  }
  return { objects, skipped };
};
