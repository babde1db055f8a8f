/**
 * The production topology on one machine, from Debian's packages: N `switchyard serve` processes
 * behind haproxy, sharing Postgres through PgBouncer in transaction mode, and Redis; an emulated
 * OpenAI cloud as the upstream. The same shape as deploy/compose.yaml and deploy/kubernetes.
 *
 *   npx tsx scripts/topology.ts            # start it, print the addresses, Ctrl-C to stop
 *
 * Needs: haproxy and pgbouncer (`apt-get install -y haproxy pgbouncer`), a Postgres server with
 * trust auth (SWITCHYARD_TEST_PG, default postgres://postgres@127.0.0.1:5432/test) and Redis
 * (SWITCHYARD_TEST_REDIS, default redis://127.0.0.1:6379). Everything it starts listens on
 * loopback, in a fresh database and under a fresh Redis prefix, and is removed by close().
 * test/e2e/topology.test.ts drives it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { type Emulator, startOpenAIEmulator } from '../src/sandbox/openai-emulator.js';
import { freePort, type Service, startService, waitForHttp } from './topology-processes.js';

/** Options of {@link startTopology}. */
export interface TopologyOptions {
  /** Gateway processes. Default 3. */
  replicas?: number;
  /** Delay between streamed tokens of the emulated cloud, ms. Default 5. */
  tokenDelayMs?: number;
  /** Extra top-level config sections (merged over the defaults, as YAML-compatible JSON). */
  config?: Record<string, unknown>;
  /** Where a line of a child's output goes (for debugging). Default: kept in memory only. */
  onLine?: (service: string, line: string) => void;
}

/** One running gateway process of the topology. */
export interface Replica {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** The current process (a restart replaces it). */
  service: Service;
  /** SIGTERM, wait for it to drain and exit, then start it again on the same port; resolves when ready. */
  restart(): Promise<void>;
}

/** The running topology. */
export interface Topology {
  /** haproxy: where clients go. */
  url: string;
  masterKey: string;
  replicas: Replica[];
  /** Direct to Postgres (not through PgBouncer), for checks. */
  databaseUrl: string;
  /** Through PgBouncer (what the gateways use). */
  pgbouncerUrl: string;
  redisPrefix: string;
  upstream: Emulator;
  haproxy: Service;
  pgbouncer: Service;
  close(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..');
const PG_SERVER = process.env['SWITCHYARD_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env['SWITCHYARD_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
const UPSTREAM_KEY = 'sk-topology-upstream-0123456789';

/** Starts the topology; on any failure, stops what it had started and throws. */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-topology-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    // PgBouncer drops root to `nobody` (it refuses to run as root), which must read its files.
    chmodSync(dir, 0o755);

    const upstream = await startOpenAIEmulator({
      flavor: 'openai',
      apiKey: UPSTREAM_KEY,
      tokenDelayMs: options.tokenDelayMs ?? 5,
    });
    cleanups.push(() => upstream.close());

    const database = await createDatabase();
    cleanups.push(database.drop);

    const server = new URL(PG_SERVER);
    const pgbouncerPort = await freePort();
    const user = decodeURIComponent(server.username || 'postgres');
    writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o644 });
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `${database.name} = host=${server.hostname} port=${server.port || 5432} dbname=${database.name}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${pgbouncerPort}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        'default_pool_size = 10',
        'max_client_conn = 500',
        // pg sends these at connect; PgBouncer must not refuse the session for them.
        // statement_timeout and idle_in_transaction_session_timeout come from store.pool (set them
        // on the database or role instead when a pooler sits in front).
        'ignore_startup_parameters = extra_float_digits,options,statement_timeout,idle_in_transaction_session_timeout',
        'server_reset_query =',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    const pgbouncer = startService({
      name: 'pgbouncer',
      command: 'pgbouncer',
      args: [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), join(dir, 'pgbouncer.ini')],
      onLine: options.onLine,
    });
    cleanups.push(async () => void (await pgbouncer.stop()));
    const pgbouncerUrl = `postgres://${encodeURIComponent(user)}@127.0.0.1:${pgbouncerPort}/${database.name}`;
    await waitForPostgres(pgbouncerUrl, pgbouncer);

