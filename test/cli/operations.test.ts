import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, createUsageRepository, migrate } from '../../src/store/index.js';
import { registerOperationsCommands } from '../../src/cli/operations-commands.js';
import { createProgress } from '../../src/cli/progress.js';
import { AZURE_KEY, type Clouds, OPENAI_KEY, startClouds } from '../helpers/gateway.js';

/** Runs `switchyard <args>` with only the operations commands, capturing output and exit code. */
async function run(args: string[]) {
  let out = '';
  let err = '';
  const progressLines: string[] = [];
  const progress = Object.assign(
    new Writable({
      write: (chunk, _encoding, done) => (progressLines.push(String(chunk)), done()),
    }),
    { isTTY: false },
  );
  const program = new Command('switchyard')
    .exitOverride()
    .configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  registerOperationsCommands(program, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    progress,
  });
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'switchyard', ...args]);
  } catch (error) {
    if ((error as { code?: string }).code !== 'commander.helpDisplayed') throw error;
  }
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { out, err, code, progress: progressLines.join('') };
}

describe('switchyard doctor', () => {
  let clouds: Clouds;
  let dir: string;
  beforeAll(async () => {
    clouds = await startClouds();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-doctor-'));
  });
  afterAll(() => clouds.close());

  const write = (name: string, providers: string, extra = '') => {
    const path = join(dir, name);
    writeFileSync(
      path,
      `store: sqlite:${join(dir, `${name}.db`)}\n${extra}providers:\n${providers}models:\n  chat:\n    deployments:\n      - { provider: good, model: gpt-4o-mini }\n      - { provider: bad, model: gpt-4o-mini }\n  embed:\n    kind: embedding\n    deployments:\n      - { provider: good, model: text-embedding-3-small }\n`,
    );
    return path;
  };

  it('prints a table of what works and exits 0 when all is well', async () => {
    const path = write(
      'ok.yaml',
      `  good: { type: openai, baseUrl: "${clouds.openai.url}/v1", apiKey: "${OPENAI_KEY}" }\n  bad: { type: azure-openai, baseUrl: "${clouds.azure.url}", apiKey: "${AZURE_KEY}", apiVersion: "2024-10-21" }\n`,
    );
    const result = await run(['doctor', '--config', path]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^CHECK\s+STATUS\s+MS\s+DETAIL/);
    expect(result.out).toMatch(/provider good\s+✔ ok\s+\d+\s+openai gpt-4o-mini: HTTP 200/);
    expect(result.out).toMatch(/provider bad\s+✔ ok/);
    expect(result.out).toMatch(/store\s+! warn.*does not exist yet/);
    expect(result.out).toMatch(/redis\s+- skipped/);
    expect(result.out).toContain('All checks passed.');
  });

  it('names what failed and why, and exits 1', async () => {
    const path = write(
      'bad.yaml',
      `  good: { type: openai, baseUrl: "${clouds.openai.url}/v1", apiKey: "${OPENAI_KEY}" }\n  bad: { type: azure-openai, baseUrl: "${clouds.azure.url}", apiKey: "wrong-key-0000000", apiVersion: "2024-10-21" }\n  gone: { type: openai, baseUrl: "http://127.0.0.1:1/v1", apiKey: "x" }\n`,
      'redis: redis://127.0.0.1:1\n',
    );
    const result = await run(['doctor', '--config', path, '--json', '--timeout-ms', '3000']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.out);
    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(
      report.checks.map((check: { name: string }) => [check.name, check]),
    );
    expect(byName['provider good'].status).toBe('ok');
    expect(byName['provider bad']).toMatchObject({ status: 'failed' });
    expect(byName['provider bad'].detail).toMatch(/401/);
    expect(byName['provider gone']).toMatchObject({ status: 'skipped' });
    expect(byName['redis'].status).toBe('failed');
  });

  it('reports config errors with their paths', async () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, 'routing: { strategy: fastest }\n');
    const result = await run(['doctor', '--config', path]);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/config\s+✘ failed\s+.*routing\.strategy/);
  });

  it('has --help', async () => {
    expect((await run(['doctor', '--help'])).out).toContain('--timeout-ms');
    expect((await run(['rollups', 'backfill', '--help'])).out).toContain('--from <date>');
  });
});

describe('switchyard rollups backfill', () => {
  it('rebuilds roll-ups from the store with a progress bar', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-backfill-'));
    const store = `sqlite:${join(dir, 'store.db')}`;
    const database = await createDatabase(store);
    await migrate(database);
    const usage = createUsageRepository(database);
    const now = Date.now();
    for (let i = 0; i < 50; i++) {
      await usage.record({
        requestId: `req_${i}`,
        createdAt: now - i * 3_600_000,
        tenantId: 't',
        projectId: 'p',
        keyId: null,
        surface: 'openai-chat',
        modelRequested: 'chat',
        model: 'chat',
        deployment: 'good',
        upstreamModel: 'm',
        partner: null,
        attempts: 1,
        attemptLog: [],
        inputTokens: 1,
        cachedInputTokens: 0,
        outputTokens: 1,
        reasoningTokens: 0,
        latencyMs: 5,
        ttfbMs: null,
        status: 'ok',
        httpStatus: 200,
        errorCode: null,
        stream: false,
        sandbox: false,
        metadata: null,
      });
    }
    await database.close();
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      `store: ${store}\nproviders:\n  good: { type: openai, baseUrl: "http://127.0.0.1:1/v1", apiKey: x }\nmodels:\n  chat:\n    deployments: [{ provider: good, model: m }]\n`,
    );
    const result = await run(['rollups', 'backfill', '--config', path]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/Rebuilt roll-ups from 50 usage events/);
    expect(result.progress).toMatch(/backfill \[█+░*\]\s+\d+%\s+\d+\/50/);
    expect(result.progress).toMatch(/100%\s+50\/50/);
  });
});

describe('switchyard migrate', () => {
  it('applies pending migrations with a progress bar, then finds the store up to date', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-migrate-'));
    const path = join(dir, 'config.yaml');
    writeFileSync(path, `store: sqlite:${join(dir, 'store.db')}\n`);
    const first = await run(['migrate', '--config', path]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^Applied \d+ migration\(s\): 0001-usage-events, /);
    expect(first.out).toContain('0007-telemetry');
    expect(first.progress).toMatch(/migrate \[█+\] 100%/);
    expect((await run(['migrate', '--config', path, '--json'])).out).toBe(
      '{\n  "applied": []\n}\n',
    );
  });
});

describe('progress bars', () => {
  it('redraw in place on a terminal and print one line per 10% elsewhere', () => {
    const written: string[] = [];
    const stream = Object.assign(
      new Writable({ write: (chunk, _encoding, done) => (written.push(String(chunk)), done()) }),
      { isTTY: true },
    );
    let time = 0;
    const bar = createProgress({ label: 'export', total: 200, stream, now: () => (time += 200) });
    bar.update(50);
    bar.update(200);
    bar.done();
    expect(written[0]).toMatch(/^\rexport \[██████░+\] {2}25% {2}50\/200/);
    expect(written.at(-1)).toMatch(/done in/);
    const lines: string[] = [];
    const plain = Object.assign(
      new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }),
      { isTTY: false },
    );
    const quiet = createProgress({ label: 'import', total: 1000, stream: plain });
    for (let i = 1; i <= 1000; i++) quiet.update(i);
    expect(lines).toHaveLength(11); // 0%, 10%, …, 100%
  });
});
