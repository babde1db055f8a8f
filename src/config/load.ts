import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { type Config, configSchema, crossCheck } from './schema.js';

/** A config that failed validation; `problems` lists every error with the path of the bad field. */
export class ConfigError extends Error {
  readonly problems: Array<{ path: string; message: string }>;
  constructor(problems: Array<{ path: string; message: string }>) {
    super(problems.map((problem) => `${problem.path || '(root)'}: ${problem.message}`).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Parses YAML text into a validated, frozen Config.
 * - `${NAME}` anywhere in a string value is replaced by that environment variable; a missing
 *   variable is an error naming it and the field.
 * - Numbers with a fraction or beyond 2^53 are kept as their source text, so decimals are exact.
 */
export function parseConfig(text: string, env: Record<string, string | undefined> = {}): Config {
  const document = YAML.parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => ({ path: '(yaml)', message: error.message })),
    );
  }
  YAML.visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && typeof node.source === 'string') {
        if (!Number.isSafeInteger(node.value) || /[.eE]/.test(node.source))
          node.value = node.source;
      }
    },
  });
  const raw: unknown = document.toJS() ?? {};
  return validateConfig(raw, env);
}

/** Validates an already-parsed object (env interpolation included). */
export function validateConfig(raw: unknown, env: Record<string, string | undefined> = {}): Config {
  const problems: Array<{ path: string; message: string }> = [];
  const interpolated = interpolate(raw, '', env, problems);
  const result = configSchema.safeParse(interpolated);
  if (!result.success) {
    for (const issue of result.error.issues)
      problems.push({ path: formatPath(issue.path), message: issue.message });
  }
  // References are checked even when the schema failed, on the raw shape, so one pass reports
  // every error (an operator fixing a file should not discover a second batch after the first).
  const references = crossCheck(result.success ? result.data : interpolated);
  for (const [path, message] of references) problems.push({ path, message });
  if (problems.length > 0 || !result.success) throw new ConfigError(sortByPath(problems));
  return deepFreeze(result.data);
}

/** Reads and validates a config file. */
export function loadConfigFile(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      { path: '(file)', message: `cannot read ${path}: ${(error as Error).message}` },
    ]);
  }
  return parseConfig(text, env);
}

function interpolate(
  value: unknown,
  path: string,
  env: Record<string, string | undefined>,
  problems: Array<{ path: string; message: string }>,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined) {
        problems.push({
          path: path || '(root)',
          message: `environment variable ${name} is not set`,
        });
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value))
    return value.map((item, index) => interpolate(item, `${path}[${index}]`, env, problems));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolate(item, path ? `${path}.${key}` : key, env, problems);
    }
    return out;
  }
  return value;
}

/**
 * Orders problems by path, keeping each path's own order, so the schema's and the references'
 * errors about one section are printed together.
 */
function sortByPath(
  problems: Array<{ path: string; message: string }>,
): Array<{ path: string; message: string }> {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) =>
      a.problem.path === b.problem.path
        ? a.index - b.index
        : a.problem.path < b.problem.path
          ? -1
          : 1,
    )
    .map(({ problem }) => problem);
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