    const masterKey = `sk-topology-master-${randomBytes(8).toString('hex')}`;
    const redisPrefix = `switchyard-topology:${process.pid}:${randomBytes(4).toString('hex')}:`;
    const configPath = join(dir, 'switchyard.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        server: { host: '127.0.0.1', drainTimeoutMs: 20_000, trustProxy: ['127.0.0.1'] },
        store: pgbouncerUrl,
        redis: REDIS,
        redisPrefix,
        auth: { masterKey },
        logging: { level: 'info' },
        partners: { openai: {} },
        providers: {
          cloud: {
            type: 'openai',
            partner: 'openai',
            baseUrl: `${upstream.url}/v1`,
            apiKey: UPSTREAM_KEY,
          },
        },
        models: {
          'gpt-4o-mini': {
            price: { input: '0.15', output: '0.60' },
            deployments: [{ provider: 'cloud', model: 'gpt-4o-mini' }],
          },
        },
        ...options.config,
      }),
    );

    const count = options.replicas ?? 3;
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const replicas = ports.map((port, index) =>
      createReplica(`gateway-${index + 1}`, port, configPath, options.onLine),
    );
    cleanups.push(async () => void (await Promise.all(replicas.map((r) => r.service.stop()))));
    // All together, as a deployment's first rollout does: the migrations must run once.
    await Promise.all(
      replicas.map((replica) => waitForHttp(`${replica.url}/readyz`, replica.service)),
    );

    const haproxyPort = await freePort();
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig(haproxyPort, ports));
    const haproxy = startService({
      name: 'haproxy',
      command: 'haproxy',
      args: ['-db', '-f', join(dir, 'haproxy.cfg')],
      onLine: options.onLine,
    });
    cleanups.push(async () => void (await haproxy.stop()));
    const url = `http://127.0.0.1:${haproxyPort}`;
    await waitForHttp(`${url}/readyz`, haproxy);

    return {
      url,
      masterKey,
      replicas,
      databaseUrl: database.url,
      pgbouncerUrl,
      redisPrefix,
      upstream,
      haproxy,
      pgbouncer,
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * haproxy in front of the replicas: health checks on /readyz (503 while a replica drains), and a
 * request that cannot reach a replica (refused, or closed before any answer) is sent to another,
 * so a rolling restart costs clients nothing. One request per server connection, so a replica's
 * close never races a request haproxy is about to send on an idle connection.
 */
export function haproxyConfig(port: number, replicaPorts: number[]): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout http-request 10s',
    // Without it a check must finish within `inter`, which a busy machine misses: all DOWN, 503.
    '  timeout check 5s',
    '  option http-server-close',
    '  option forwardfor',
    '  option http-buffer-request',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    'frontend clients',
    `  bind 127.0.0.1:${port}`,
    '  default_backend switchyard',
    'backend switchyard',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  default-server inter 500ms fall 2 rise 2',
    ...replicaPorts.map(
      (replica, index) => `  server gateway-${index + 1} 127.0.0.1:${replica} check`,
    ),
    '',
  ].join('\n');
}

function createReplica(
  name: string,
  port: number,
  configPath: string,
  onLine: TopologyOptions['onLine'],
): Replica {
  const start = () =>
    startService({
      name,
      command: process.execPath,
      args: [
        ...gatewayCommand(),
        'serve',
        '--config',
        configPath,
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
      ],
      onLine,
    });
  const replica: Replica = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    service: start(),
    async restart() {
      await replica.service.stop();
      replica.service = start();
      await waitForHttp(`${replica.url}/readyz`, replica.service);
    },
  };
  return replica;
}

/**
 * How a gateway process is started: the built CLI (`SWITCHYARD_TOPOLOGY_BIN=dist`, as the image
 * runs it) or the sources through tsx (default: no build step, the same code the tests import).
 */
function gatewayCommand(): string[] {
  if (process.env['SWITCHYARD_TOPOLOGY_BIN'] === 'dist') return [join(ROOT, 'bin/switchyard.js')];
  const loader = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  return ['--import', loader, join(ROOT, 'src/cli/main.ts')];
}

async function createDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `switchyard_topology_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: PG_SERVER, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  await admin((client) => client.query(`create database "${name}"`));
  const url = new URL(PG_SERVER);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () =>
      admin(async (client) => {
        await client.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1',
          [name],
        );
        await client.query(`drop database if exists "${name}"`);
      }),
  };
}

async function waitForPostgres(url: string, service: Service): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (service.exited()) throw new Error(`pgbouncer exited:\n${service.output()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch {
      await new Promise((wake) => setTimeout(wake, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(`PgBouncer did not answer at ${url}:\n${service.output()}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const topology = await startTopology({
    onLine: (service, line) => process.stderr.write(`[${service}] ${line}\n`),
  });
  process.stdout.write(
    [
      `haproxy      ${topology.url}`,
      ...topology.replicas.map((replica) => `${replica.name.padEnd(12)} ${replica.url}`),
      `pgbouncer    ${topology.pgbouncerUrl} (transaction mode)`,
      `postgres     ${topology.databaseUrl}`,
      `redis        ${REDIS} (prefix ${topology.redisPrefix})`,
      `master key   ${topology.masterKey}`,
      'Ctrl-C stops everything and drops the database.',
      '',
    ].join('\n'),
  );
  const stop = () => void topology.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
