import { expect } from 'chai';
import { seedFor } from '../../functions/core/seed';
import { jobIdFor } from '../../functions/core/job';

const TITAN_MAX = 2_147_483_646;
const JOB_A = jobIdFor('bucket', 'photos/a.jpg', 'e1');
const JOB_B = jobIdFor('bucket', 'photos/b.jpg', 'e1');

describe('core/seed', () => {
  describe('seedFor without a user seed', () => {
    it('stays within [1, max] and is never 0, even for a tiny max', () => {
      for (const max of [1, 2, 3, TITAN_MAX]) {
        for (let job = 0; job < 200; job++) {
          const seed = seedFor(jobIdFor('b', `k${job}`, 'e'), job % 5, max);
          expect(seed, `max ${max}`).to.be.within(1, max);
          expect(Number.isInteger(seed)).to.equal(true);
        }
      }
    });

    it('is deterministic per (jobId, index)', () => {
      expect(seedFor(JOB_A, 3, TITAN_MAX)).to.equal(seedFor(JOB_A, 3, TITAN_MAX));
    });

    it('differs across the indexes of one job', () => {
      const seeds = [0, 1, 2, 3, 4].map((i) => seedFor(JOB_A, i, TITAN_MAX));
      expect(new Set(seeds).size).to.equal(5);
    });

    it('differs across jobs', () => {
      expect(seedFor(JOB_A, 0, TITAN_MAX)).not.to.equal(seedFor(JOB_B, 0, TITAN_MAX));
    });
  });

  describe('seedFor with a user seed', () => {
    it('uses the user seed for image 0, whatever the job', () => {
      expect(seedFor(JOB_A, 0, TITAN_MAX, 42)).to.equal(42);
      expect(seedFor(JOB_B, 0, TITAN_MAX, 42)).to.equal(42);
    });

    it('gives the next images the following seeds, distinct and within max', () => {
      const seeds = [0, 1, 2, 3, 4].map((i) => seedFor(JOB_A, i, TITAN_MAX, 42));
      expect(seeds).to.deep.equal([42, 43, 44, 45, 46]);
    });

    it('wraps past max to 1, never to 0', () => {
      expect([0, 1, 2].map((i) => seedFor(JOB_A, i, TITAN_MAX, TITAN_MAX))).to.deep.equal([TITAN_MAX, 1, 2]);
      expect([0, 1, 2].map((i) => seedFor(JOB_A, i, TITAN_MAX, TITAN_MAX - 1))).to.deep.equal([TITAN_MAX - 1, TITAN_MAX, 1]);
    });

    it('keeps all seeds within [1, max] after image 0 for a user seed of 0', () => {
      expect([1, 2, 3].map((i) => seedFor(JOB_A, i, TITAN_MAX, 0))).to.deep.equal([1, 2, 3]);
    });
  });
});
