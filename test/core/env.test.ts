import { expect } from 'chai';
import { ConfigError, envReader } from '../../functions/core/env';
import { thrownBy } from '../helpers/assertions';

const expectConfigError = (fn: () => unknown, message: string): void => {
  const error = thrownBy(fn);
  expect(error).to.be.instanceOf(ConfigError);
  expect((error as ConfigError).name).to.equal('ConfigError');
  expect((error as ConfigError).message).to.equal(message);
};

describe('core/env', () => {
  describe('envReader().string', () => {
    it('returns the value when set', () => {
      expect(envReader({ MODEL_ID: 'amazon.titan-image-generator-v2:0' }).string('MODEL_ID')).to.equal('amazon.titan-image-generator-v2:0');
    });

    it('returns the fallback when unset', () => {
      expect(envReader({}).string('DEFAULT_QUALITY', 'standard')).to.equal('standard');
    });

    it('returns an empty value as it is, not the fallback', () => {
      expect(envReader({ DEFAULT_PROMPT: '' }).string('DEFAULT_PROMPT', 'a tiger')).to.equal('');
    });

    it('fails on a required variable that is unset, naming it', () => {
      expectConfigError(() => envReader({}).string('MODEL_ID'), 'Expected a value (it is required) for environment variable MODEL_ID but received nothing');
    });
  });

  describe('envReader().integer', () => {
    it('parses an integer within range', () => {
      expect(envReader({ X: '3' }).integer('X', 1, 5)).to.equal(3);
      expect(envReader({ X: '1' }).integer('X', 1, 5)).to.equal(1);
      expect(envReader({ X: '5' }).integer('X', 1, 5)).to.equal(5);
      expect(envReader({ X: ' 4 ' }).integer('X', 1, 5)).to.equal(4);
    });

    it('returns the fallback when unset or empty', () => {
      expect(envReader({}).integer('X', 1, 5, 2)).to.equal(2);
      expect(envReader({ X: '' }).integer('X', 1, 5, 2)).to.equal(2);
    });

    it('fails on a value above the range with the exact message', () => {
      expectConfigError(() => envReader({ X: '9' }).integer('X', 1, 5), 'Expected integer between 1 and 5 for environment variable X but received "9"');
    });

    it('fails on a value below the range even with a fallback', () => {
      expectConfigError(() => envReader({ X: '0' }).integer('X', 1, 5, 2), 'Expected integer between 1 and 5 for environment variable X but received "0"');
    });

    for (const raw of ['abc', '2.5', '-1', '0x3', '1e0', '+3']) {
      it(`fails on ${JSON.stringify(raw)}`, () => {
        expectConfigError(
          () => envReader({ X: raw }).integer('X', 1, 5, 2),
          `Expected integer between 1 and 5 for environment variable X but received ${JSON.stringify(raw)}`,
        );
      });
    }

    it('fails on a required integer that is unset', () => {
      expectConfigError(
        () => envReader({}).integer('CALL_CONCURRENCY', 1, 5),
        'Expected integer between 1 and 5 (it is required) for environment variable CALL_CONCURRENCY but received nothing',
      );
    });

    it('shortens a long value in the message to 77 characters and "..."', () => {
      const long = '9'.repeat(100);
      expectConfigError(
        () => envReader({ X: long }).integer('X', 1, 5),
        `Expected integer between 1 and 5 for environment variable X but received "${'9'.repeat(77)}..."`,
      );
    });
  });
});
