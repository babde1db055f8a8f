import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../fakes/upstream.js';
import { streamRequest } from '../helpers/sse.js';

/**
 * The `switchyard` command as a real child process: `serve --sandbox` drains in-flight streams
 * on SIGTERM and exits 0; `config check` reports every problem with its path. The children run
 * concurrently: each spends a few seconds of CPU loading the sources through tsx, more on a busy
 * machine, hence the generous timeouts.
 */

const TIMEOUT_MS = 90_000;

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
// `npx tsx main.ts` without the tsx parent process: node itself, with the repository's tsx as
// loader. One process gets the signal: the tsx CLI relays SIGTERM to its child and SIGKILLs it
// when the child is slow to acknowledge (30 ms), which a busy machine turns into a cut stream.
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

let workdir: string;
beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'));
});
afterAll(() => {
  rmSync(workdir, { recursive: true, force: true });
});

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['SWITCHYARD_CONFIG'];
  delete env['SWITCHYARD_MASTER_KEY'];
  return env;
}

function run(
  args: string[],
): ChildProcess & { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, ...args], {
    cwd: workdir,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (data: Buffer) => void (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => void (output += data.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return Object.assign(child, { output: () => output, exited });
}

async function waitFor(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Polls until a connection to `port` is refused; resolves with the performance.now() of that (Infinity after 30 s). */
async function firstRefusal(port: number): Promise<number> {
  const deadline = performance.now() + 30_000;
  while (!(await connectionRefused(port))) {
    if (performance.now() > deadline) return Number.POSITIVE_INFINITY;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now();
}

describe.concurrent('switchyard serve --sandbox', () => {
  it(
    'on SIGTERM finishes the in-flight stream, refuses new connections and exits 0',
    async () => {
      const port = await closedPort();
      const child = run(['serve', '--sandbox', '--port', String(port), '--token-delay-ms', '20']);
      try {
        await waitFor(
          () => {
            if (child.exitCode !== null)
              throw new Error(`serve exited with ${child.exitCode}:\n${child.output()}`);
            return child.output().includes('Switchyard listening on');
          },
          TIMEOUT_MS - 10_000,
          () => child.output(),
        );
        expect(child.output()).toContain(`http://127.0.0.1:${port}`);

        // 150 tokens at 20 ms: the stream outlasts the signal's trip through tsx even on a busy machine.
        const words = Array.from({ length: 150 }, (_, i) => `word${i}`).join(' ');
        let signalledAt = 0;
        let refusedAt: Promise<number> | undefined;
        const answer = await streamRequest(
          `http://127.0.0.1:${port}/v1/chat/completions`,
          {
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: `say ${words}` }],
            stream: true,
          },
          {},
          () => {
            if (refusedAt !== undefined) return;
            signalledAt = performance.now();
            child.kill('SIGTERM');
            refusedAt = firstRefusal(port);
          },
        );
        expect(refusedAt).toBeDefined();
        expect(answer.status).toBe(200);
        expect(answer.done).toBe(true);
        expect(answer.error).toBeUndefined();
        expect(answer.chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(
          words,
        );
        // New connections were refused while the stream was still being served.
        const refused = await refusedAt!;
        expect(refused - signalledAt, 'ms from SIGTERM to refusal').toBeLessThan(
          answer.events.at(-1)!.at - signalledAt,
        );
        expect(answer.endedAt - signalledAt, 'ms the stream went on after SIGTERM').toBeGreaterThan(
          500,
        );

        expect(await child.exited, child.output()).toBe(0);
        expect(await connectionRefused(port)).toBe(true);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
    TIMEOUT_MS,
  );
});

describe.concurrent('switchyard config check', () => {
  it(
    'prints every error with its path and exits 1 on a bad file',
    async () => {
      const file = join(workdir, 'bad.yaml');
      writeFileSync(
        file,
        [
          'server:',
          '  port: eighty',
          'routing:',
          '  strategy: fastest',
          'providers:',
          '  p1:',
          '    type: openai',
          '    baseUrl: not-a-url',
          'models:',
          '  chat:',
          '    deployments: []',
          '  gpt-oss-120b:',
          '    deployments:',
          '      - { provider: p1, model: gpt-oss-120b }',
          '      - { provider: bedrok, model: "openai.gpt-oss-120b-1:0" }',
          '',
        ].join('\n'),
      );
      const child = run(['config', 'check', file]);
      expect(await child.exited).toBe(1);
      const lines = child.output().trim().split('\n');
      for (const path of [
        'server.port',
        'routing.strategy',
        'providers.p1.baseUrl',
        'models.chat.deployments',
      ]) {
        expect(
          lines.some((line) => line.startsWith(`${file}: ${path}: `)),
          `${path} in:\n${child.output()}`,
        ).toBe(true);
      }
      // The reference error comes in the same pass as the schema errors (the docs' own example).
      expect(lines).toContain(
        `${file}: models.gpt-oss-120b.deployments[1].provider: unknown provider "bedrok"`,
      );
    },
    TIMEOUT_MS,
  );

  it(
    'exits 0 on a good file',
    async () => {
      const file = join(workdir, 'good.yaml');
      writeFileSync(
        file,
        [
          'providers:',
          '  openai:',
          '    type: openai',
          '    apiKey: sk-test',
          'models:',
          '  gpt-4o-mini:',
          '    deployments:',
          '      - provider: openai',
          '        model: gpt-4o-mini',
          '',
        ].join('\n'),
      );
      const child = run(['config', 'check', file]);
      expect(await child.exited).toBe(0);
      expect(child.output()).toContain(`${file}: ok (1 providers, 1 models)`);
    },
    TIMEOUT_MS,
  );
});
