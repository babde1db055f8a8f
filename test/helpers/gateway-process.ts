import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';

/**
 * A Switchyard gateway as a real child process (`switchyard serve -c <file>`), for kill -9,
 * SIGTERM and crash checks (the fault tests and scripts/chaos.ts). Node runs the sources with
 * the repository's tsx as loader, so one process gets the signals.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** A running gateway child. */
export interface GatewayProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null after a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether the process ended without being told to (a crash). */
  crashed(): boolean;
  /** Whether it was told to stop (SIGKILL or SIGTERM sent). */
  told(): boolean;
  kill9(): Promise<void>;
  /** SIGTERM, then waits for the exit (the drain). */
  terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Writes `config` (with server.port set to a free port) to `<dir>/<name>.yaml` and starts
 * `switchyard serve` on it; resolves once it answers /healthz.
 */
export async function startGatewayProcess(
  dir: string,
  name: string,
  config: Record<string, unknown>,
  options: { port?: number; timeoutMs?: number } = {},
): Promise<GatewayProcess> {
  const port = options.port ?? (await freePort());
  const file = join(dir, `${name}.yaml`);
  const server = (config['server'] as Record<string, unknown> | undefined) ?? {};
  writeFileSync(file, YAML.stringify({ ...config, server: { ...server, port } }));
  const env = { ...process.env };
  delete env['SWITCHYARD_CONFIG'];
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, 'serve', '-c', file], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (data: Buffer) => {
    output += data.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let told = false;
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((how) => {
    ended = how;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  for (;;) {
    if (ended)
      throw new Error(
        `gateway ${name} exited at start (code ${ended.code}, signal ${ended.signal}):\n${output}`,
      );
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway ${name} did not start:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    url,
    port,
    child,
    output: () => output,
    exited,
    crashed: () => ended !== undefined && !told,
    told: () => told,
    async kill9() {
      told = true;
      child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      told = true;
      child.kill('SIGTERM');
      return exited;
    },
  };
}
