import { expect } from 'chai';
import type { S3Event } from 'aws-lambda';
import { decodeS3Event, decodeS3EventKey } from '../../functions/core/event';
import { s3Event, s3Record, UPLOAD_BUCKET } from '../helpers/factories';

describe('core/event', () => {
  describe('decodeS3EventKey', () => {
    const cases: Array<[encoded: string, decoded: string]> = [
      ['my+photo%2B1.jpg', 'my photo+1.jpg'],
      ['%C3%A9t%C3%A9.jpg', 'été.jpg'],
      ['100%25.jpg', '100%.jpg'],
      ['photos/tiger.jpg', 'photos/tiger.jpg'],
      ['a+b+c%20d.png', 'a b c d.png'],
      ['%E8%99%8E/%F0%9F%90%AF.png', '虎/🐯.png'],
    ];
    for (const [encoded, decoded] of cases) {
      it(`decodes ${encoded} to ${decoded}`, () => {
        expect(decodeS3EventKey(encoded)).to.equal(decoded);
      });
    }

    it('turns + into a space before percent-decoding, so %2B stays a plus', () => {
      expect(decodeS3EventKey('%2B+%2B')).to.equal('+ +');
    });

    it('throws URIError on malformed percent-encoding', () => {
      expect(() => decodeS3EventKey('%E0%A4%A')).to.throw(URIError);
    });
  });

  describe('decodeS3Event', () => {
    it('returns a created object with decoded key, bucket, size, eTag and event name', () => {
      // Arrange
      const event = s3Event(s3Record({ key: 'my+photo%2B1.jpg', size: 2048, eTag: 'abc123', eventName: 'ObjectCreated:Put' }));

      // Act
      const decoded = decodeS3Event(event);

      // Assert
      expect(decoded.objects).to.deep.equal([
        { bucket: UPLOAD_BUCKET, key: 'my photo+1.jpg', size: 2048, eTag: 'abc123', sequencer: '0055AED6DCD90281E5', eventName: 'ObjectCreated:Put' },
      ]);
      expect(decoded.skipped).to.deep.equal([]);
    });

    it('strips the quotes around an eTag', () => {
      const decoded = decodeS3Event(s3Event(s3Record({ eTag: '"9b2cf535f27731c974343645a3985328"' })));
      expect(decoded.objects[0]?.eTag).to.equal('9b2cf535f27731c974343645a3985328');
    });

    it('skips an empty folder marker (a zero-byte key ending in /) with the reason "empty folder marker"', () => {
      const decoded = decodeS3Event(s3Event(s3Record({ key: 'photos/new+folder/', size: 0 })));
      expect(decoded.objects).to.deep.equal([]);
      expect(decoded.skipped).to.deep.equal([{ key: 'photos/new folder/', why: 'empty folder marker' }]);
    });

    it('keeps a key ending in / that has content: every upload gets an outcome', () => {
      const decoded = decodeS3Event(s3Event(s3Record({ key: 'photos/new+folder/', size: 5 })));
      expect(decoded.objects.map((o) => o.key)).to.deep.equal(['photos/new folder/']);
    });

    it('carries the sequencer that orders uploads of one key, and the version id of a versioned bucket', () => {
      const record = s3Record();
      (record.s3.object as { versionId?: string }).versionId = 'v1';
      const decoded = decodeS3Event(s3Event(record));
      expect(decoded.objects[0]).to.deep.include({ sequencer: '0055AED6DCD90281E5', versionId: 'v1' });
    });

    it('skips an ObjectRemoved:Delete record, naming the event', () => {
      const decoded = decodeS3Event(s3Event(s3Record({ key: 'photos/tiger.jpg', eventName: 'ObjectRemoved:Delete' })));
      expect(decoded.objects).to.deep.equal([]);
      expect(decoded.skipped).to.deep.equal([{ key: 'photos/tiger.jpg', why: 'event ObjectRemoved:Delete is not ObjectCreated' }]);
    });

    for (const eventName of ['ObjectCreated:Put', 'ObjectCreated:Post', 'ObjectCreated:Copy', 'ObjectCreated:CompleteMultipartUpload']) {
      it(`accepts ${eventName}`, () => {
        const decoded = decodeS3Event(s3Event(s3Record({ eventName })));
        expect(decoded.objects.map((o) => o.eventName)).to.deep.equal([eventName]);
      });
    }

    it('skips a record with malformed encoding (%E0%A4%A) instead of throwing, and keeps the raw key', () => {
      const event = s3Event(s3Record({ key: 'bad%E0%A4%A.jpg' }));
      const decoded = decodeS3Event(event);
      expect(decoded.objects).to.deep.equal([]);
      expect(decoded.skipped).to.deep.equal([{ key: 'bad%E0%A4%A.jpg', why: 'key is not valid URL encoding' }]);
    });

    it('handles several records in order, keeping the good ones and explaining the skipped ones', () => {
      // Arrange
      const event = s3Event(
        s3Record({ key: 'a.jpg', eTag: 'e1' }),
        s3Record({ key: 'folder/', size: 0 }),
        s3Record({ key: 'b%20c.png', eTag: 'e2', bucket: 'other-bucket' }),
        s3Record({ key: 'gone.jpg', eventName: 'ObjectRemoved:Delete' }),
        s3Record({ key: '%E0%A4%A' }),
        s3Record({ key: '%C3%A9t%C3%A9.jpg', eTag: 'e3' }),
      );

      // Act
      const decoded = decodeS3Event(event);

      // Assert
      expect(decoded.objects.map((o) => [o.bucket, o.key, o.eTag])).to.deep.equal([
        [UPLOAD_BUCKET, 'a.jpg', 'e1'],
        ['other-bucket', 'b c.png', 'e2'],
        [UPLOAD_BUCKET, 'été.jpg', 'e3'],
      ]);
      expect(decoded.skipped).to.deep.equal([
        { key: 'folder/', why: 'empty folder marker' },
        { key: 'gone.jpg', why: 'event ObjectRemoved:Delete is not ObjectCreated' },
        { key: '%E0%A4%A', why: 'key is not valid URL encoding' },
      ]);
    });

    it('returns nothing for an event without records', () => {
      expect(decodeS3Event({} as S3Event)).to.deep.equal({ objects: [], skipped: [] });
      expect(decodeS3Event(s3Event())).to.deep.equal({ objects: [], skipped: [] });
    });
  });
});
