import { inKeyOrder } from '../../projections/bets/statements.js';
import type { BetRow } from '../../projections/bets/row.js';

const row = (tenantId: number, betId: string) => ({ tenantId, betId }) as BetRow;

describe('inKeyOrder', () => {
  it('orders rows by tenant (as a number), then bet id, and leaves its input as it was', () => {
    const input = [row(10, 'b'), row(2, 'z'), row(10, 'a'), row(2, 'bet-10'), row(2, 'bet-9')];
    const before = [...input];
    expect(inKeyOrder(input).map((r) => `${r.tenantId}/${r.betId}`)).toEqual([
      '2/bet-10',
      '2/bet-9',
      '2/z',
      '10/a',
      '10/b',
    ]);
    expect(input).toEqual(before);
  });

  it('gives the same order whatever order the rows came in', () => {
    const rows = Array.from({ length: 50 }, (_, i) => row(i % 7, `bet-${(i * 37) % 50}`));
    const shuffled = [...rows].reverse();
    expect(inKeyOrder(shuffled)).toEqual(inKeyOrder(rows));
  });
});
