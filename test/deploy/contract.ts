import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { type Config, parseConfig } from '../../src/config/index.js';

/**
 * What the deployment artefacts (deploy/, Dockerfile) must agree with: the config contract
 * (src/config/schema.ts and its sections under src/config/schema/, load.ts) and the environment
 * variables the code reads.
 */

export const ROOT = resolve(import.meta.dirname, '../..');

/** Reads a file of the repository. */
export function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Every YAML document of a file, as plain data (anchors and merge keys resolved). */
export function yamlDocuments(path: string): unknown[] {
  return YAML.parseAllDocuments(readRepoFile(path), { merge: true }).map((document) => {
    if (document.errors.length > 0) throw new Error(`${path}: ${document.errors[0]!.message}`);
    return document.toJS({ maxAliasCount: 100 });
  });
}

/** The `${NAME}` variables a config text interpolates (in values; comments do not count). */
export function configVariables(text: string): Set<string> {
  const values = JSON.stringify(YAML.parse(text));
  return new Set([...values.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!));
}

/**
 * Parses a config text the way the gateway does, with a placeholder value for each `${NAME}`
 * (URL-shaped where the field needs a URL), and throws the ConfigError listing every problem.
 */
export function checkConfig(text: string): Config {
  const env: Record<string, string> = {};
  for (const name of configVariables(text)) {
    env[name] = /STORE_URL$/.test(name)
      ? 'postgres://switchyard:secret@postgres:5432/switchyard'
      : /REDIS_URL$/.test(name)
        ? 'redis://redis:6379'
        : `placeholder-${name.toLowerCase()}`;
  }
  return parseConfig(text, env);
}

/** Environment variables the code itself reads (`env['NAME']` anywhere under src/). */
export function variablesReadBySource(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts'))
        for (const match of readFileSync(path, 'utf8').matchAll(/env\[['"]([A-Z0-9_]+)['"]\]/g))
          names.add(match[1]!);
    }
  };
  walk(join(ROOT, 'src'));
  return names;
}

/** The value following `flag` in an argument list. */
export function argAfter(args: readonly string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index === -1 ? undefined : args[index + 1];
}
