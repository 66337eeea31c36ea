import { expect } from 'chai';
import {
  answerKey,
  CallBudget,
  claimKey,
  ClaimState,
  decodeKeptAnswer,
  encodeKeptAnswer,
  judgeExistingClaim,
  keptAnswerStands,
  parseClaim,
  requestFingerprint,
  Verdict,
  type Claim,
  type KeptAnswer,
} from '../../functions/core/claim';
import { PipelineError } from '../../functions/core/errors';
import { jobParameters, readyJob, rejectedJob } from '../helpers/factories';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const claim = (overrides: Partial<Claim> = {}): Claim => ({
  version: 1,
  state: ClaimState.RUNNING,
  owner: 'message:m-1',
  leaseUntil: '2026-11-24T10:05:00.000Z',
  invocations: 1,
  modelCalls: 0,
  updatedAt: '2026-11-24T09:59:00.000Z',
  ...overrides,
});

describe('core/claim', () => {
  describe('judgeExistingClaim', () => {
    const SEQ = '0055AED6DCD90281E5';
    const NEWER = '0055AED6DCD90281F0';

    it('a request another invocation holds within its lease, for the same upload, is a duplicate in progress', () => {
      expect(judgeExistingClaim(claim({ sequencer: SEQ }), NOW, 'message:m-2', SEQ)).to.equal(Verdict.DUPLICATE_RUNNING);
    });

    it('a newer upload of the same bytes and settings waits for the holder instead of being dropped', () => {
      expect(judgeExistingClaim(claim({ sequencer: SEQ }), NOW, 'message:m-2', NEWER)).to.equal(Verdict.BUSY);
    });

    it('an older upload finding a newer one at work is a duplicate: its outcome could only be superseded', () => {
      expect(judgeExistingClaim(claim({ sequencer: NEWER }), NOW, 'message:m-2', SEQ)).to.equal(Verdict.DUPLICATE_RUNNING);
    });

    it('the same queue message received again takes over a claim its crashed earlier receive left running', () => {
      expect(judgeExistingClaim(claim(), NOW, 'message:m-1', SEQ)).to.equal(Verdict.TAKE_OVER);
    });

    it('takes over a claim whose lease has ended, one released after a transient failure, and a finished one (its answers are kept)', () => {
      expect(judgeExistingClaim(claim({ leaseUntil: '2026-11-24T09:59:59.999Z' }), NOW, 'message:m-2', SEQ)).to.equal(Verdict.TAKE_OVER);
      expect(judgeExistingClaim(claim({ state: ClaimState.RELEASED }), NOW, 'message:m-2', SEQ)).to.equal(Verdict.TAKE_OVER);
      expect(judgeExistingClaim(claim({ state: ClaimState.DONE }), NOW, 'message:m-2', SEQ)).to.equal(Verdict.TAKE_OVER);
    });
  });

  describe('requestFingerprint', () => {
    it('is the same for the same job, model and parameters, and differs when any of them changes', () => {
      const job = readyJob();
      const same = requestFingerprint(readyJob(), 'model-a');

      expect(requestFingerprint(job, 'model-a')).to.equal(same).and.to.match(/^[0-9a-f]{24}$/);
      expect(requestFingerprint(job, 'model-b')).to.not.equal(same);
      expect(requestFingerprint(readyJob({ parameters: jobParameters({ prompt: 'another prompt' }) }), 'model-a')).to.not.equal(same);
      expect(requestFingerprint(rejectedJob(), 'model-a')).to.not.equal(same);
    });
  });

  it('keeps claims and kept answers under claims/, outside the jobs/ prefix prepare may write', () => {
    expect(claimKey('a'.repeat(32), 'f00d')).to.equal(`claims/${'a'.repeat(32)}/f00d.json`);
    expect(answerKey(claimKey('a'.repeat(32), 'f00d'), 2)).to.equal(`claims/${'a'.repeat(32)}/f00d/answer-2.json`);
  });

  describe('parseClaim', () => {
    it('reads what it wrote and refuses what is not a claim', () => {
      expect(parseClaim(JSON.stringify(claim()))).to.deep.equal(claim());
      expect(() => parseClaim('{')).to.throw(PipelineError, 'Claim file is not JSON');
      expect(() => parseClaim(JSON.stringify({ ...claim(), state: 'sleeping' }))).to.throw(PipelineError, 'Claim file is malformed');
    });
  });

  describe('CallBudget', () => {
    it('reserves the attempts of a call before it starts and settles to what was used', () => {
      const budget = new CallBudget(10, 2, 3);

      budget.reserve();
      expect(budget.committed).to.equal(5);
      budget.settle(1);
      expect(budget.committed).to.equal(3);
      budget.reserve();
      budget.settle(undefined);
      expect(budget.committed).to.equal(6);
    });

    it('refuses a call that could take the job past the cap, naming the numbers', () => {
      const budget = new CallBudget(7, 6, 3);

      expect(() => budget.reserve())
        .to.throw(PipelineError, 'Stopped before another model call: 6 of at most 7 model calls for this upload are used (MAX_MODEL_CALLS_PER_JOB)')
        .with.property('reason', 'CALL_BUDGET_EXHAUSTED');
    });

    it('counts calls in flight, so concurrent calls cannot overrun the cap together', () => {
      const budget = new CallBudget(6, 0, 3);

      budget.reserve();
      budget.reserve();
      expect(() => budget.reserve()).to.throw(PipelineError);
    });
  });

  describe('kept answers', () => {
    it('round-trip the images, the seeds the model reported, the blocked count and the upload that paid', () => {
      const generated = { images: [Uint8Array.from([137, 80, 78, 71]), Uint8Array.from([1, 2, 3])], seeds: [11, 12], blocked: 1 };

      const decoded = decodeKeptAnswer(encodeKeptAnswer({ generated, sequencer: 'A1' }));

      expect(decoded.generated.images.map((i) => Array.from(i))).to.deep.equal([[137, 80, 78, 71], [1, 2, 3]]);
      expect(decoded.generated.seeds).to.deep.equal([11, 12]);
      expect(decoded.generated.blocked).to.equal(1);
      expect(decoded.sequencer).to.equal('A1');
      expect(decoded).to.not.have.property('failure');
    });

    it('round-trip a kept failure', () => {
      const failure = { reason: 'CONTENT_FILTERED' as const, message: 'blocked', permanent: true };
      const decoded = decodeKeptAnswer(encodeKeptAnswer({ generated: { images: [], blocked: 1 }, failure, sequencer: 'A1' }));
      expect(decoded.failure).to.deep.equal(failure);
    });

    it('refuse a file that is not a kept answer', () => {
      expect(() => decodeKeptAnswer('{"images": "nope", "blocked": 0}')).to.throw(PipelineError, 'Kept model answer is malformed');
      expect(() => decodeKeptAnswer('[')).to.throw(PipelineError, 'Kept model answer is not JSON');
      expect(() => decodeKeptAnswer('{"images": [], "blocked": 0, "failure": {"reason": "NOPE", "message": "x"}}')).to.throw(PipelineError, 'malformed failure');
    });
  });

  describe('keptAnswerStands', () => {
    const kept = (reason?: 'CONTENT_FILTERED' | 'MODEL_ERROR' | 'ACCESS_DENIED'): KeptAnswer => ({
      generated: { images: reason ? [] : [Uint8Array.from([1])], blocked: 0 },
      ...(reason ? { failure: { reason, message: reason, permanent: true } } : {}),
      sequencer: 'A1',
    });

    it('pictures stand for every later delivery and upload: they were paid for', () => {
      expect(keptAnswerStands(kept(), 'A1')).to.equal(true);
      expect(keptAnswerStands(kept(), 'B2')).to.equal(true);
    });

    it('a failure the upload caused stands for every upload of the same request', () => {
      expect(keptAnswerStands(kept('CONTENT_FILTERED'), 'B2')).to.equal(true);
    });

    it('a failure the upload did not cause stands for retries of that upload, and a later upload tries again', () => {
      for (const reason of ['MODEL_ERROR', 'ACCESS_DENIED'] as const) {
        expect(keptAnswerStands(kept(reason), 'A1'), reason).to.equal(true);
        expect(keptAnswerStands(kept(reason), 'B2'), reason).to.equal(false);
      }
    });
  });
});
