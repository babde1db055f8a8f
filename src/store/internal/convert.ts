/**
 * Value conversions between driver results and domain objects. Internal to src/store.
 * Drivers hand integers back as `bigint` (64-bit columns, SQLite), `number` (Postgres int4)
 * or, for anything unexpected, a decimal string; these helpers accept all three.
 */

/** Converts a driver integer to `bigint`, exactly. */
export function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(
    `expected an integer from the database, got ${typeof value} ${String(value)}`,
  );
}

/** Converts a driver integer to `number`; throws if it is outside the safe-integer range. */
export function toNumber(value: unknown): number {
  const result = Number(toBigInt(value));
  if (!Number.isSafeInteger(result)) {
    throw new RangeError(`integer ${String(value)} does not fit in a number`);
  }
  return result;
}

/** Like `toNumber`, but keeps SQL NULL as `null`. */
export function toNumberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/** Checks a value before it is written to an integer column, so both dialects reject the same inputs. */
export function assertInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value))
    throw new RangeError(`${field} must be a safe integer, got ${value}`);
  return value;
}

/** Parses a JSON text column. */
export function parseJson<T>(text: string | null, field: string): T | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new TypeError(`column ${field} holds invalid JSON`, { cause: error });
  }
}
