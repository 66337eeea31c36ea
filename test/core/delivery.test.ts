import { expect } from 'chai';
import type { SQSRecord } from 'aws-lambda';
import { decodeDelivery } from '../../functions/core/delivery';
import { s3Record } from '../helpers/factories';

const message = (body: string, receiveCount = '1'): SQSRecord => ({
  messageId: 'm-1',
  receiptHandle: 'r-1',
  body,
  attributes: { ApproximateReceiveCount: receiveCount, SentTimestamp: '1', SenderId: 's', ApproximateFirstReceiveTimestamp: '1' },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:icp-prepare',
  awsRegion: 'us-east-1',
});

describe('core/delivery', () => {
  it('reads the S3 event notification S3 sent to the queue, with its decoded objects', () => {
    const delivery = decodeDelivery(message(JSON.stringify({ Records: [s3Record({ key: 'my+photo.jpg' })] })), 5);
    expect(delivery.objects.map((o) => [o.key, o.sequencer])).to.deep.equal([['my photo.jpg', '0055AED6DCD90281E5']]);
    expect(delivery).to.include({ messageId: 'm-1', receiveCount: 1, lastReceive: false });
  });

  it('knows the last receive before the dead-letter queue from ApproximateReceiveCount', () => {
    const body = JSON.stringify({ Records: [s3Record()] });
    expect(decodeDelivery(message(body, '4'), 5).lastReceive).to.equal(false);
    expect(decodeDelivery(message(body, '5'), 5).lastReceive).to.equal(true);
    expect(decodeDelivery(message(body, '7'), 5)).to.include({ receiveCount: 7, lastReceive: true });
  });

  it("skips S3's test event and bodies that are not S3 notifications, saying why", () => {
    const test = decodeDelivery(message(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' })), 5);
    expect(test.objects).to.deep.equal([]);
    expect(test.skipped).to.deep.equal([{ key: '', why: 's3:TestEvent' }]);
    expect(decodeDelivery(message('not json'), 5).skipped[0]!.why).to.equal('message body is not JSON: not an S3 event notification');
    expect(decodeDelivery(message('{"hello":1}'), 5).skipped[0]!.why).to.equal('message body is not an S3 event notification');
  });
});
