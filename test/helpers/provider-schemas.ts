import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2019, type ErrorObject } from 'ajv/dist/2019.js';

/**
 * Validators for upstream request bodies against the providers' published request shapes
 * (extracted from ../shared/specs by scripts/extract-provider-specs.ts into test/fixtures/specs):
 * OpenAI's and Azure OpenAI's chat request (OpenAPI, checked with ajv) and Bedrock's
 * ConverseRequest (the Smithy model, walked by hand). Both are strict: a member the spec does
 * not declare is an error, as it is for the real services (OpenAI answers 400 to unknown
 * message fields, Bedrock to unknown members).
 */

type Json = Record<string, unknown>;
const DIR = join(import.meta.dirname, '..', 'fixtures', 'specs');

/** Checks one body; returns the problems found (empty when it conforms). */
export type BodyValidator = (body: unknown) => string[];

/** OpenAI's `CreateChatCompletionRequest`, strict. */
export function openAIChatValidator(flavor: 'openai' | 'azure'): BodyValidator {
  const file = flavor === 'openai' ? 'openai-chat-request.json' : 'azure-chat-request.json';
  const spec = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as {
    root: string;
    schemas: Record<string, Json>;
  };
  const inAllOf = new Set<string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) collect(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = node as Json;
    for (const member of (record['allOf'] as Json[] | undefined) ?? [])
      if (typeof member['$ref'] === 'string') inAllOf.add(member['$ref'].split('/').pop() ?? '');
    for (const value of Object.values(record)) collect(value);
  };
  collect(spec.schemas);
  const $defs: Record<string, unknown> = {};
  const dispatch = new Set<string>();
  for (const [name, schema] of Object.entries(spec.schemas)) {
    $defs[name] = toJsonSchema(schema, !inAllOf.has(name));
    // A base type whose subtypes are named in its discriminator mapping (Azure): a reference to
    // it means "one of the subtypes", which are the ones that close the object.
    const mapping = (schema['discriminator'] as { mapping?: Record<string, string> } | undefined)
      ?.mapping;
    if (mapping) {
      dispatch.add(name);
      $defs[`${name}$dispatch`] = {
        oneOf: Object.values(mapping).map((ref) => ({ $ref: `#/$defs/${ref.split('/').pop()}` })),
      };
    }
  }
  redirect($defs, dispatch, false);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile({ $defs, $ref: `#/$defs/${spec.root}` });
  return (body) =>
    validate(body)
      ? []
      : (validate.errors ?? []).map(
          (error: ErrorObject) =>
            `${error.instancePath || '/'} ${error.message ?? ''}${
              error.params && 'unevaluatedProperty' in error.params
                ? `: ${String(error.params['unevaluatedProperty'])}`
                : ''
            }`,
        );
}

