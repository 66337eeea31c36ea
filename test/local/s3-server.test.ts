import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3EventRecord } from 'aws-lambda';
import { expect } from 'chai';
import { encodeS3EventKey, parseS3Faults, startLocalS3, type LocalS3, type S3FaultHandle } from '../../scripts/local/s3-server.js';

const run = promisify(execFile);

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('hex');
const decodeEventKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

describe('encodeS3EventKey', () => {
  const cases: Array<[string, string]> = [
    ['HappyFace.jpg', 'HappyFace.jpg'],
    ['red flower.jpg', 'red+flower.jpg'], // the example of the S3 documentation
    ['my photo+1.jpg', 'my+photo%2B1.jpg'],
    ['uploads/2024/a b/c.png', 'uploads/2024/a+b/c.png'], // `/` is kept
    ['100%.jpg', '100%25.jpg'],
    ['a@b', 'a%40b'], // recorded from AWS (localstack snapshot test_key_encoding)
    ['protected/us-east-1:f12/x.jpeg', 'protected/us-east-1%3Af12/x.jpeg'],
    ['something/dt=2018-05-04/_SUCCESS', 'something/dt%3D2018-05-04/_SUCCESS'],
    ['photo (1).jpg', 'photo+%281%29.jpg'],
    ['-_.*', '-_.*'],
    ["!'~", '%21%27%7E'],
    ['a?b#c&d;e,f$g', 'a%3Fb%23c%26d%3Be%2Cf%24g'],
    ['é.jpg', '%C3%A9.jpg'],
    ['日本/写真.png', '%E6%97%A5%E6%9C%AC/%E5%86%99%E7%9C%9F.png'],
    ['📷.jpg', '%F0%9F%93%B7.jpg'],
    ['two  spaces', 'two++spaces'],
    ['tab\tnl\n', 'tab%09nl%0A'],
  ];
  for (const [key, encoded] of cases) {
    it(`encodes ${JSON.stringify(key)} as ${encoded}`, () => {
      expect(encodeS3EventKey(key)).to.equal(encoded);
    });
  }

  it('is reversed by form decoding (+ → space, then percent-decoding)', () => {
    for (const [key] of cases) expect(decodeEventKey(encodeS3EventKey(key))).to.equal(key);
  });

  it('differs from encodeURIComponent only where S3 differs', () => {
    const key = "a b+c/d!e'f(g)h*i~j";
    expect(encodeURIComponent(key)).to.equal("a%20b%2Bc%2Fd!e'f(g)h*i~j");
    expect(encodeS3EventKey(key)).to.equal('a+b%2Bc/d%21e%27f%28g%29h*i%7Ej');
  });
});

