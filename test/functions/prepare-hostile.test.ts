/**
 * Hostile JPEGs are refused cheaply (issue #8): a valid progressive JPEG with
 * thousands of scans used to keep prepare busy past its timeout three times and
 * end in the dead-letter queue with no error.json. Now it is a rejected job,
 * and whatever else keeps sharp busy too long is one too.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import type { LocalFunction } from '../../scripts/local/lambda-host';
import { PipelineError } from '../../functions/core/errors';
import { adapterFor } from '../../functions/core/models';
import { preparePicture, type PictureOptions } from '../../functions/prepare/picture';
import { hostileProgressiveJpeg, hostileScanCount } from '../helpers/hostile-jpeg';
import { BUCKETS, describeOutcome, eventOf, jobIdOfRecord, prepareEnv, TITAN, useRig } from '../helpers/local-functions';
import { photo } from '../helpers/photos';

describe('prepare refuses hostile JPEGs (built bundle, embedded S3)', function () {
  this.timeout(60_000);
  const rig = useRig();
  let prepare: LocalFunction;

  before(() => {
    // A 20 s function: a hostile file that reached libjpeg (50 s and more) would end the invocation
    // as a timeout, so an invocation that ends well is the proof that the refusal came first.
    prepare = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'a pencil drawing' }), { timeoutS: 20 });
  });

  const prepareUpload = async (key: string, body: Uint8Array, fn = prepare): Promise<{ job: any; staged: string[] }> => {
    const record = await rig().upload(key, body);
    const outcome = await fn.invoke(eventOf(record));
    expect(outcome.ok, describeOutcome(outcome)).to.equal(true);
    expect(outcome.result).to.deep.equal({ batchItemFailures: [] });
    const jobId = jobIdOfRecord(record);
    const job = await rig().getJson(BUCKETS.staging, `jobs/${jobId}/job.json`);
    const staged = (await rig().list(BUCKETS.staging, `jobs/${jobId}/`)).map((k) => k.split('/').pop()!);
    return { job, staged };
  };

  for (const components of [4, 3] as const) {
    const options = { width: 7680, height: 7680, components };
    const scans = hostileScanCount(options);
    it(`rejects a 7680×7680 ${components === 4 ? 'CMYK' : 'YCbCr'} progressive JPEG with ${scans} scans as DECODER_LIMIT, within the invocation`, async () => {
      const bytes = hostileProgressiveJpeg(options);
      expect(bytes.length).to.be.below(1_000_000);
      const key = `hostile/many-scans-${components}.jpg`;
      const { job, staged } = await prepareUpload(key, bytes);
      expect(job.status, JSON.stringify(job)).to.equal('rejected');
      expect(job.failure).to.deep.equal({
        reason: 'DECODER_LIMIT',
        permanent: true,
        message:
          `s3://${BUCKETS.input}/${key} is a progressive JPEG with ${scans} scans; at most 100 are accepted (MAX_JPEG_SCANS): ` +
          'every scan is a pass of the decoder over the whole picture. Re-save it as a standard (baseline or progressive) JPEG',
      });
      expect(staged).to.deep.equal(['job.json']);
    });
  }

  it('still prepares an ordinary progressive JPEG (10 scans) and a mozjpeg one', async () => {
    for (const [key, bytes] of [
      ['ordinary/progressive.jpg', await sharp(photo('chelsea.png')).jpeg({ progressive: true }).toBuffer()],
      ['ordinary/mozjpeg.jpg', await sharp(photo('chelsea.png')).jpeg({ progressive: true, mozjpeg: true }).toBuffer()],
    ] as const) {
      const { job, staged } = await prepareUpload(key, bytes);
      expect(job.status, JSON.stringify(job.failure)).to.equal('ready');
      expect(job.conditioning.sourceSize).to.deep.equal({ width: 451, height: 300 });
      expect(staged).to.include.members(['conditioning.png', 'edges.png', 'job.json']);
    }
  });

  it('reads MAX_JPEG_SCANS: at 5, the same ordinary progressive JPEG is refused', async () => {
    const strict = rig().startFunction('prepare', prepareEnv({ DEFAULT_PROMPT: 'x', MAX_JPEG_SCANS: '5' }), { timeoutS: 20 });
    const bytes = await sharp(photo('chelsea.png')).jpeg({ progressive: true }).toBuffer();
    const { job } = await prepareUpload('strict/progressive.jpg', bytes, strict);
    expect(job.failure.reason).to.equal('DECODER_LIMIT');
    expect(job.failure.message).to.match(/^s3:\/\/input\/strict\/progressive\.jpg is a progressive JPEG with 10 scans; at most 5 are accepted \(MAX_JPEG_SCANS\)/);
  });
});

describe('preparePicture: sharp\'s time limit', function () {
  this.timeout(120_000);
  // 1 + 3 × 63 × 2 = 379 scans at 7680×7680: a few seconds of libjpeg, so let through by a raised limit.
  const slow = { width: 7680, height: 7680, components: 3 as const, approximation: 1 };
  const options: PictureOptions = {
    format: 'jpeg',
    maxInputPixels: 60_000_000,
    targetSize: adapterFor(TITAN).targetSize,
    objectName: 's3://input/slow.jpg',
    maxJpegScans: 1000,
  };

  // preparePicture fences sharp to three loaders for the whole process, as prepare wants in Lambda;
  // this process goes on to run the Bedrock stand-in, which reads every format a request may carry.
  after(() => {
    sharp.unblock({ operation: ['VipsForeignLoad'] });
  });

  it('turns a decode that outlasts timeoutSeconds into DECODER_LIMIT, not a hung invocation', async () => {
    const bytes = hostileProgressiveJpeg(slow);
    expect(hostileScanCount(slow)).to.equal(379);
    // Without a limit it decodes, and takes more than the one second the next run gets.
    const unlimited = await preparePicture(bytes, options);
    expect(unlimited.timings.decodeMs).to.be.greaterThan(1000);

    let error: unknown;
    try {
      await preparePicture(bytes, { ...options, timeoutSeconds: 1 });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(PipelineError);
    expect((error as PipelineError).reason).to.equal('DECODER_LIMIT');
    expect((error as PipelineError).message).to.equal('s3://input/slow.jpg took longer than 1 s to decode as jpeg (the time prepare has for one picture)');
  });

  it('refuses the many-scan file before sharp under the default limit', async () => {
    const { maxJpegScans: _, ...defaults } = options;
    let error: unknown;
    try {
      await preparePicture(hostileProgressiveJpeg(slow), defaults);
    } catch (caught) {
      error = caught;
    }
    expect((error as PipelineError).reason).to.equal('DECODER_LIMIT');
    expect((error as PipelineError).message).to.match(/^s3:\/\/input\/slow\.jpg is a progressive JPEG with 379 scans; at most 100 are accepted/);
  });
});
