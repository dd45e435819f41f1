import fc from 'fast-check';
import { rowMajor, rowsPerStatement, slices, valuesList } from '../../src/db/valuesList.js';

describe('multi-row VALUES lists (the Citus form of a batch)', () => {
  it('numbers parameters row by row and leaves parameterless columns alone', () => {
    expect(
      valuesList(['$::bigint', "'epoch'::timestamptz + $::bigint * interval '1 ms'", 'clock_timestamp()'], 2),
    ).toBe(
      "($1::bigint, 'epoch'::timestamptz + $2::bigint * interval '1 ms', clock_timestamp()),\n" +
        "($3::bigint, 'epoch'::timestamptz + $4::bigint * interval '1 ms', clock_timestamp())",
    );
  });

  it('uses each parameter number once, 1..rows × columns, in the order rowMajor lays values out', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 8 }), (rows, columns) => {
        const text = valuesList(
          Array.from({ length: columns }, () => '$::text'),
          rows,
        );
        const numbers = [...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
        expect(numbers).toEqual(Array.from({ length: rows * columns }, (_, i) => i + 1));
        const values = rowMajor(
          Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (_, c) => `${r}.${c}`)),
        );
        // Row r's first parameter is the value rowMajor put first for row r.
        for (let r = 0; r < rows; r++) expect(values[numbers[r * columns]! - 1]).toBe(`${r}.0`);
      }),
    );
  });

  it('keeps statements under the bind-parameter limit and slices batches without losing items', () => {
    expect(rowsPerStatement(14)).toBe(1_000);
    expect(rowsPerStatement(100)).toBe(320);
    expect(rowsPerStatement(10_000_000)).toBe(1);
    fc.assert(
      fc.property(fc.array(fc.nat()), fc.integer({ min: 1, max: 20 }), (items, size) => {
        const parts = slices(items, size);
        expect(parts.flat()).toEqual(items);
        expect(parts.every((p) => p.length > 0 && p.length <= size)).toBe(true);
      }),
    );
  });
});
