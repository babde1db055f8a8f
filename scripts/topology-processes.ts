import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import { createServer } from 'node:net';

/** A child process of the topology, with its output kept for diagnosis. */
export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it wrote (stdout and stderr), newest last. */
  output(): string;
  /** Lines it wrote, in order (stdout and stderr). */
  lines(): string[];
  exited(): boolean;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exit: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 30000); resolves when it has exited. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts a child process; its output is kept (and passed to `onLine` when given). */
export function startService(options: {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  onLine?: ((service: string, line: string) => void) | undefined;
}): Service {
  const child = spawn(options.command, options.args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const take = (data: Buffer) => {
    const text = partial + data.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      options.onLine?.(options.name, line);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  let done = false;
  const exit = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      lines.push(`cannot start ${options.command}: ${error.message}`);
      done = true;
      resolve(null);
    });
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    });
  });
  return {
    name: options.name,
    child,
    output: () => [...lines, partial].join('\n'),
    lines: () => lines,
    exited: () => done,
    exit,
    async stop(graceMs = 30_000) {
      if (done) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `url` until it answers 200; fails early when `service` exits. Times out after `timeoutMs`. */
export async function waitForHttp(
  url: string,
  service: Service,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.exited()) throw new Error(`${service.name} exited:\n${service.output()}`);
    const status = await new Promise<number>((resolve) => {
      const request = get(url, { timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(0));
    });
    if (status === 200) return;
    await new Promise((wake) => setTimeout(wake, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${service.output()}`);
}
