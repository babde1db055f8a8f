import YAML from 'yaml';
import { type Config, ConfigError, configSchema, crossCheck } from '../config/index.js';

/**
 * Alternative agreements for a what-if: a YAML document with the shape of the config's
 * `partners`, `providers` and `models` sections (any of them). Each entry replaces the entry of
 * the same name in the current config (partner by partner, provider by provider, model by model,
 * a model with all its deployments); an entry set to `null` removes it. Entries are validated
 * with the config's own schema and the merged config with its cross-checks, so a what-if file
 * accepts exactly what `switchyard config check` accepts there.
 *
 * `${ENV}` references are not resolved: the what-if never calls a cloud, so it needs no secret.
 *
 * @example
 * const alternative = alternativeConfig(config, 'partners:\n  azure:\n    license: {until: 2026-06-01}\n');
 */

/** Sections an alternative-agreements file may carry. */
export const ALTERNATIVE_SECTIONS = ['partners', 'providers', 'models'] as const;
type Section = (typeof ALTERNATIVE_SECTIONS)[number];

/** Reads alternative agreements (YAML or JSON text) and returns the current config with them applied. */
export function alternativeConfig(current: Config, text: string): Config {
  return mergeAlternative(current, parseDocument(text));
}

/** Applies an already-parsed alternative document to `current`. Throws a {@link ConfigError}. */
export function mergeAlternative(current: Config, document: unknown): Config {
  if (document === null || document === undefined) return current;
  if (typeof document !== 'object' || Array.isArray(document))
    throw new ConfigError([{ path: '(root)', message: 'expected a mapping of sections' }]);
  const problems: Array<{ path: string; message: string }> = [];
  const root = document as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!(ALTERNATIVE_SECTIONS as readonly string[]).includes(key))
      problems.push({
        path: key,
        message: `not an agreements section (expected ${ALTERNATIVE_SECTIONS.join(', ')})`,
      });
  }
  const merged: Config = { ...current };
  for (const section of ALTERNATIVE_SECTIONS) {
    const value = root[section];
    if (value === undefined) continue;
    const entries = mergeSection(current, section, value, problems);
    if (entries) Object.assign(merged, { [section]: entries });
  }
  for (const [path, message] of crossCheck(merged)) problems.push({ path, message });
  if (problems.length > 0) throw new ConfigError(problems);
  return merged;
}

function mergeSection(
  current: Config,
  section: Section,
  value: unknown,
  problems: Array<{ path: string; message: string }>,
): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path: section, message: 'expected a mapping' });
    return undefined;
  }
  const removed = new Set<string>();
  const replaced: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (entry === null) removed.add(name);
    else replaced[name] = entry;
  }
  const result = configSchema.shape[section].safeParse(replaced);
  if (!result.success) {
    for (const issue of result.error.issues)
      problems.push({
        path: [section, ...issue.path.map(String)].join('.'),
        message: issue.message,
      });
    return undefined;
  }
  const entries: Record<string, unknown> = { ...current[section] };
  for (const name of removed) delete entries[name];
  Object.assign(entries, result.data);
  return entries;
}

/** YAML (JSON is YAML) with the config loader's rule: decimals stay exact strings. */
function parseDocument(text: string): unknown {
  const document = YAML.parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0)
    throw new ConfigError(
      document.errors.map((error) => ({ path: '(yaml)', message: error.message })),
    );
  YAML.visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && typeof node.source === 'string') {
        if (!Number.isSafeInteger(node.value) || /[.eE]/.test(node.source))
          node.value = node.source;
      }
    },
  });
  return document.toJS();
}
