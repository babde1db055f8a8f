import { invalidParam } from '../../runtime/index.js';

/** Optional scalar fields of a request body: `null` and absent are the same, a wrong type is the API's `invalid_type`. */

export function optionalString(value: Record<string, unknown>, field: string): string | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'string')
    throw invalidParam(`Invalid type for '${field}': expected a string.`, field, 'invalid_type');
  return item;
}

export function optionalBoolean(value: Record<string, unknown>, field: string): boolean | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'boolean')
    throw invalidParam(`Invalid type for '${field}': expected a boolean.`, field, 'invalid_type');
  return item;
}

export function optionalNumber(
  value: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
): number | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'number' || !Number.isFinite(item))
    throw invalidParam(`Invalid type for '${field}': expected a number.`, field, 'invalid_type');
  if (item < min || item > max)
    throw invalidParam(
      `Invalid '${field}': expected a value between ${min} and ${max}, but got ${item} instead.`,
      field,
    );
  return item;
}

export function optionalInteger(
  value: Record<string, unknown>,
  field: string,
  min: number,
): number | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'number' || !Number.isInteger(item))
    throw invalidParam(`Invalid type for '${field}': expected an integer.`, field, 'invalid_type');
  if (item < min)
    throw invalidParam(
      `Invalid '${field}': integer below minimum value. Expected a value >= ${min}, but got ${item} instead.`,
      field,
      'integer_below_min_value',
    );
  return item;
}
