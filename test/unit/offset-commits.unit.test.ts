import { jest } from '@jest/globals';
import { offsetCommits, type PartitionOffset } from '../../consumers/offsetCommits.js';

const at = (partition: number, offset: number): PartitionOffset => ({
  topic: 't',
  partition,
  offset: String(offset),
});

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('offset commits off the flush path', () => {
  it('keeps one commit in flight and sends the newest offset of each partition handed over meanwhile', async () => {
    const sent: PartitionOffset[][] = [];
    const gates: Array<ReturnType<typeof deferred>> = [];
    const commits = offsetCommits({
      commit: (offsets) => {
        sent.push(offsets);
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      },
      onFailure: () => undefined,
    });
    commits.submit([at(0, 10)]);
    // While the first is in flight: partition 0 twice (an older one after a newer), partition 1 once.
    commits.submit([at(0, 30), at(1, 5)]);
    commits.submit([at(0, 20)]);
    expect(sent).toEqual([[at(0, 10)]]);
    gates[0]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([[at(0, 10)], [at(0, 30), at(1, 5)]]);
    gates[1]!.resolve();
    await commits.settle();
    expect(sent).toHaveLength(2);
  });

  it('reports a failed commit, goes on with the next, and settles', async () => {
    const failures: Array<[string, readonly PartitionOffset[]]> = [];
    let calls = 0;
    const commits = offsetCommits({
      commit: async () => {
        if (++calls === 1) throw new Error('This is not the correct coordinator for this group');
      },
      onFailure: (error, offsets) => failures.push([(error as Error).message, offsets]),
    });
    commits.submit([at(2, 7)]);
    await commits.settle();
    commits.submit([at(2, 9)]);
    await commits.settle();
    expect(failures).toEqual([['This is not the correct coordinator for this group', [at(2, 7)]]]);
    expect(calls).toBe(2);
  });

  describe('at most one commit per interval', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    /** A committer whose calls the test sees, each answered at once. */
    function recording(intervalMs: number) {
      const sent: PartitionOffset[][] = [];
      const commits = offsetCommits({
        commit: async (offsets) => {
          sent.push(offsets);
        },
        onFailure: () => undefined,
        intervalMs,
        now: () => Date.now(),
      });
      return { sent, commits };
    }

    it('sends the first at once, holds the next until the interval since the first began has passed', async () => {
      const { sent, commits } = recording(1_000);
      commits.submit([at(0, 10)]);
      expect(sent).toEqual([[at(0, 10)]]);
      await jest.advanceTimersByTimeAsync(10);
      commits.submit([at(0, 20), at(1, 5)]);
      commits.submit([at(0, 30)]);
      await jest.advanceTimersByTimeAsync(989);
      expect(sent).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(sent).toEqual([[at(0, 10)], [at(0, 30), at(1, 5)]]);
      // Nothing handed over since: no empty commit follows.
      await jest.advanceTimersByTimeAsync(5_000);
      expect(sent).toHaveLength(2);
    });

    it('settle commits what is pending without waiting for the interval', async () => {
      const { sent, commits } = recording(60_000);
      commits.submit([at(3, 1)]);
      commits.submit([at(3, 2)]);
      expect(sent).toEqual([[at(3, 1)]]);
      await commits.settle();
      expect(sent).toEqual([[at(3, 1)], [at(3, 2)]]);
    });

    it('with an interval of 0, commits again as soon as the one in flight is answered', async () => {
      const { sent, commits } = recording(0);
      commits.submit([at(0, 1)]);
      commits.submit([at(0, 2)]);
      expect(sent).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(0);
      expect(sent).toEqual([[at(0, 1)], [at(0, 2)]]);
    });
  });
});
