/**
 * Generates a deterministic JSON value that conforms to a JSON Schema (the subset that OpenAI
 * tool parameters and structured outputs use). The emulated model uses it for tool-call
 * arguments and for `response_format: json_schema` answers.
 */

type Schema = Record<string, unknown>;

/** Where string values come from: called once per generated plain string, depth-first. */
export type StringSource = () => string;

const MAX_DEPTH = 12;

const FORMAT_EXAMPLES: Record<string, string> = {
  'date-time': '2024-01-01T00:00:00Z',
  date: '2024-01-01',
  time: '00:00:00',
  email: 'user@example.com',
  uri: 'https://example.com',
  url: 'https://example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '127.0.0.1',
};

/**
 * Builds a value for `schema`:
 * - `const` → that value; `enum` → the first value; `anyOf`/`oneOf` → the first non-null branch;
 *   `allOf` → the branches merged; local `$ref` (`#/$defs/x`, `#/definitions/x`) is resolved.
 * - `string` → a known `format` example, else `nextString()`, padded/cut to min/maxLength.
 * - `number`/`integer` → 1, moved into `minimum`/`maximum` when needed; `boolean` → true;
 *   `null` → null; a type list takes its first non-null type.
 * - `array` → `max(minItems, 1)` items (none if `maxItems` is 0); `object` → the `required`
 *   properties, or every property when `required` is absent, generated recursively.
 * - A schema with no type → object if it has `properties`, array if it has `items`, else string.
 *
 * @example
 * valueForSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, () => 'Paris')
 * // → { city: 'Paris' }
 */
export function valueForSchema(schema: unknown, nextString: StringSource): unknown {
  const root = isObject(schema) ? schema : {};
  return generate(root, root, nextString, 0);
}

function generate(schema: unknown, root: Schema, nextString: StringSource, depth: number): unknown {
  if (!isObject(schema)) return schema === false ? null : nextString();
  if (depth > MAX_DEPTH) return null;
  const next = (s: unknown): unknown => generate(s, root, nextString, depth + 1);

  if ('const' in schema) return schema['const'];
  const enumValues = schema['enum'];
  if (Array.isArray(enumValues) && enumValues.length > 0) return enumValues[0];
  const ref = schema['$ref'];
  if (typeof ref === 'string') return next(resolveRef(ref, root));
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key];
    if (!Array.isArray(branches) || branches.length === 0) continue;
    // Prefer a non-null branch: `Optional[X]` becomes anyOf [X, {type: null}] in either order.
    return next(branches.find((b) => !(isObject(b) && b['type'] === 'null')) ?? branches[0]);
  }
  const allOf = schema['allOf'];
  if (Array.isArray(allOf) && allOf.length > 0) {
    const { allOf: _ignored, ...rest } = schema;
    return next(mergeSchemas([rest, ...allOf.map((s) => (isObject(s) ? s : {}))]));
  }

  switch (pickType(schema)) {
    case 'string':
      return stringFor(schema, nextString);
    case 'integer':
    case 'number':
      return numberFor(schema);
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const min = typeof schema['minItems'] === 'number' ? schema['minItems'] : 1;
      const count = schema['maxItems'] === 0 ? 0 : Math.max(min, 1);
      const prefix = Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : [];
      return Array.from({ length: Math.max(count, prefix.length) }, (_, i) =>
        next(i < prefix.length ? prefix[i] : (schema['items'] ?? {})),
      );
    }
    default: {
      const properties = isObject(schema['properties']) ? schema['properties'] : {};
      const required = schema['required'];
      const keys = Array.isArray(required)
        ? required.filter((k): k is string => typeof k === 'string')
        : Object.keys(properties);
      const out: Record<string, unknown> = {};
      for (const key of keys) out[key] = next(properties[key] ?? {});
      return out;
    }
  }
}

function pickType(schema: Schema): string {
  const type = schema['type'];
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    const first = type.find((t) => t !== 'null') ?? type[0];
    if (typeof first === 'string') return first;
  }
  if ('properties' in schema) return 'object';
  if ('items' in schema || 'prefixItems' in schema) return 'array';
  return 'string';
}

function stringFor(schema: Schema, nextString: StringSource): string {
  const format = schema['format'];
  let value =
    typeof format === 'string' && FORMAT_EXAMPLES[format] !== undefined
      ? FORMAT_EXAMPLES[format]
      : nextString();
  const min = schema['minLength'];
  const max = schema['maxLength'];
  if (typeof min === 'number' && value.length < min) value = value.padEnd(min, 'x');
  if (typeof max === 'number' && value.length > max) value = value.slice(0, max);
  return value;
}

function numberFor(schema: Schema): number {
  const integer = schema['type'] === 'integer';
  const step = integer ? 1 : 0.5;
  let value = typeof schema['multipleOf'] === 'number' ? schema['multipleOf'] : 1;
  const min = schema['minimum'];
  const exclusiveMin = schema['exclusiveMinimum'];
  const max = schema['maximum'];
  const exclusiveMax = schema['exclusiveMaximum'];
  if (typeof min === 'number' && value < min) value = min;
  if (typeof exclusiveMin === 'number' && value <= exclusiveMin) value = exclusiveMin + step;
  if (typeof max === 'number' && value > max) value = max;
  if (typeof exclusiveMax === 'number' && value >= exclusiveMax) value = exclusiveMax - step;
  return integer ? Math.ceil(value) : value;
}

function resolveRef(ref: string, root: Schema): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return {};
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : undefined;
  }
  return node ?? {};
}

function mergeSchemas(schemas: Schema[]): Schema {
  const merged: Schema = {};
  const properties: Schema = {};
  const required: string[] = [];
  for (const s of schemas) {
    Object.assign(merged, s);
    if (isObject(s['properties'])) Object.assign(properties, s['properties']);
    if (Array.isArray(s['required'])) required.push(...(s['required'] as string[]));
  }
  if (Object.keys(properties).length > 0) merged['properties'] = properties;
  if (required.length > 0) merged['required'] = [...new Set(required)];
  else delete merged['required'];
  return merged;
}

function isObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
