/** Medians and spreads: a figure from one run on a shared 2-core machine is noise. */
export interface Figure {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

export function figure(runs: readonly number[]): Figure {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0, runs };
}

export async function repeat(runs: number, once: (run: number) => Promise<number>): Promise<Figure> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await once(i));
  return figure(values);
}

/** To one decimal place, as the bench's tables print fractional figures. */
export const round1 = (n: number) => Math.round(n * 10) / 10;
/** To two decimal places, as the bench prints ratios. */
export const round2 = (n: number) => Math.round(n * 100) / 100;

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function spread(f: Figure, digits = 0): string {
  const fmt = (n: number) => n.toFixed(digits);
  return `${fmt(f.median)} (${fmt(f.min)}–${fmt(f.max)}, n=${f.runs.length})`;
}
