/**
 * Extracts the request shapes the schema tests check builders against, from the providers'
 * published specs in ../shared/specs, into test/fixtures/specs/ (so the suite does not need the
 * 3 MB OpenAPI file): the closure of each root schema or shape, nothing else.
 *
 *   npx tsx scripts/extract-provider-specs.ts [specs-dir]   (default /work/shared/specs)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const dir = process.argv[2] ?? '/work/shared/specs';
const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'specs');

type Json = Record<string, unknown>;

/** The component schemas reachable from `root` ($ref closure). */
function openApiClosure(schemas: Record<string, Json>, root: string): Record<string, Json> {
  const kept: Record<string, Json> = {};
  const visit = (name: string): void => {
    if (kept[name] !== undefined) return;
    const schema = schemas[name];
    if (schema === undefined) throw new Error(`missing schema ${name}`);
    kept[name] = schema;
    walk(schema);
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') visit(value.split('/').pop() ?? '');
      else if (key === 'mapping' && value && typeof value === 'object')
        // Azure's TypeSpec output names subtypes only in discriminator mappings.
        for (const target of Object.values(value)) visit(String(target).split('/').pop() ?? '');
      else walk(value);
    }
  };
  visit(root);
  return kept;
}

/** The Smithy shapes reachable from `root` (member targets), documentation traits removed. */
function smithyClosure(shapes: Record<string, Json>, root: string): Record<string, Json> {
  const kept: Record<string, Json> = {};
  const visit = (id: string): void => {
    if (kept[id] !== undefined || id.startsWith('smithy.api#')) return;
    const shape = shapes[id];
    if (shape === undefined) throw new Error(`missing shape ${id}`);
    const copy = JSON.parse(
      JSON.stringify(shape, (key, value) =>
        key === 'smithy.api#documentation' || key === 'smithy.api#examples' ? undefined : value,
      ),
    ) as Json;
    kept[id] = copy;
    for (const member of Object.values((copy['members'] as Record<string, Json>) ?? {}))
      visit(String(member['target']));
    for (const key of ['member', 'key', 'value'])
      if (copy[key]) visit(String((copy[key] as Json)['target']));
  };
  visit(root);
  return kept;
}

const openai = parse(readFileSync(join(dir, 'openai-openapi.yaml'), 'utf8')) as Json;
const openaiSchemas = (openai['components'] as Json)['schemas'] as Record<string, Json>;
writeFileSync(
  join(out, 'openai-chat-request.json'),
  `${JSON.stringify({ source: 'openai-openapi.yaml', root: 'CreateChatCompletionRequest', schemas: openApiClosure(openaiSchemas, 'CreateChatCompletionRequest') })}\n`,
);
const azure = JSON.parse(readFileSync(join(dir, 'azure-openai-v1.openapi.json'), 'utf8')) as Json;
const azureSchemas = (azure['components'] as Json)['schemas'] as Record<string, Json>;
writeFileSync(
  join(out, 'azure-chat-request.json'),
  `${JSON.stringify({ source: 'azure-openai-v1.openapi.json', root: 'AzureCreateChatCompletionRequest', schemas: openApiClosure(azureSchemas, 'AzureCreateChatCompletionRequest') })}\n`,
);
const bedrock = JSON.parse(readFileSync(join(dir, 'bedrock-runtime.json'), 'utf8')) as Json;
const root = 'com.amazonaws.bedrockruntime#ConverseRequest';
writeFileSync(
  join(out, 'bedrock-converse-request.json'),
  `${JSON.stringify({ source: 'bedrock-runtime.json', root, shapes: smithyClosure(bedrock['shapes'] as Record<string, Json>, root) })}\n`,
);
console.log(`wrote ${out}`);
