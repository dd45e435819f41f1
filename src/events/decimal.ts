/**
 * Exact decimals as strings. Amounts and odds never pass through a JavaScript number: they are
 * checked by shape here and stored as NUMERIC, whose precision the limits below mirror.
 */

export interface DecimalLimits {
  /** Digits before the point (NUMERIC precision minus scale). */
  readonly integerDigits: number;
  /** Digits after the point (NUMERIC scale). */
  readonly fractionDigits: number;
}

/** NUMERIC(20,4): up to 10^16 in any currency unit, to a hundredth of a cent. */
export const MONEY: DecimalLimits = { integerDigits: 16, fractionDigits: 4 };
/** NUMERIC(12,4): decimal odds. */
export const ODDS: DecimalLimits = { integerDigits: 8, fractionDigits: 4 };

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** Why `value` is not an acceptable non-negative decimal string within `limits`, or undefined. */
export function decimalProblem(value: unknown, limits: DecimalLimits): string | undefined {
  if (typeof value !== 'string') {
    return typeof value === 'number'
      ? 'must be a decimal string such as "12.50", not a JSON number'
      : 'is not a decimal';
  }
  const match = DECIMAL.exec(value);
  if (!match) return 'is not a decimal';
  const integer = (match[1] ?? '').replace(/^0+(?=\d)/, '');
  const fraction = match[2] ?? '';
  if (integer.length > limits.integerDigits) {
    return `has more than ${limits.integerDigits} digits before the point`;
  }
  if (fraction.length > limits.fractionDigits) {
    return `has more than ${limits.fractionDigits} digits after the point`;
  }
  return undefined;
}

/** True when a well-formed decimal string is zero. */
export function isZero(value: string): boolean {
  return /^[0.]+$/.test(value);
}

/** True when a well-formed decimal string is strictly greater than one. */
export function isAboveOne(value: string): boolean {
  const [integer = '', fraction = ''] = value.split('.');
  const whole = integer.replace(/^0+/, '');
  if (whole.length > 1 || (whole.length === 1 && whole !== '1')) return true;
  return whole === '1' && /[1-9]/.test(fraction);
}

/**
 * A decimal string (as PostgreSQL returns NUMERIC: an optional sign, digits, an optional fraction)
 * as an integer count of 10^-scale units. Exact; refuses more fraction digits than `scale` rather
 * than rounding.
 */
export function toUnits(value: string, scale: number): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  const fraction = match?.[3] ?? '';
  if (!match || fraction.replace(/0+$/, '').length > scale)
    throw new Error(`"${value}" is not a decimal with at most ${scale} digits after the point`);
  const units = BigInt(`${match[2]}${fraction.slice(0, scale).padEnd(scale, '0')}`);
  return match[1] === '-' ? -units : units;
}

/** An integer count of 10^-scale units as a decimal string: the inverse of toUnits. */
export function fromUnits(units: bigint, scale: number): string {
  const sign = units < 0n ? '-' : '';
  const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
  return scale === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/**
 * The exact product of non-negative decimal strings, as PostgreSQL's NUMERIC multiplies: the
 * product's digits after the point are the sum of the factors' (1.85 × 2.1000 = 3.885000), never
 * rounded. The product of no factors is "1".
 */
export function multiplyDecimals(factors: readonly string[]): string {
  let units = 1n;
  let scale = 0;
  for (const factor of factors) {
    const fraction = factor.indexOf('.') < 0 ? '' : factor.slice(factor.indexOf('.') + 1);
    units *= toUnits(factor, fraction.length);
    scale += fraction.length;
  }
  return fromUnits(units, scale);
}
