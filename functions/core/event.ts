import type { S3Event } from 'aws-lambda';

/** One uploaded object the pipeline should look at, with its key decoded. */
export interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** As S3 sends it in events: no quotes. */
  readonly eTag: string;
  /** Orders the events of one key: the newest upload of a key wins (see newest.ts). */
  readonly sequencer: string;
  /** Present when the bucket is versioned. */
  readonly versionId?: string;
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
 * Picks the records that name a newly created object. Empty folder markers
 * (zero-byte keys ending in `/`, made by consoles) and other event types are
 * skipped, with a reason so the handler can log what it ignored; a key ending in
 * `/` that has content is an upload like any other.
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
    if (key.endsWith('/') && (record.s3.object.size ?? 0) === 0) {
      skipped.push({ key, why: 'empty folder marker' });
      continue;
    }
    objects.push({
      bucket: record.s3.bucket.name,
      key,
      size: record.s3.object.size ?? 0,
      eTag: (record.s3.object.eTag ?? '').replace(/"/g, ''),
      sequencer: record.s3.object.sequencer ?? '',
      ...(record.s3.object.versionId ? { versionId: record.s3.object.versionId } : {}),
      eventName: record.eventName,
    });
  }
  return { objects, skipped };
};
