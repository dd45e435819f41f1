import { UsageError } from './command.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time from `--since`: a duration back from now ("15m", "24h", "7d"), an ISO time
 * ("2026-11-25T10:00:00Z"), or "all" (undefined: no lower bound).
 */
export function parseSince(option: string, value: string, now = Date.now()): number | undefined {
  if (value === 'all') return undefined;
  const duration = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`--${option} "${value}" is not a duration (15m, 24h, 7d), an ISO time or "all"`);
}