/** Points references to a dispatching base (outside allOf) at its `$dispatch` oneOf. */
function redirect(node: unknown, dispatch: ReadonlySet<string>, inAllOf: boolean): void {
  if (Array.isArray(node)) {
    for (const item of node) redirect(item, dispatch, inAllOf);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Json;
  const ref = record['$ref'];
  if (!inAllOf && typeof ref === 'string' && dispatch.has(ref.slice('#/$defs/'.length)))
    record['$ref'] = `${ref}$dispatch`;
  for (const [key, value] of Object.entries(record)) {
    if (key === '$ref') continue;
    redirect(value, dispatch, key === 'allOf');
  }
}

/**
 * OpenAPI 3.0 → JSON Schema 2019-09: `nullable`, `#/components/schemas` refs, and strictness
 * (`unevaluatedProperties: false` on every object that declares properties, except the parts of
 * an allOf, which the allOf's owner closes instead).
 */
function toJsonSchema(node: unknown, close: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => toJsonSchema(item, true));
  if (node === null || typeof node !== 'object') return node;
  const source = node as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'discriminator' || key === 'nullable' || key.startsWith('x-')) continue;
    if (key === '$ref' && typeof value === 'string')
      out[key] = `#/$defs/${value.split('/').pop() ?? ''}`;
    else if (key === 'allOf' && Array.isArray(value))
      out[key] = value.map((item) => toJsonSchema(item, false));
    else if (key === 'properties' && value && typeof value === 'object')
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, schema]) => [name, toJsonSchema(schema, true)]),
      );
    else if (key === 'example' || key === 'examples' || key === 'description') continue;
    else out[key] = toJsonSchema(value, true);
  }
  const declaresProperties = source['properties'] !== undefined || source['allOf'] !== undefined;
  if (close && declaresProperties && source['additionalProperties'] === undefined)
    out['unevaluatedProperties'] = false;
  if (source['nullable'] === true) {
    if (typeof out['type'] === 'string') out['type'] = [out['type'], 'null'];
    else return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/** Bedrock `ConverseRequest` (the body; `modelId` is in the URL), strict. */
export function bedrockConverseValidator(): BodyValidator {
  const spec = JSON.parse(readFileSync(join(DIR, 'bedrock-converse-request.json'), 'utf8')) as {
    root: string;
    shapes: Record<string, Json>;
  };
  return (body) => {
    const problems: string[] = [];
    checkShape(spec.shapes, spec.root, body, '', problems, true);
    return problems;
  };
}

const PRELUDE: Record<string, string> = {
  'smithy.api#String': 'string',
  'smithy.api#Boolean': 'boolean',
  'smithy.api#PrimitiveBoolean': 'boolean',
  'smithy.api#Integer': 'integer',
  'smithy.api#PrimitiveInteger': 'integer',
  'smithy.api#Long': 'long',
  'smithy.api#PrimitiveLong': 'long',
  'smithy.api#Float': 'float',
  'smithy.api#Double': 'double',
  'smithy.api#Document': 'document',
  'smithy.api#Blob': 'blob',
  'smithy.api#Timestamp': 'timestamp',
};

function checkShape(
  shapes: Record<string, Json>,
  id: string,
  value: unknown,
  at: string,
  problems: string[],
  httpBody = false,
): void {
  const shape = shapes[id] ?? { type: PRELUDE[id] ?? 'unknown' };
  const traits = (shape['traits'] as Json | undefined) ?? {};
  const fail = (message: string) => problems.push(`${at || '/'}: ${message}`);
  switch (shape['type']) {
    case 'structure': {
      if (!isRecord(value)) return void fail('expected a structure');
      const members = (shape['members'] as Record<string, Json>) ?? {};
      for (const [name, member] of Object.entries(members)) {
        const memberTraits = (member['traits'] as Json | undefined) ?? {};
        const inUrl =
          httpBody &&
          ('smithy.api#httpLabel' in memberTraits ||
            'smithy.api#httpHeader' in memberTraits ||
            'smithy.api#httpQuery' in memberTraits);
        if (!inUrl && 'smithy.api#required' in memberTraits && value[name] === undefined)
          fail(`missing required member ${name}`);
      }
      for (const [name, item] of Object.entries(value)) {
        const member = members[name];
        const memberTraits = (member?.['traits'] as Json | undefined) ?? {};
        if (member === undefined || (httpBody && 'smithy.api#httpLabel' in memberTraits))
          fail(`unknown member ${name}`);
        else checkShape(shapes, String(member['target']), item, `${at}/${name}`, problems);
      }
      return;
    }
    case 'union': {
      if (!isRecord(value)) return void fail('expected a union');
      const members = (shape['members'] as Record<string, Json>) ?? {};
      const set = Object.entries(value).filter(([, item]) => item !== undefined);
      if (set.length !== 1) fail(`a union holds exactly one member (got ${set.length})`);
      for (const [name, item] of set) {
        const member = members[name];
        if (member === undefined) fail(`unknown union member ${name}`);
        else checkShape(shapes, String(member['target']), item, `${at}/${name}`, problems);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) return void fail('expected a list');
      checkLength(traits, value.length, fail);
      const target = String((shape['member'] as Json)['target']);
      for (const [i, item] of value.entries())
        checkShape(shapes, target, item, `${at}/${i}`, problems);
      return;
    }
    case 'map': {
      if (!isRecord(value)) return void fail('expected a map');
      const target = String((shape['value'] as Json)['target']);
      for (const [key, item] of Object.entries(value))
        checkShape(shapes, target, item, `${at}/${key}`, problems);
      return;
    }
    case 'string':
    case 'blob':
      if (typeof value !== 'string') return void fail(`expected a ${shape['type']}`);
      if (shape['type'] === 'string') checkLength(traits, value.length, fail);
      return;
    case 'enum': {
      const allowed = Object.entries((shape['members'] as Record<string, Json>) ?? {}).map(
        ([name, member]) =>
          String((member['traits'] as Json | undefined)?.['smithy.api#enumValue'] ?? name),
      );
      if (typeof value !== 'string' || !allowed.includes(value))
        fail(`expected one of ${allowed.join(', ')}`);
      return;
    }
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value))
        return void fail('expected an integer');
      checkRange(traits, value, fail);
      return;
    case 'float':
    case 'double':
      if (typeof value !== 'number') return void fail('expected a number');
      checkRange(traits, value, fail);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('expected a boolean');
      return;
    case 'timestamp':
      if (typeof value !== 'number' && typeof value !== 'string') fail('expected a timestamp');
      return;
    case 'document':
      return;
    default:
      fail(`unknown shape ${id}`);
  }
}

function checkLength(traits: Json, length: number, fail: (message: string) => void): void {
  const limits = traits['smithy.api#length'] as { min?: number; max?: number } | undefined;
  if (limits?.min !== undefined && length < limits.min) fail(`length below ${limits.min}`);
  if (limits?.max !== undefined && length > limits.max) fail(`length above ${limits.max}`);
}

function checkRange(traits: Json, value: number, fail: (message: string) => void): void {
  const limits = traits['smithy.api#range'] as { min?: number; max?: number } | undefined;
  if (limits?.min !== undefined && value < limits.min) fail(`below ${limits.min}`);
  if (limits?.max !== undefined && value > limits.max) fail(`above ${limits.max}`);
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
