import type pg from 'pg';
import type { GatewayProcess } from '../../test/helpers/gateway-process.js';

/** What the fault steps of scripts/chaos.ts get: the replicas, a direct store client, the log. */
export interface Rig {
  /** The replicas (undefined before the first start). */
  readonly replicas: ReadonlyArray<GatewayProcess | undefined>;
  /** Starts replica `index` (same port and replicaId as before); joins a start in progress. */
  start(index: number): Promise<void>;
  /** Replica `index` once it runs (waits for a restart in progress, starts it if it is down). */
  live(index: number): Promise<GatewayProcess>;
  /** Postgres directly, not through the breakable proxy. */
  pg: pg.Pool;
  master: string;
  /** A tenant key for background runs. */
  runKey: string;
  log(text: string): void;
  /** Records a step's expected outcome (printed at once and in the final summary). */
  check(step: string, ok: boolean, detail: string): void;
}

/** One recorded check. */
export interface Check {
  step: string;
  ok: boolean;
  detail: string;
}

/** Whether a replica process is running and not being stopped. */
export function alive(replica: GatewayProcess | undefined): replica is GatewayProcess {
  return (
    replica !== undefined &&
    replica.child.exitCode === null &&
    replica.child.signalCode === null &&
    !replica.told()
  );
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** Polls `probe` every `everyMs` until it returns a value, or undefined after `timeoutMs`. */
export async function poll<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 100,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** A JSON request with a timeout; resolves status, headers and text (never throws on HTTP errors). */
export async function call(
  url: string,
  options: { key: string; body?: unknown; method?: string; timeoutMs?: number },
): Promise<{ status: number; text: string; headers: Headers; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: {
      authorization: `Bearer ${options.key}`,
      ...(options.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    headers: response.headers,
    ms: performance.now() - started,
  };
}
