/**
 * Exact decimals. Money is integer micro-units (BigInt) in code; decimal strings from config
 * are parsed here without ever passing through a float.
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** True when `value` is a plain decimal string such as "0.20" or "50000000000". */
export function isDecimalString(value: string): boolean {
  return DECIMAL.test(value);
}

/**
 * Parses a decimal string scaled by 10^scale, exactly. Throws when the value has more
 * fractional digits than `scale` allows (no silent rounding).
 * @example decimalToScaled('0.15', 6) === 150000n
 */
export function decimalToScaled(value: string, scale: number): bigint {
  const match = DECIMAL.exec(value);
  if (!match) throw new Error(`not a decimal number: "${value}"`);
  const [, sign, whole = '0', fraction = ''] = match;
  const trimmed = fraction.replace(/0+$/, '');
  if (trimmed.length > scale) throw new Error(`"${value}" has more than ${scale} decimal places`);
  const digits = BigInt(whole + trimmed.padEnd(scale, '0'));
  return sign ? -digits : digits;
}

/** Formats a scaled integer back into a decimal string. @example scaledToDecimal(150000n, 6) === '0.15' */
export function scaledToDecimal(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Micro-units per unit of currency. */
export const MICROS = 1_000_000n;
