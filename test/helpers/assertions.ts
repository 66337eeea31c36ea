import { expect } from 'chai';
import { PipelineError, type FailureReason } from '../../functions/core/errors';

/** Runs `fn`, expecting it to throw; returns what it threw. */
export const thrownBy = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail('expected the call to throw, but it returned');
};

/** Asserts `fn` throws a PipelineError with exactly this reason and message. */
export const expectPipelineError = (fn: () => unknown, reason: FailureReason, message: string): PipelineError => {
  expect(fn).to.throw(PipelineError).with.property('reason', reason);
  const error = thrownBy(fn) as PipelineError;
  expect(error.message).to.equal(message);
  return error;
};

/** Asserts `fn` throws an instance of `type` whose message is exactly `message`. */
export const expectThrows = <E extends Error>(fn: () => unknown, type: new (...args: any[]) => E, message: string): E => {
  const error = thrownBy(fn);
  expect(error).to.be.instanceOf(type);
  expect((error as E).message).to.equal(message);
  return error as E;
};
