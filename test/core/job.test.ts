import { expect } from 'chai';
import { jobIdFor, parseJob, stagingKeys } from '../../functions/core/job';
import { PipelineError } from '../../functions/core/errors';
import { expectPipelineError } from '../helpers/assertions';
import { readyJob, rejectedJob } from '../helpers/factories';

/** The ready job as JSON, with `change` applied to a mutable copy. */
const readyJson = (change: (job: Record<string, any>) => void = () => {}): string => {
  const job = JSON.parse(JSON.stringify(readyJob())) as Record<string, any>;
  change(job);
  return JSON.stringify(job);
};

const expectInvalidJob = (text: string, message: string): PipelineError => expectPipelineError(() => parseJob(text), 'INVALID_JOB', message);

describe('core/job', () => {
  describe('jobIdFor', () => {
    it('is deterministic for the same bucket, key and eTag', () => {
      expect(jobIdFor('b', 'photos/tiger.jpg', 'e1')).to.equal(jobIdFor('b', 'photos/tiger.jpg', 'e1'));
    });

    it('is 32 lower-case hex characters', () => {
      expect(jobIdFor('b', 'photos/tiger.jpg', 'e1')).to.match(/^[0-9a-f]{32}$/);
    });

    it('differs when the bucket, the key or the eTag differs', () => {
      const base = jobIdFor('b', 'photos/tiger.jpg', 'e1');
      expect(jobIdFor('b2', 'photos/tiger.jpg', 'e1')).not.to.equal(base);
      expect(jobIdFor('b', 'photos/tiger.png', 'e1')).not.to.equal(base);
      expect(jobIdFor('b', 'photos/tiger.jpg', 'e2')).not.to.equal(base);
    });

    it('does not collide when text moves between bucket and key', () => {
      expect(jobIdFor('ab', 'c', 'e')).not.to.equal(jobIdFor('a', 'bc', 'e'));
    });
  });

  describe('stagingKeys', () => {
    it('puts everything of a job under jobs/<jobId>/', () => {
      expect(stagingKeys('0123456789abcdef0123456789abcdef')).to.deep.equal({
        conditioning: 'jobs/0123456789abcdef0123456789abcdef/conditioning.png',
        edges: 'jobs/0123456789abcdef0123456789abcdef/edges.png',
        job: 'jobs/0123456789abcdef0123456789abcdef/job.json',
      });
    });
  });

  describe('parseJob', () => {
    it('accepts a ready job and returns it unchanged', () => {
      const job = readyJob();
      expect(parseJob(JSON.stringify(job))).to.deep.equal(job);
    });

    it('accepts a ready job with a user seed', () => {
      const job = readyJob({ parameters: { ...readyJob().parameters, seed: 42 } });
      expect(parseJob(JSON.stringify(job))).to.deep.equal(job);
    });

    it('accepts a rejected job and returns it unchanged', () => {
      const job = rejectedJob();
      expect(parseJob(JSON.stringify(job))).to.deep.equal(job);
    });

    it('rejects text that is not JSON, keeping the parse error as cause', () => {
      const error = expectInvalidJob('{"version": 1,', 'Job file is not JSON');
      expect(error.cause).to.be.instanceOf(SyntaxError);
    });

    it('rejects JSON that is not an object', () => {
      expectInvalidJob('[]', 'Job file is malformed: not an object');
      expectInvalidJob('null', 'Job file is malformed: not an object');
    });

    it('rejects an unsupported version', () => {
      expectInvalidJob(readyJson((j) => (j.version = 2)), 'Job file is malformed: unsupported version 2');
      expectInvalidJob(readyJson((j) => delete j.version), 'Job file is malformed: unsupported version undefined');
    });

    it('rejects an unknown status', () => {
      expectInvalidJob(readyJson((j) => (j.status = 'done')), 'Job file is malformed: status done');
    });

    it('rejects a jobId that is not 32 hex characters', () => {
      expectInvalidJob(readyJson((j) => (j.jobId = 'not-a-job-id')), 'Job file is malformed: jobId');
      expectInvalidJob(readyJson((j) => (j.jobId = 'ABCDEF0123456789ABCDEF0123456789')), 'Job file is malformed: jobId');
    });

    it('rejects missing fields: modelId, source, source.eTag', () => {
      expectInvalidJob(readyJson((j) => delete j.modelId), 'Job file is malformed: modelId');
      expectInvalidJob(readyJson((j) => delete j.source), 'Job file is malformed: source');
      expectInvalidJob(readyJson((j) => delete j.source.eTag), 'Job file is malformed: source');
    });

    it('rejects a ready job without a usable prompt or count', () => {
      expectInvalidJob(readyJson((j) => delete j.parameters), 'Job file is malformed: parameters');
      expectInvalidJob(readyJson((j) => delete j.parameters.prompt), 'Job file is malformed: parameters');
      expectInvalidJob(readyJson((j) => (j.parameters.count = 1.5)), 'Job file is malformed: parameters');
    });

    it('rejects a ready job without an integer conditioning size', () => {
      expectInvalidJob(readyJson((j) => delete j.conditioning), 'Job file is malformed: conditioning.size');
      expectInvalidJob(readyJson((j) => (j.conditioning.size.width = '1152')), 'Job file is malformed: conditioning.size');
    });

    it('rejects a seed that is not an integer', () => {
      expectInvalidJob(readyJson((j) => (j.parameters.seed = 1.5)), 'Job file is malformed: parameters.seed');
      expectInvalidJob(readyJson((j) => (j.parameters.seed = '42')), 'Job file is malformed: parameters.seed');
    });

    it('rejects a rejected job whose failure has an unknown reason or no message', () => {
      const rejected = (change: (failure: Record<string, unknown>) => void): string => {
        const job = JSON.parse(JSON.stringify(rejectedJob())) as Record<string, any>;
        change(job.failure);
        return JSON.stringify(job);
      };
      expectInvalidJob(rejected((f) => (f.reason = 'OOPS')), 'Job file is malformed: failure');
      expectInvalidJob(rejected((f) => delete f.message), 'Job file is malformed: failure');
    });
  });
});
