import { expect } from 'chai';
import { FailureReason, isPermanent, PipelineError, toFailureReport } from '../../functions/core/errors';

describe('core/errors', () => {
  it('classes only THROTTLED and SERVICE_UNAVAILABLE as transient', () => {
    const transient = (Object.keys(FailureReason) as FailureReason[]).filter((reason) => !isPermanent(reason));
    expect(transient).to.deep.equal(['THROTTLED', 'SERVICE_UNAVAILABLE']);
  });

  it('PipelineError carries name, reason, permanence and cause', () => {
    const cause = new Error('socket hang up');
    const error = new PipelineError('SERVICE_UNAVAILABLE', 'try later', { cause });
    expect(error).to.be.instanceOf(Error);
    expect(error.name).to.equal('PipelineError');
    expect(error.reason).to.equal('SERVICE_UNAVAILABLE');
    expect(error.permanent).to.equal(false);
    expect(error.cause).to.equal(cause);
    expect(new PipelineError('INVALID_JOB', 'x').permanent).to.equal(true);
  });

  it('toFailureReport keeps reason, message and permanence only (no stack, no cause)', () => {
    const report = toFailureReport(new PipelineError('CONTENT_FILTERED', 'blocked', { cause: new Error('inner') }));
    expect(report).to.deep.equal({ reason: 'CONTENT_FILTERED', message: 'blocked', permanent: true });
    expect(JSON.parse(JSON.stringify(report))).to.deep.equal(report);
  });
});
