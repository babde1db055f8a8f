import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MASTER_KEY } from './load.js';

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * `switchyard serve` from `root`'s dist/ (as `npm start` runs it) with `server.workers: workers`,
 * the bench config (SQLite in `directory`, master key, one `openai` provider at `upstream`),
 * started and listening. Its stdout goes nowhere; what it printed to stderr is in the error if it
 * does not start within two minutes.
 */
export async function startServe(options: {
  root: string;
  directory: string;
  label: string;
  workers: number;
  upstream: string;
  logLevel?: string;
}): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const config = join(options.directory, `${options.label}-${options.workers}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: '127.0.0.1', port, workers: options.workers },
      store: `sqlite:${join(options.directory, `${options.label}-${options.workers}.db`)}`,
      auth: { masterKey: MASTER_KEY },
      ...(options.logLevel && { logging: { level: options.logLevel } }),
      providers: {
        fake: { type: 'openai', baseUrl: `${options.upstream}/v1`, apiKey: 'sk-upstream' },
      },
      models: { 'bench-model': { deployments: [{ provider: 'fake', model: 'gpt-bench' }] } },
    }),
  );
  const child = spawn(
    process.execPath,
    [join(options.root, 'dist/cli/main.js'), 'serve', '--config', config],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SWITCHYARD_MASTER_KEY: '' } },
  );
  let errors = '';
  child.stderr!.on('data', (data: Buffer) => {
    errors += data.toString();
  });
  const deadline = Date.now() + 120_000;
  while (!errors.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`switchyard workers=${options.workers} did not start: ${errors}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, child };
}
