import { Redis } from 'ioredis';
import pg from 'pg';
import { merged } from '../../core/objects.js';

/**
 * Messages about background runs between the replicas that share one store: a cancel sent to
 * any replica reaches the run's owner at once (rather than at its next lease renewal, a third
 * of the lease later), and a replica that hands its runs over on shutdown tells the others to
 * look for them now (rather than at their next worker tick).
 *
 * Redis pub/sub when Redis is configured, else Postgres LISTEN/NOTIFY when the store is
 * Postgres, else nothing crosses the process (a single SQLite process has no one to tell; its
 * own runs are reached directly). The bus is only a shortcut: losing it (Redis or the
 * listening connection down) leaves the lease renewals and the worker's polling, which were
 * the only path before.
 */

/** `cancel`: the owner of `id` should stop it; `released`: runs were handed over, claim them. */
export type RunMessage = { kind: 'cancel'; id: string } | { kind: 'released' };

/** A channel shared by every replica of one deployment. */
export interface RunBus {
  /** Which transport carries the messages (`local` reaches this process only). */
  readonly kind: 'redis' | 'postgres' | 'local';
  /** Connects and subscribes; failures are reported to `onError` and leave polling in charge. */
  start(onMessage: (message: RunMessage) => void): Promise<void>;
  /** Sends to every replica (this one included); never throws. */
  publish(message: RunMessage): Promise<void>;
  close(): Promise<void>;
}

/** Where the bus runs: the configured Redis URL, else the store URL. */
export interface RunBusOptions {
  redis?: string | undefined;
  /** Prefix of the Redis channel (config `redisPrefix`). */
  redisPrefix?: string;
  store: string;
  onError: (error: unknown, what: string) => void;
  /** Timeout of connecting and of each command, ms. Default 5 000. */
  timeoutMs?: number;
}

/** Postgres channel names are identifiers; one per database is enough (the store is the deployment). */
const PG_CHANNEL = 'switchyard_agent_runs';

/** Picks Redis, Postgres or a local bus from the config (see the module comment). */
export function createRunBus(options: RunBusOptions): RunBus {
  if (options.redis) return redisBus(options.redis, options);
  if (/^postgres(ql)?:\/\//.test(options.store)) return postgresBus(options.store, options);
  return localBus();
}

/** Reaches this process only. */
export function localBus(): RunBus {
  let handler: ((message: RunMessage) => void) | undefined;
  return {
    kind: 'local',
    async start(onMessage) {
      handler = onMessage;
    },
    async publish(message) {
      // Delivered asynchronously, as the other buses deliver, so callers see one behaviour.
      queueMicrotask(() => handler?.(message));
    },
    async close() {
      handler = undefined;
    },
  };
}

function parse(text: string): RunMessage | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (value['kind'] === 'released') return { kind: 'released' };
    if (value['kind'] === 'cancel' && typeof value['id'] === 'string')
      return { kind: 'cancel', id: value['id'] };
  } catch {
    // Not ours: ignored.
  }
  return undefined;
}

function redisBus(url: string, options: RunBusOptions): RunBus {
  const channel = `${options.redisPrefix ?? 'switchyard:'}agent-runs`;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const common = {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
  } as const;
  // A publish while Redis is down fails at once instead of queueing: polling covers it.
  const publisher = new Redis(url, merged(common, { enableOfflineQueue: false }));
  const subscriber = new Redis(url, merged(common, { commandTimeout: undefined }));
  publisher.on('error', (error) => options.onError(error, 'run bus (redis publisher)'));
  subscriber.on('error', (error) => options.onError(error, 'run bus (redis subscriber)'));
  return {
    kind: 'redis',
    async start(onMessage) {
      subscriber.on('message', (_channel: string, text: string) => {
        const message = parse(text);
        if (message) onMessage(message);
      });
      try {
        await Promise.all([publisher.connect(), subscriber.connect()]);
        await subscriber.subscribe(channel);
      } catch (error) {
        // ioredis keeps reconnecting (and resubscribes once it is back).
        options.onError(error, 'run bus (redis) not connected; cancels and handovers poll');
      }
    },
    async publish(message) {
      try {
        await publisher.publish(channel, JSON.stringify(message));
      } catch (error) {
        options.onError(error, 'run bus (redis) publish failed');
      }
    },
    async close() {
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}

function postgresBus(url: string, options: RunBusOptions): RunBus {
  const timeoutMs = options.timeoutMs ?? 5_000;
  let listener: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let handler: ((message: RunMessage) => void) | undefined;
  /** Opens the LISTEN connection; after a failure or a drop, tries again every second. */
  const listen = async (): Promise<void> => {
    if (closed) return;
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
    });
    const again = (error: unknown) => {
      if (listener === client) listener = undefined;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (closed) return;
      options.onError(error, 'run bus (postgres listener) lost; reconnecting');
      retry ??= setTimeout(() => {
        retry = undefined;
        void listen();
      }, 1_000);
    };
    client.on('error', again);
    client.on('end', () => {
      if (listener === client) again(new Error('connection ended'));
    });
    client.on('notification', (note) => {
      const message = note.payload === undefined ? undefined : parse(note.payload);
      if (message) handler?.(message);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${PG_CHANNEL}`);
      if (closed) {
        await client.end();
        return;
      }
      listener = client;
    } catch (error) {
      again(error);
    }
  };

  return {
    kind: 'postgres',
    async start(onMessage) {
      handler = onMessage;
      closed = false;
      await listen();
    },
    async publish(message) {
      // NOTIFY goes out on the listening connection: it is open already (no connect on the
      // cancel's path) and the store's pool, which may be busy, is not in the way.
      try {
        if (!listener) throw new Error('not connected');
        await listener.query('select pg_notify($1, $2)', [PG_CHANNEL, JSON.stringify(message)]);
      } catch (error) {
        options.onError(error, 'run bus (postgres) notify failed');
      }
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => undefined);
    },
  };
}
