import { expect } from 'chai';
import { mapLimit } from '../../functions/core/concurrency';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A task function that records how many calls run at once. */
const tracked = <T>(work: (item: T, index: number) => Promise<T>) => {
  const state = { inFlight: 0, maxInFlight: 0, started: [] as number[] };
  const fn = async (item: T, index: number): Promise<T> => {
    state.started.push(index);
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    try {
      return await work(item, index);
    } finally {
      state.inFlight--;
    }
  };
  return { state, fn };
};

describe('core/concurrency', () => {
  describe('mapLimit', () => {
    it('never has more than `limit` calls in flight, and reaches the limit', async () => {
      // Arrange: uneven durations so workers finish out of step.
      const durations = [8, 1, 5, 3, 9, 2, 7, 1, 4, 6];
      const { state, fn } = tracked(async (ms: number) => (await sleep(ms), ms));

      // Act
      await mapLimit(durations, 3, fn);

      // Assert
      expect(state.maxInFlight).to.equal(3);
      expect(state.started.slice().sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('runs one at a time with limit 1', async () => {
      const { state, fn } = tracked(async (ms: number) => (await sleep(ms), ms));
      await mapLimit([3, 1, 2], 1, fn);
      expect(state.maxInFlight).to.equal(1);
      expect(state.started).to.deep.equal([0, 1, 2]);
    });

    it('starts everything at once when the limit exceeds the items', async () => {
      const { state, fn } = tracked(async (ms: number) => (await sleep(ms), ms));
      await mapLimit([5, 5, 5], 10, fn);
      expect(state.maxInFlight).to.equal(3);
    });

    it('keeps the input order even when later items finish first', async () => {
      const finished: number[] = [];
      const results = await mapLimit([30, 20, 10, 1], 4, async (ms, index) => {
        await sleep(ms);
        finished.push(index);
        return `item ${index}`;
      });
      expect(finished).to.deep.equal([3, 2, 1, 0]);
      expect(results).to.deep.equal(['item 0', 'item 1', 'item 2', 'item 3']);
    });

    it('passes each item with its index', async () => {
      expect(await mapLimit(['a', 'b', 'c'], 2, async (item, index) => `${index}:${item}`)).to.deep.equal(['0:a', '1:b', '2:c']);
    });

    it('resolves to [] for no items without calling fn', async () => {
      let calls = 0;
      expect(await mapLimit([], 2, async () => ++calls)).to.deep.equal([]);
      expect(calls).to.equal(0);
    });

    it('rejects with the error of a failing call', async () => {
      const failure = new Error('model exploded');
      let caught: unknown;
      try {
        await mapLimit([1, 2, 3, 4], 2, async (n) => {
          await sleep(n);
          if (n === 2) throw failure;
          return n;
        });
      } catch (error) {
        caught = error;
      }
      expect(caught).to.equal(failure);
    });

    it('after a failure starts nothing new but waits for the calls in flight before rejecting', async () => {
      const started: number[] = [];
      const finished: number[] = [];
      let caught: unknown;
      try {
        await mapLimit([1, 2, 3, 4], 2, async (n) => {
          started.push(n);
          if (n === 1) throw new Error('first fails');
          await sleep(20);
          finished.push(n);
          return n;
        });
      } catch (error) {
        caught = error;
      }
      expect((caught as Error).message).to.equal('first fails');
      // 2 was already running when 1 failed: it finished before mapLimit rejected; 3 and 4 never started.
      expect(started).to.deep.equal([1, 2]);
      expect(finished).to.deep.equal([2]);
    });

    it('refuses a limit below 1 instead of resolving to an array of holes', async () => {
      let caught: unknown;
      try {
        await mapLimit([1, 2, 3], 0, async (n) => n);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(RangeError);
    });
  });
});
