import { createHash } from 'node:crypto';

const asked = new Map<string, number>();

/**
 * A generator seed fixed by the test that asks — its full name and how often it asked before — so
 * a test's input never depends on which tests ran before it (the Citus project runs another set).
 */
export function testSeed(): number {
  const name = expect.getState().currentTestName ?? '(outside a test)';
  const n = asked.get(name) ?? 0;
  asked.set(name, n + 1);
  return createHash('sha256').update(`${name}#${n}`).digest().readUInt32BE(0) % 1_000_000_000;
}
