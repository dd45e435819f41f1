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
});
