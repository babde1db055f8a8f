import { invalidRequest } from '../../errors/index.js';
import { merged } from '../../core/objects.js';

/**
 * Converts a JSON Schema (OpenAI tool parameters, `response_format.json_schema.schema`) into
 * Gemini's OpenAPI-subset `Schema`, which rejects unknown keywords such as `additionalProperties`,
 * `$schema` or `$ref` with 400 INVALID_ARGUMENT. We send `parameters` / `responseSchema` (this
 * subset) rather than `parametersJsonSchema` / `responseJsonSchema` because every Gemini model
 * on both the Developer API and Vertex v1 accepts it.
 *
 * - kept: type, format (only where Gemini supports it), title, description, nullable, enum,
 *   items, min/maxItems, properties, required, min/maxProperties, min/maxLength, pattern,
 *   minimum, maximum, anyOf, propertyOrdering, default, example;
 * - rewritten: `$ref` into `$defs`/`definitions` is inlined; `type: [T, 'null']` → `type: T,
 *   nullable: true`; several types → `anyOf`; `const` → `enum`; `oneOf` → `anyOf`; `allOf` is
 *   merged; `required` keeps only declared properties;
 * - removed: everything else (`additionalProperties`, `$schema`, `$id`, `strict`, `examples`, …).
 * A recursive `$ref` cannot be expressed and is rejected with `unsupported_parameter`.
 * https://ai.google.dev/api/caching#Schema
 */

const COPIED = [
  'title',
  'description',
  'nullable',
  'enum',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'propertyOrdering',
  'default',
  'example',
] as const;

const FORMATS: Record<string, string[]> = {
  string: ['enum', 'date-time'],
  number: ['float', 'double'],
  integer: ['int32', 'int64'],
};

type Json = Record<string, unknown>;

/** Returns the Gemini schema for `schema`; `param` names the request field for errors. */
export function toGeminiSchema(schema: Json, param: string): Json {
  const definitions = merged(asObject(schema['definitions']), asObject(schema['$defs']));
  return convert(schema, { definitions, param, stack: [], depth: 0 });
}

/**
 * Deepest schema nesting converted. Bodies are depth-checked at the edge (server.maxJsonDepth),
 * but schemas also come from elsewhere (MCP servers, stored responses): a deeper one is refused
 * as a bad request instead of overflowing the stack.
 */
const MAX_DEPTH = 256;

/** True when the schema is an object with no properties (Gemini wants `parameters` omitted then). */
export function isEmptyObjectSchema(schema: Json): boolean {
  const properties = asObject(schema['properties']);
  return (
    schema['type'] === 'object' &&
    Object.keys(properties).length === 0 &&
    schema['anyOf'] === undefined
  );
}

interface Context {
  definitions: Json;
  param: string;
  stack: string[];
  depth: number;
}

function convert(node: unknown, context: Context): Json {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return {};
  if (context.depth >= MAX_DEPTH)
    throw invalidRequest(
      `JSON schema nested deeper than ${MAX_DEPTH} levels`,
      context.param,
      'unsupported_parameter',
    );
  context.depth++;
  try {
    return convertObject(node as Json, context);
  } finally {
    context.depth--;
  }
}

function convertObject(node: Json, context: Context): Json {
  const schema = node as Json;
  if (typeof schema['$ref'] === 'string') return convertRef(schema, schema['$ref'], context);
  const out: Json = {};
  for (const key of COPIED) if (schema[key] !== undefined) out[key] = schema[key];
  if (schema['const'] !== undefined) out['enum'] = [schema['const']];
  if (Array.isArray(out['enum']) && out['enum'].includes(null)) {
    // Gemini enums hold strings only; a null member means "nullable".
    out['enum'] = out['enum'].filter((value) => value !== null);
    out['nullable'] = true;
  }

  const types = (Array.isArray(schema['type']) ? schema['type'] : [schema['type']]).filter(
    (type): type is string => typeof type === 'string',
  );
  if (types.includes('null')) out['nullable'] = true;
  const concrete = types.filter((type) => type !== 'null');
  if (concrete.length === 1) out['type'] = concrete[0];
  else if (concrete.length > 1)
    out['anyOf'] = concrete.map((type) => convert(merged(schema, { type }), context));
  const format = schema['format'];
  if (
    typeof format === 'string' &&
    concrete.length === 1 &&
    FORMATS[concrete[0]!]?.includes(format)
  )
    out['format'] = format;

  const properties = asObject(schema['properties']);
  if (schema['properties'] !== undefined) {
    const converted: Json = {};
    for (const [name, property] of Object.entries(properties))
      converted[name] = convert(property, context);
    out['properties'] = converted;
  }
  if (Array.isArray(schema['required'])) {
    const required = schema['required'].filter(
      (name): name is string => typeof name === 'string' && name in properties,
    );
    if (required.length > 0) out['required'] = required;
  }
  if (schema['items'] !== undefined && !Array.isArray(schema['items']))
    out['items'] = convert(schema['items'], context);

  const alternatives = [schema['anyOf'], schema['oneOf']].flatMap((list) =>
    Array.isArray(list) ? list : [],
  );
  if (alternatives.length > 0 && out['anyOf'] === undefined) {
    const branches = alternatives.map((branch) => convert(branch, context));
    // `{"type":"null"}` branches become `nullable` on the parent.
    const nonNull = branches.filter(
      (branch) => !(Object.keys(branch).length === 1 && branch['nullable'] === true),
    );
    if (nonNull.length < branches.length) out['nullable'] = true;
    if (nonNull.length === 1) Object.assign(out, nonNull[0]);
    else if (nonNull.length > 1) out['anyOf'] = nonNull;
  }
  if (Array.isArray(schema['allOf'])) {
    for (const part of schema['allOf']) mergeInto(out, convert(part, context));
  }
  return out;
}

/** Inlines a local `$ref`, keeping sibling keywords (`description`) over the target's. */
function convertRef(schema: Json, ref: string, context: Context): Json {
  const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)?.[1];
  const target = name === undefined ? undefined : context.definitions[name];
  if (name === undefined || target === undefined) {
    throw invalidRequest(
      `JSON schema $ref "${ref}" cannot be resolved`,
      context.param,
      'unsupported_parameter',
    );
  }
  if (context.stack.includes(name)) {
    throw invalidRequest(
      `Recursive JSON schema ($ref "${ref}") is not supported by Gemini`,
      context.param,
      'unsupported_parameter',
    );
  }
  const { $ref: _ref, ...siblings } = schema;
  context.stack.push(name);
  try {
    return convert(merged(asObject(target), siblings), context);
  } finally {
    context.stack.pop();
  }
}

function mergeInto(target: Json, source: Json): void {
  for (const [key, value] of Object.entries(source)) {
    if (key === 'properties') target[key] = merged(asObject(target[key]), asObject(value));
    else if (key === 'required')
      target[key] = [...new Set([...((target[key] as string[]) ?? []), ...(value as string[])])];
    else target[key] ??= value;
  }
}

function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Json)
    : {};
}