describe('local S3 server', function () {
  this.timeout(60_000);

  let s3: LocalS3;
  let client: S3Client;
  let records: S3EventRecord[];
  let unsubscribe: () => void;
  let tmp: string;

  before(async () => {
    s3 = await startLocalS3();
    s3.createBucket('input');
    s3.createBucket('other');
    client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'local-s3-test-'));
  });

  after(async () => {
    client?.destroy();
    await s3?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  beforeEach(() => {
    records = [];
    unsubscribe = s3.onObjectCreated((record) => {
      records.push(record);
    });
  });

  afterEach(async () => {
    s3.clearFaults();
    await s3.idle();
    unsubscribe();
  });

  /** Runs the real AWS CLI against the server (async: the server lives in this process). */
  async function aws(...args: string[]): Promise<string> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_DEFAULT_REGION: 'us-east-1',
      // Keep any real configuration of the machine out of the way (nothing is written there).
      AWS_CONFIG_FILE: path.join(tmp, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const name of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3']) delete env[name];
    const { stdout } = await run('aws', ['--endpoint-url', s3.endpoint, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  async function getBytes(bucket: string, key: string): Promise<Buffer> {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  }

  it('listens on 127.0.0.1 only', async () => {
    expect(s3.endpoint).to.equal(`http://127.0.0.1:${s3.port}`);
    const connects = (host: string): Promise<boolean> =>
      new Promise((resolve) => {
        const socket = net.connect({ host, port: s3.port, timeout: 2000 });
        socket.once('timeout', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    expect(await connects('127.0.0.1')).to.equal(true);
    // A server bound to 0.0.0.0 would accept these too.
    const otherAddresses = Object.values(os.networkInterfaces())
      .flat()
      .filter((info) => info !== undefined && info.family === 'IPv4' && !info.internal)
      .map((info) => info!.address);
    for (const host of ['127.0.0.2', ...otherAddresses]) {
      expect(await connects(host), host).to.equal(false);
    }
  });

  it('emits one ObjectCreated:Put record shaped like real S3 after PutObject', async () => {
    const body = Buffer.from('hello, edges');
    const put = await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'photos/cat.jpg', Body: body, ContentType: 'image/jpeg' }));
    await s3.idle();

    expect(records).to.have.length(1);
    const record = records[0]!;
    expect(record).to.deep.include({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventName: 'ObjectCreated:Put',
    });
    expect(new Date(record.eventTime).toISOString()).to.equal(record.eventTime);
    expect(record.userIdentity.principalId).to.be.a('string').and.not.empty;
    expect(record.requestParameters.sourceIPAddress).to.equal('127.0.0.1');
    expect(record.responseElements['x-amz-request-id']).to.match(/^[0-9A-F]{16}$/);
    expect(record.responseElements['x-amz-id-2']).to.be.a('string').and.not.empty;
    expect(record.s3).to.deep.include({ s3SchemaVersion: '1.0', configurationId: 'local-object-created' });
    expect(record.s3.bucket.name).to.equal('input');
    expect(record.s3.bucket.arn).to.equal('arn:aws:s3:::input');
    expect(record.s3.bucket.ownerIdentity.principalId).to.be.a('string').and.not.empty;
    expect(record.s3.object.key).to.equal('photos/cat.jpg');
    expect(record.s3.object.size).to.equal(body.length);
    expect(record.s3.object.eTag).to.equal(md5(body));
    expect(put.ETag).to.equal(`"${md5(body)}"`);
    expect(record.s3.object.sequencer).to.match(/^[0-9A-F]{18}$/);
    expect(Object.keys(record).sort()).to.deep.equal(
      ['awsRegion', 'eventName', 'eventSource', 'eventTime', 'eventVersion', 'requestParameters', 'responseElements', 's3', 'userIdentity'],
    );
  });

  it('emits records only once the object is readable, with increasing sequencers', async () => {
    const seen: string[] = [];
    const stop = s3.onObjectCreated(async (record) => {
      const key = decodeEventKey(record.s3.object.key);
      seen.push((await getBytes(record.s3.bucket.name, key)).toString());
    });
    try {
      for (const n of [1, 2, 3]) {
        await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'seq.txt', Body: `v${n}` }));
      }
      await s3.idle();
    } finally {
      stop();
    }
    expect(records).to.have.length(3);
    const sequencers = records.map((record) => record.s3.object.sequencer);
    expect([...sequencers].sort()).to.deep.equal(sequencers);
    expect(new Set(sequencers).size).to.equal(3);
    expect(seen).to.have.length(3);
    expect(seen.every((text) => /^v[123]$/.test(text))).to.equal(true);
  });

  it('emits ObjectCreated:Copy for CopyObject, with the size and ETag of the copy', async () => {
    const body = Buffer.from('source bytes');
    await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'src dir/a+b.png', Body: body }));
    await s3.idle();
    records.length = 0;

    await client.send(
      new CopyObjectCommand({ Bucket: 'other', Key: 'copied (1).png', CopySource: `input/${encodeURIComponent('src dir/a+b.png')}` }),
    );
    await s3.idle();

    expect(records).to.have.length(1);
    const object = records[0]!.s3.object;
    expect(records[0]!.eventName).to.equal('ObjectCreated:Copy');
    expect(records[0]!.s3.bucket.name).to.equal('other');
    expect(object.key).to.equal('copied+%281%29.png');
    expect(object.size).to.equal(body.length);
    expect(object.eTag).to.equal(md5(body));
    expect((await getBytes('other', 'copied (1).png')).equals(body)).to.equal(true);
  });

  it('emits one ObjectCreated:CompleteMultipartUpload for a lib-storage Upload, with the total size', async () => {
    const part = 5 * 1024 * 1024;
    const body = Buffer.alloc(2 * part + 12345);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    const upload = new Upload({
      client,
      params: { Bucket: 'input', Key: 'big/photo 1.jpg', Body: Readable.from([body]), ContentType: 'image/jpeg', Metadata: { prompt: 'big' } },
      partSize: part,
      queueSize: 2,
    });
    const result = await upload.done();
    await s3.idle();

    expect(records).to.have.length(1);
    const record = records[0]!;
    expect(record.eventName).to.equal('ObjectCreated:CompleteMultipartUpload');
    expect(record.s3.object.key).to.equal('big/photo+1.jpg');
    expect(record.s3.object.size).to.equal(body.length);
    expect(record.s3.object.eTag).to.match(/^[0-9a-f]{32}-3$/);
    expect(`"${record.s3.object.eTag}"`).to.equal(result.ETag);
    const stored = await getBytes('input', 'big/photo 1.jpg');
    expect(md5(stored)).to.equal(md5(body));
    const head = await client.send(new HeadObjectCommand({ Bucket: 'input', Key: 'big/photo 1.jpg' }));
    expect(head.Metadata).to.deep.equal({ prompt: 'big' });
  });

  it('stores streamed (aws-chunked, default checksums) uploads without the chunk framing', async () => {
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
    await client.send(
      new PutObjectCommand({
        Bucket: 'input',
        Key: 'streamed.bin',
        Body: Readable.from([body.subarray(0, 65_536), body.subarray(65_536)]),
        ContentLength: body.length,
      }),
    );
    await s3.idle();
    expect((await getBytes('input', 'streamed.bin')).equals(body)).to.equal(true);
    expect(records[0]!.s3.object.size).to.equal(body.length);
    expect(records[0]!.s3.object.eTag).to.equal(md5(body));
  });

  describe('keys', () => {
    const keys = [
      'my photo+1.jpg',
      '100% real.png',
      'dir/sub dir/é ü 日本 📷.png',
      'a?b#c&d=e;f:g@h,i$j.jpg',
      "!'()*~[]{}^`|\\\"<>.jpg",
      '%2F/%20 +/literal-escapes.jpg',
      'a//double/slash',
      `long/${'x'.repeat(1019)}`, // 1024 bytes
      'ü'.repeat(512), // 1024 bytes of UTF-8
    ];

    it('round-trip through PutObject, GetObject and ListObjectsV2, and are encoded per S3 rules in records', async () => {
      for (const key of keys) {
        await client.send(new PutObjectCommand({ Bucket: 'other', Key: key, Body: `body of ${key}` }));
      }
      await s3.idle();
      for (const key of keys) {
        expect((await getBytes('other', key)).toString(), key).to.equal(`body of ${key}`);
      }
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'other', Prefix: '' }));
      const listedKeys = (listed.Contents ?? []).map((object) => object.Key);
      for (const key of keys) expect(listedKeys, key).to.include(key);

      expect(records.map((record) => record.s3.object.key)).to.deep.equal(keys.map(encodeS3EventKey));
      expect(records.map((record) => decodeEventKey(record.s3.object.key))).to.deep.equal(keys);
      expect(records[0]!.s3.object.key).to.equal('my+photo%2B1.jpg');
      expect(records[1]!.s3.object.key).to.equal('100%25+real.png');
      expect(records[2]!.s3.object.key).to.equal('dir/sub+dir/%C3%A9+%C3%BC+%E6%97%A5%E6%9C%AC+%F0%9F%93%B7.png');
    });

    it('round-trip through the aws CLI (cp up, ls, cp down)', async () => {
      const file = path.join(tmp, 'small.txt');
      await writeFile(file, 'cli body');
      const cliKeys = ['cli/my photo+1 é%.txt', 'cli/a=b&c;d@e:f.txt'];
      for (const key of cliKeys) await aws('s3', 'cp', file, `s3://input/${key}`);
      await s3.idle();
      const listing = await aws('s3', 'ls', '--recursive', 's3://input/cli/');
      for (const key of cliKeys) {
        expect(listing, key).to.include(key);
        expect(await aws('s3', 'cp', `s3://input/${key}`, '-'), key).to.equal('cli body');
      }
      expect(records.map((record) => record.s3.object.key)).to.deep.equal([
        'cli/my+photo%2B1+%C3%A9%25.txt',
        'cli/a%3Db%26c%3Bd%40e%3Af.txt',
      ]);
    });
  });

  it('round-trips user metadata, RFC 2047 encoded words included, unchanged', async () => {
    const metadata = {
      prompt: '=?UTF-8?B?w6lkZ2VzIG9mIGEgY2F0IOKAlCBzdW5zZXQ=?=',
      'negative-prompt': '=?UTF-8?Q?no_=C3=A9?=',
      plain: 'a red fox, in snow; 50% off = ok',
    };
    await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'meta.jpg', Body: 'm', Metadata: metadata, ContentType: 'image/jpeg' }));
    const head = await client.send(new HeadObjectCommand({ Bucket: 'input', Key: 'meta.jpg' }));
    expect(head.Metadata).to.deep.equal(metadata);
    expect(head.ContentType).to.equal('image/jpeg');
    const get = await client.send(new GetObjectCommand({ Bucket: 'input', Key: 'meta.jpg' }));
    expect(get.Metadata).to.deep.equal(metadata);
    await get.Body!.transformToString();
  });

  describe('conditional writes', () => {
    it('answers If-None-Match: * with 412 PreconditionFailed when the key exists, and emits nothing', async () => {
      const first = await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'once.jpg', Body: 'first', IfNoneMatch: '*' }));
      expect(first.ETag).to.equal(`"${md5(Buffer.from('first'))}"`);
      await s3.idle();
      expect(records).to.have.length(1);

      let error: unknown;
      try {
        await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'once.jpg', Body: 'second', IfNoneMatch: '*' }));
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).name).to.equal('PreconditionFailed');
      expect((error as { $metadata: { httpStatusCode?: number } }).$metadata.httpStatusCode).to.equal(412);
      expect((await getBytes('input', 'once.jpg')).toString()).to.equal('first');
      await s3.idle();
      expect(records).to.have.length(1);
    });

    it('applies If-None-Match: * to CompleteMultipartUpload too', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'mp-once.bin', Body: 'existing' }));
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'input', Key: 'mp-once.bin' }));
      const { ETag } = await client.send(
        new UploadPartCommand({ Bucket: 'input', Key: 'mp-once.bin', UploadId, PartNumber: 1, Body: 'part' }),
      );
      const complete = client.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'input',
          Key: 'mp-once.bin',
          UploadId,
          IfNoneMatch: '*',
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
        }),
      );
      let error: unknown;
      await complete.catch((caught: unknown) => {
        error = caught;
      });
      expect((error as Error | undefined)?.name).to.equal('PreconditionFailed');
      await s3.idle();
      expect(records.map((record) => record.eventName)).to.deep.equal(['ObjectCreated:Put']);
    });

    it('checks If-Match against the current ETag', async () => {
      const put = await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'cas.txt', Body: 'v1' }));
      const nameOf = async (promise: Promise<unknown>): Promise<string> => {
        try {
          await promise;
          return 'ok';
        } catch (caught) {
          return (caught as Error).name;
        }
      };
      expect(await nameOf(client.send(new PutObjectCommand({ Bucket: 'input', Key: 'cas.txt', Body: 'v2', IfMatch: '"0000"' })))).to.equal(
        'PreconditionFailed',
      );
      expect(await nameOf(client.send(new PutObjectCommand({ Bucket: 'input', Key: 'cas.txt', Body: 'v2', IfMatch: put.ETag })))).to.equal('ok');
      expect(await nameOf(client.send(new PutObjectCommand({ Bucket: 'input', Key: 'missing.txt', Body: 'x', IfMatch: put.ETag })))).to.equal(
        'NoSuchKey',
      );
      expect((await getBytes('input', 'cas.txt')).toString()).to.equal('v2');
      await s3.idle();
      expect(records).to.have.length(2);
    });
  });

  it('aws CLI: cp with --metadata emits one Put record and the metadata is visible to HeadObject', async () => {
    const file = path.join(tmp, 'edge photo.jpg');
    await writeFile(file, Buffer.from('not really a jpeg'));
    const prompt = 'a watercolor fox, =?UTF-8?B?w6k=?= at dusk';
    await aws('s3', 'cp', file, 's3://input/uploads/edge photo.jpg', '--metadata', JSON.stringify({ prompt }));
    await s3.idle();

    expect(records).to.have.length(1);
    expect(records[0]!.eventName).to.equal('ObjectCreated:Put');
    expect(records[0]!.s3.object.key).to.equal('uploads/edge+photo.jpg');
    expect(records[0]!.s3.object.size).to.equal(17);
    const head = await client.send(new HeadObjectCommand({ Bucket: 'input', Key: 'uploads/edge photo.jpg' }));
    expect(head.Metadata).to.deep.equal({ prompt });
    expect(head.ContentType).to.equal('image/jpeg');
    const cliHead = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'input', '--key', 'uploads/edge photo.jpg')) as {
      Metadata: Record<string, string>;
    };
    expect(cliHead.Metadata).to.deep.equal({ prompt });
  });

  it('aws CLI: a >8 MB cp (multipart) emits one CompleteMultipartUpload record with the right size', async () => {
    const body = Buffer.alloc(9 * 1024 * 1024 + 321);
    for (let i = 0; i < body.length; i += 997) body[i] = (i / 997) % 256;
    const file = path.join(tmp, 'big.bin');
    await writeFile(file, body);
    await aws('s3', 'cp', file, 's3://input/cli/big.bin', '--metadata', JSON.stringify({ prompt: 'big one' }));
    await s3.idle();

    expect(records).to.have.length(1);
    expect(records[0]!.eventName).to.equal('ObjectCreated:CompleteMultipartUpload');
    expect(records[0]!.s3.object.size).to.equal(body.length);
    expect(records[0]!.s3.object.eTag).to.match(/-2$/);
    expect(md5(await getBytes('input', 'cli/big.bin'))).to.equal(md5(body));
    const head = await client.send(new HeadObjectCommand({ Bucket: 'input', Key: 'cli/big.bin' }));
    expect(head.Metadata).to.deep.equal({ prompt: 'big one' });
  });

  it('emits nothing for deletes, reads, listings, failed writes and multipart steps before completion', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'gone.txt', Body: 'x' }));
    await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'gone2.txt', Body: 'x' }));
    await s3.idle();
    records.length = 0;

    await client.send(new DeleteObjectCommand({ Bucket: 'input', Key: 'gone.txt' }));
    await client.send(new DeleteObjectsCommand({ Bucket: 'input', Delete: { Objects: [{ Key: 'gone2.txt' }] } }));
    await client.send(new ListObjectsV2Command({ Bucket: 'input' }));
    await client.send(new HeadObjectCommand({ Bucket: 'input', Key: 'meta.jpg' })).catch(() => undefined);
    await client.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })).catch(() => undefined);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'input', Key: 'never.bin' }));
    await client.send(new UploadPartCommand({ Bucket: 'input', Key: 'never.bin', UploadId, PartNumber: 1, Body: 'p' }));
    await s3.idle();
    expect(records).to.deep.equal([]);
  });

  it('stores zero-byte objects and bodies with SQS/SNS content types as sent', async () => {
    const put = (key: string, init: RequestInit): Promise<Response> => fetch(`${s3.endpoint}/input/${key}`, { method: 'PUT', ...init });
    expect((await put('empty-no-type', {})).status).to.equal(200);
    expect((await put('form.txt', { body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).to.equal(200);
    expect((await getBytes('input', 'empty-no-type')).length).to.equal(0);
    expect((await getBytes('input', 'form.txt')).toString()).to.equal('a=1&b=2');
    await s3.idle();
    expect(records.map((record) => [record.s3.object.key, record.s3.object.size])).to.deep.equal([
      ['empty-no-type', 0],
      ['form.txt', 7],
    ]);
  });

  it('survives listeners that throw or reject, and still calls the other listeners', async () => {
    const errors: unknown[] = [];
    const originalConsoleError = console.error;
    console.error = (...args: unknown[]) => {
      errors.push(args);
    };
    const stops = [
      s3.onObjectCreated(() => {
        throw new Error('sync boom');
      }),
      s3.onObjectCreated(async () => {
        throw new Error('async boom');
      }),
    ];
    try {
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'boom.txt', Body: 'x' }));
      await s3.idle();
    } finally {
      for (const stop of stops) stop();
      console.error = originalConsoleError;
    }
    expect(records).to.have.length(1);
    expect(errors).to.have.length(2);
    expect((await getBytes('input', 'boom.txt')).toString()).to.equal('x');
  });

  describe('fault injection', () => {
    /** The error a send rejects with (fails the test when it resolves). */
    async function failure(promise: Promise<unknown>): Promise<any> {
      try {
        await promise;
      } catch (error) {
        return error;
      }
      expect.fail('the request succeeded');
    }
    const exists = async (bucket: string, key: string): Promise<boolean> => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
      return (listed.Contents ?? []).some((object) => object.Key === key);
    };

    it('answers with a real S3 error response: status, XML body, request id headers', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/raw.txt', Body: 'x' }));
      const slow = s3.injectFault({ kind: 'SlowDown', operation: 'GetObject', key: 'fault/raw.txt' });
      const response = await fetch(`${s3.endpoint}/input/fault/raw.txt`);
      expect(response.status).to.equal(503);
      expect(response.headers.get('content-type')).to.equal('application/xml');
      const requestId = response.headers.get('x-amz-request-id');
      expect(requestId).to.match(/^[0-9A-F]{16}$/);
      expect(response.headers.get('x-amz-id-2')).to.be.a('string').and.not.equal('fauxqs');
      const body = await response.text();
      expect(body).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error>/);
      expect(body).to.include(`<Code>SlowDown</Code><Message>Please reduce your request rate.</Message>`);
      expect(body).to.include(`<RequestId>${requestId}</RequestId>`);
      expect(slow.fired).to.equal(1);
      slow.remove();
      expect((await fetch(`${s3.endpoint}/input/fault/raw.txt`)).status).to.equal(200);
      expect(slow.fired).to.equal(1);
    });

    it('a SlowDown PutObject that outlasts the SDK retries raises SlowDown (503) after 3 attempts; nothing is stored or emitted', async () => {
      const slow = s3.injectFault({ kind: 'SlowDown', operation: 'PutObject', bucket: 'input', key: 'fault/slow.txt' });
      const error = await failure(client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/slow.txt', Body: 'x' })));
      expect(error.name).to.equal('SlowDown');
      expect(error.$fault).to.equal('server');
      expect(error.$metadata.httpStatusCode).to.equal(503);
      expect(error.$metadata.attempts).to.equal(3);
      expect(slow.fired).to.equal(3);
      expect(slow.matched).to.equal(3);
      await s3.idle();
      expect(records).to.deep.equal([]);
      expect(await exists('input', 'fault/slow.txt')).to.equal(false);
    });

    it('the SDK succeeds after one fault (times: 1): the object is stored once and emitted once', async () => {
      const once = s3.injectFault({ kind: 'InternalError', operation: 'PutObject', key: 'fault/once.txt', times: 1 });
      const put = await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/once.txt', Body: 'hello' }));
      expect(put.$metadata.attempts).to.equal(2);
      expect(once.fired).to.equal(1);
      expect((await getBytes('input', 'fault/once.txt')).toString()).to.equal('hello');
      await s3.idle();
      expect(records.map((record) => record.s3.object.key)).to.deep.equal(['fault/once.txt']);
    });

    it('raises InternalError (500) and AccessDenied (403, not retried) with the SDK', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/read.txt', Body: 'x' }));
      const internal = s3.injectFault({ kind: 'InternalError', operation: 'GetObject', key: 'fault/read.txt', times: 5 });
      const error500 = await failure(client.send(new GetObjectCommand({ Bucket: 'input', Key: 'fault/read.txt' })));
      expect([error500.name, error500.$metadata.httpStatusCode, error500.$metadata.attempts]).to.deep.equal(['InternalError', 500, 3]);
      expect(internal.fired).to.equal(3);
      internal.remove();

      const denied = s3.injectFault({ kind: 'AccessDenied', operation: 'GetObject', bucket: 'input' });
      const error403 = await failure(client.send(new GetObjectCommand({ Bucket: 'input', Key: 'fault/read.txt' })));
      expect([error403.name, error403.message, error403.$fault]).to.deep.equal(['AccessDenied', 'Access Denied', 'client']);
      expect([error403.$metadata.httpStatusCode, error403.$metadata.attempts]).to.deep.equal([403, 1]);
      expect(denied.fired).to.equal(1);
    });

    it('answers HEAD without a body, as S3 does (the SDK then knows only the status)', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/head.txt', Body: 'x' }));
      s3.injectFault({ kind: 'ServiceUnavailable', operation: 'HeadObject', times: 1 });
      const response = await fetch(`${s3.endpoint}/input/fault/head.txt`, { method: 'HEAD' });
      expect(response.status).to.equal(503);
      expect(await response.text()).to.equal('');
      s3.injectFault({ kind: 'AccessDenied', operation: 'HeadObject' });
      const error = await failure(client.send(new HeadObjectCommand({ Bucket: 'input', Key: 'fault/head.txt' })));
      expect(error.$metadata.httpStatusCode).to.equal(403);
    });

    it('reset drops the connection without an answer: the SDK retries, then raises the socket error', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/reset.txt', Body: 'x' }));
      const reset = s3.injectFault({ kind: 'reset', operation: 'GetObject', key: 'fault/reset.txt' });
      const error = await failure(client.send(new GetObjectCommand({ Bucket: 'input', Key: 'fault/reset.txt' })));
      expect(error.code).to.be.oneOf(['ECONNRESET', 'EPIPE']);
      expect(error.$metadata.attempts).to.equal(3);
      expect(reset.fired).to.equal(3);
      reset.remove();

      const once = s3.injectFault({ kind: 'reset', operation: 'GetObject', key: 'fault/reset.txt', times: 1 });
      const object = await client.send(new GetObjectCommand({ Bucket: 'input', Key: 'fault/reset.txt' }));
      expect(await object.Body!.transformToString()).to.equal('x');
      expect(object.$metadata.attempts).to.equal(2);
      expect(once.fired).to.equal(1);
    });

    it('a reset PutObject (body still in flight) stores nothing and emits nothing', async () => {
      const reset = s3.injectFault({ kind: 'reset', method: 'put', bucket: 'input', key: /^fault\/reset-put/ });
      const error = await failure(client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/reset-put.bin', Body: Buffer.alloc(3_000_000, 1) })));
      expect(error.code).to.be.oneOf(['ECONNRESET', 'EPIPE']);
      expect(reset.fired).to.equal(3);
      await s3.idle();
      expect(records).to.deep.equal([]);
      reset.remove();
      expect(await exists('input', 'fault/reset-put.bin')).to.equal(false);
    });

    it('matches the decoded key (string or RegExp), the bucket, the operation and the method; after skips matches', async () => {
      const key = 'fault/a b+c/é (1).jpg';
      const byKey = s3.injectFault({ kind: 'AccessDenied', key });
      const byRegExp = s3.injectFault({ kind: 'AccessDenied', key: /é \(\d\)\.png$/g });
      const listing = s3.injectFault({ kind: 'AccessDenied', operation: 'ListObjectsV2', bucket: 'other' });
      const deletes = s3.injectFault({ kind: 'AccessDenied', method: ['DELETE'], bucket: 'other', after: 2 });

      expect((await failure(client.send(new PutObjectCommand({ Bucket: 'input', Key: key, Body: 'x' })))).name).to.equal('AccessDenied');
      expect((await failure(client.send(new PutObjectCommand({ Bucket: 'other', Key: key, Body: 'x' })))).name).to.equal('AccessDenied');
      expect(byKey.fired).to.equal(2);
      await client.send(new PutObjectCommand({ Bucket: 'input', Key: `${key}.txt`, Body: 'x' })); // another key
      for (let i = 0; i < 2; i++) {
        // A global RegExp would alternate between true and false if its lastIndex were kept.
        expect((await failure(client.send(new PutObjectCommand({ Bucket: 'input', Key: 'fault/é (2).png', Body: 'x' })))).name).to.equal('AccessDenied');
      }
      expect(byRegExp.fired).to.equal(2);

      await client.send(new ListObjectsV2Command({ Bucket: 'input' }));
      await client.send(new PutObjectCommand({ Bucket: 'other', Key: 'fault/d1', Body: 'x' }));
      await client.send(new PutObjectCommand({ Bucket: 'other', Key: 'fault/d2', Body: 'x' }));
      await client.send(new PutObjectCommand({ Bucket: 'other', Key: 'fault/d3', Body: 'x' }));
      expect((await failure(client.send(new ListObjectsV2Command({ Bucket: 'other' })))).name).to.equal('AccessDenied');
      expect(listing.fired).to.equal(1);

      await client.send(new DeleteObjectCommand({ Bucket: 'other', Key: 'fault/d1' }));
      await client.send(new DeleteObjectCommand({ Bucket: 'other', Key: 'fault/d2' }));
      expect((await failure(client.send(new DeleteObjectCommand({ Bucket: 'other', Key: 'fault/d3' })))).name).to.equal('AccessDenied');
      expect([deletes.matched, deletes.fired]).to.deep.equal([3, 1]);
      s3.clearFaults();
      expect(await exists('other', 'fault/d1')).to.equal(false);
      expect(await exists('other', 'fault/d3')).to.equal(true);
      expect(await exists('input', key)).to.equal(false);
      expect(await exists('input', `${key}.txt`)).to.equal(true);
    });

    it('times and after combine; the first fault that answers hides the request from the later ones', async () => {
      const handles: S3FaultHandle[] = [
        s3.injectFault({ kind: 'InternalError', operation: 'HeadBucket', after: 1, times: 2 }),
        s3.injectFault({ kind: 'AccessDenied', operation: 'HeadBucket' }),
      ];
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${s3.endpoint}/input`, { method: 'HEAD' })).status);
      // 1st: skipped by the first fault, answered by the second; 2nd, 3rd: the first; then the second.
      expect(statuses).to.deep.equal([403, 500, 500, 403, 403]);
      expect(handles.map((handle) => [handle.matched, handle.fired])).to.deep.equal([
        [5, 2],
        [3, 3],
      ]);
    });

    it('a faulted CompleteMultipartUpload stores nothing and emits nothing', async () => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'input', Key: 'fault/multi.bin' }));
      const part = await client.send(new UploadPartCommand({ Bucket: 'input', Key: 'fault/multi.bin', UploadId, PartNumber: 1, Body: 'p' }));
      s3.injectFault({ kind: 'AccessDenied', operation: 'CompleteMultipartUpload' });
      const complete = new CompleteMultipartUploadCommand({
        Bucket: 'input',
        Key: 'fault/multi.bin',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      });
      expect((await failure(client.send(complete))).name).to.equal('AccessDenied');
      await s3.idle();
      expect(records).to.deep.equal([]);
      expect(await exists('input', 'fault/multi.bin')).to.equal(false);
      s3.clearFaults();
      await client.send(complete);
      expect((await getBytes('input', 'fault/multi.bin')).toString()).to.equal('p');
    });

    it('refuses malformed faults', () => {
      const bad: unknown[] = [
        { kind: 'Throttle' },
        { kind: 'SlowDown', operation: 'GetObjects' },
        { kind: 'SlowDown', times: 0 },
        { kind: 'SlowDown', times: 1.5 },
        { kind: 'SlowDown', after: -1 },
        { kind: 'SlowDown', key: 3 },
        { kind: 'SlowDown', method: 'GET /' },
      ];
      for (const fault of bad) expect(() => s3.injectFault(fault as never), JSON.stringify(fault)).to.throw(TypeError);
    });
  });

  it('stops calling a listener once unsubscribed', async () => {
    let calls = 0;
    const stop = s3.onObjectCreated(() => {
      calls++;
    });
    await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'u1.txt', Body: 'x' }));
    await s3.idle();
    stop();
    await client.send(new PutObjectCommand({ Bucket: 'input', Key: 'u2.txt', Body: 'x' }));
    await s3.idle();
    expect(calls).to.equal(1);
    expect(records).to.have.length(2);
  });
});

describe('local S3 server options and close()', () => {
  it('uses the given region and configurationId, and close() waits for pending listeners', async () => {
    const s3 = await startLocalS3({ region: 'eu-west-3', configurationId: 'edges' });
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'eu-west-3',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'photos' }));
      let finished = false;
      const seen: S3EventRecord[] = [];
      s3.onObjectCreated(async (record) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        seen.push(record);
        finished = true;
      });
      await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'a.jpg', Body: 'x' }));
      client.destroy();
      await s3.close();
      expect(finished).to.equal(true);
      expect(seen[0]!.awsRegion).to.equal('eu-west-3');
      expect(seen[0]!.s3.configurationId).to.equal('edges');
    } finally {
      client.destroy();
      await s3.close();
    }
  });
});

describe('parseS3Faults', () => {
  it('reads the JSON of --s3-faults, with keyRegExp for a RegExp key', () => {
    const faults = parseS3Faults(
      '[{"kind":"SlowDown","operation":"PutObject","bucket":"output","keyRegExp":"/manifest\\\\.json$","times":2},{"kind":"reset","method":["GET"],"key":"a b","after":1}]',
    );
    expect(faults).to.have.length(2);
    expect(faults[0]!.key).to.be.instanceOf(RegExp);
    expect((faults[0]!.key as RegExp).test('photos/x.jpg/manifest.json')).to.equal(true);
    expect((faults[0]!.key as RegExp).test('photos/x.jpg/manifest_json')).to.equal(false);
    expect(faults[1]).to.deep.equal({ kind: 'reset', method: ['GET'], key: 'a b', after: 1 });
  });

  it('refuses anything else', () => {
    for (const json of ['{"kind":"SlowDown"}', '[{"kind":"SlowDown","tims":2}]', '[{"kind":"SlowDown","key":"a","keyRegExp":"b"}]', '[{"kind":"SlowDown","keyRegExp":"("}]', '[{"kind":"Nope"}]', '[1]']) {
      expect(() => parseS3Faults(json), json).to.throw();
    }
  });
});

describe('local S3 server: SQS on the same endpoint', function () {
  let s3: LocalS3;
  let sqs: SQSClient;
  before(async () => {
    s3 = await startLocalS3();
    sqs = new SQSClient({ region: 'us-east-1', endpoint: s3.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  });
  after(async () => {
    sqs.destroy();
    await s3.close();
  });

  it('gives queue URLs on its own address, lets a long poll wait without holding idle(), and shows a queue without receiving it', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'q1' }));
    expect(QueueUrl).to.equal(`${s3.endpoint}/000000000000/q1`);
    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 2, AttributeNames: ['All'] }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const idle = await Promise.race([s3.idle().then(() => 'idle'), new Promise((resolve) => setTimeout(() => resolve('busy'), 1000))]);
    expect(idle, 'a pending long poll is not S3 activity').to.equal('idle');
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const received = await polling;
    expect(received.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).to.deep.equal([['hello', '1']]);
    const snapshot = s3.inspectQueue('q1')!;
    expect(snapshot.inflight.map((m) => [m.body, m.receiveCount])).to.deep.equal([['hello', 1]]);
    expect(snapshot.ready).to.deep.equal([]);
    expect(s3.inspectQueue('nope')).to.equal(undefined);
  });
});
