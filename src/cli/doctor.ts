import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Config } from '../config/index.js';
import { toGatewayError } from '../errors/index.js';
import { createAdapters } from '../providers/index.js';
import type { GatewayCall } from '../providers/index.js';
import { createDatabase, MIGRATIONS } from '../store/index.js';
import { createTransport, type Transport } from '../transport/http.js';

/** One line of the doctor's report. */
export interface Check {
  /** What was checked: `config`, `store`, `redis`, `provider <id>`. */
  name: string;
  status: 'ok' | 'failed' | 'skipped' | 'warn';
  detail: string;
  ms: number | null;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  config: Config;
  /** Where the config came from, for the first line. */
  source: string;
  env?: Record<string, string | undefined>;
  /** Per-check timeout, ms. Default 10000. */
  timeoutMs?: number;
  transport?: Transport;
}

/**
 * Checks what a Switchyard needs: the config (already loaded), the store (reachable, migrations
 * applied), Redis (PING), and every provider with a minimal real request through its own adapter
 * (a 1-token chat, or a 1-input embedding, against one of its deployments). Read-only: it
 * neither migrates nor creates files.
 */
export async function runDoctor(options: DoctorOptions): Promise<Check[]> {
  const { config } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const checks: Check[] = [
    {
      name: 'config',
      status: 'ok',
      detail: `${options.source}: ${Object.keys(config.providers).length} providers, ${Object.keys(config.models).length} models`,
      ms: null,
    },
  ];
  checks.push(await timed('store', timeoutMs, () => checkStore(config.store.url)));
  checks.push(
    config.redis
      ? await timed('redis', timeoutMs, () => checkRedis(config.redis!, timeoutMs))
      : {
          name: 'redis',
          status: 'skipped',
          detail: 'not configured (limits, budgets and breakers stay in this process)',
          ms: null,
        },
  );
  const transport = options.transport ?? createTransport({ headersTimeoutMs: timeoutMs });
  try {
    const adapters = createAdapters(config, { env: options.env ?? process.env, now: Date.now });
    const probes = Object.keys(config.providers).map((provider) => {
      const target = probeTarget(config, provider);
      const adapter = adapters.get(provider);
      if (!target || !adapter)
        return Promise.resolve<Check>({
          name: `provider ${provider}`,
          status: 'skipped',
          detail: 'no model is deployed on it',
          ms: null,
        });
      return timed(`provider ${provider}`, timeoutMs, async (signal) => {
        const call: GatewayCall = {
          requestId: 'doctor',
          operation: target.kind === 'embedding' ? 'embeddings' : 'chat',
          body:
            target.kind === 'embedding'
              ? { model: target.model, input: 'ping' }
              : {
                  model: target.model,
                  messages: [{ role: 'user', content: 'ping' }],
                  max_tokens: 1,
                },
          stream: false,
          deployment: { provider, model: target.upstream, api: target.api },
          signal,
        };
        const response = await transport.send(await adapter.buildRequest(call), signal);
        const body = await response.text(64 * 1024);
        if (response.status >= 200 && response.status < 300)
          return `${config.providers[provider]!.type} ${target.upstream}: HTTP ${response.status}`;
        throw adapter.classifyError(
          { status: response.status, headers: response.headers, body },
          call,
        );
      });
    });
    checks.push(...(await Promise.all(probes)));
  } finally {
    if (!options.transport) await transport.close();
  }
  return checks;
}

/** The deployment a provider is probed with: its first chat deployment, else its first embedding one. */
function probeTarget(
  config: Config,
  provider: string,
):
  | {
      model: string;
      upstream: string;
      kind: 'chat' | 'embedding';
      api: 'converse' | 'openai' | undefined;
    }
  | undefined {
  let found: ReturnType<typeof probeTarget>;
  for (const [name, model] of Object.entries(config.models)) {
    for (const deployment of model.deployments) {
      if (deployment.provider !== provider) continue;
      const target = {
        model: name,
        upstream: deployment.model,
        kind: model.kind,
        api: deployment.api,
      };
      if (model.kind === 'chat') return target;
      found ??= target;
    }
  }
  return found;
}

async function checkStore(url: string): Promise<string | { warn: string }> {
  const path = url.startsWith('sqlite:') ? url.replace(/^sqlite:(\/\/)?/, '') : undefined;
  if (path !== undefined && path !== ':memory:' && !existsSync(path))
    return { warn: `${path} does not exist yet (serve creates it)` };
  const database = await createDatabase(url, { onError: () => {} });
  try {
    await sql`select 1`.execute(database.db);
    let applied: string[] = [];
    try {
      applied = (
        await sql<{ name: string }>`select name from switchyard_migrations`.execute(database.db)
      ).rows.map((row) => row.name);
    } catch {
      // no migrations table: a new database
    }
    const pending = MIGRATIONS.filter((migration) => !applied.includes(migration.name)).length;
    const where = path ?? url.replace(/\/\/[^@]*@/, '//***@');
    return pending === 0
      ? `${database.dialect} ${where}: reachable, migrations up to date`
      : {
          warn: `${database.dialect} ${where}: reachable, ${pending} migrations pending (applied at start)`,
        };
  } finally {
    await database.close();
  }
}

async function checkRedis(url: string, timeoutMs: number): Promise<string> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const pong = await redis.ping();
    return `PING → ${pong}`;
  } finally {
    redis.disconnect();
  }
}

/** Runs one check with a timeout; a thrown error becomes `failed` with its message. */
async function timed(
  name: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<string | { warn: string }>,
): Promise<Check> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const result = await Promise.race([
      work(controller.signal),
      new Promise<never>((_, reject) =>
        controller.signal.addEventListener(
          'abort',
          () => reject(controller.signal.reason as Error),
          { once: true },
        ),
      ),
    ]);
    const ms = Math.round(performance.now() - started);
    return typeof result === 'string'
      ? { name, status: 'ok', detail: result, ms }
      : { name, status: 'warn', detail: result.warn, ms };
  } catch (error) {
    return {
      name,
      status: 'failed',
      detail: reason(error),
      ms: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
  }
}

function reason(error: unknown): string {
  const gateway = toGatewayError(error);
  const status = (gateway as { upstreamStatus?: number }).upstreamStatus;
  const cause =
    (error as { cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
  return `${status ? `HTTP ${status} ` : ''}${gateway.code !== 'internal_error' ? `${gateway.code}: ` : ''}${(error as Error).message}${cause && !(error as Error).message.includes(cause) ? ` (${cause})` : ''}`.slice(
    0,
    300,
  );
}
