import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import type { BudgetBucket, BudgetCounters } from '../access/budgets.js';
import { createMemoryBudgets } from '../access/budgets.js';
import { type ConcurrencyGate, createConcurrencyGate } from '../access/concurrency.js';
import { createRateLimits } from '../access/rate-limits.js';
import { createSpendWriter } from '../access/spend-writer.js';
import { createBilling } from '../billing/index.js';
import type { Config } from '../config/index.js';
import {
  accessDb,
  createAccessLedger,
  createDatabase,
  type Database,
  migrate,
  type UsageEvent,
} from '../store/index.js';
import type { Logger } from '../telemetry/logger.js';
import { type Handlers, isMessage, type Message, serveWorker } from './ipc.js';
import { recordMany } from './shared.js';
import { merged } from '../core/objects.js';

/**
 * `server.workers: N` — the primary of a node:cluster set. It serves no HTTP itself; N workers
 * (the same `switchyard serve` command, forked) accept connections on the one port, which the
 * primary hands out round-robin.
 *
 * What must be exact across workers lives here, once:
 * - without Redis: rate-limit windows, concurrency slots, budget counters and budget spend
 *   writes (workers ask over IPC: one round trip per check, the same answers as one process);
 *   breaker transitions and key-cache invalidations are relayed to every other worker;
 * - on SQLite: the usage writer. SQLite has one writer per file, and better-sqlite3 waits for
 *   the file lock synchronously, so N processes writing usage would stall each other's event
 *   loops; here every worker's events share the primary's group commits.
 * With Redis the workers share limits, budgets and breakers through Redis, as replicas on
 * separate hosts do; with Postgres each worker writes its own usage.
 *
 * Signals: SIGTERM/SIGINT drain every worker (each finishes its in-flight requests), then the
 * primary flushes usage and exits; SIGHUP replaces the whole set (the new workers listen before
 * the old ones drain), so the port never stops answering and the counters, held here, carry over. A worker that dies is
 * replaced; what it held (slots, budget reservations) is given back.
 */

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  config: Config;
  workers: number;
  logger: Logger;
}

/** A running primary (tests and the CLI). */
export interface Primary {
  /** Drains and stops every worker, then closes the store. */
  stop(): Promise<void>;
  /** Replaces every worker: a new set listens, then the old set drains. */
  restart(): Promise<void>;
  /** The port the workers listen on (the one chosen when the config says 0). */
  readonly port: number;
}

/** What one worker holds in the primary's counters, given back if it dies. */
interface Holdings {
  slots: Map<string, string[]>;
  reservations: Map<string, { buckets: BudgetBucket[]; amount: bigint }>;
}

/** Starts the primary: opens and migrates the store, forks the workers, handles signals. */
export async function runPrimary(options: PrimaryOptions): Promise<Primary> {
  const { config, logger } = options;
  const database = await createDatabase(config.store);
  await migrate(database);
  const billing = database.dialect === 'sqlite' ? createBilling({ config, database }) : undefined;
  const counters = config.redis ? undefined : counterHandlers(database);
  const holdings = new Map<number, Holdings>();
  const health = new Map<string, unknown>();
  let stopping = false;

  cluster.setupPrimary({ serialization: 'advanced' });

  const relay = (from: Worker, message: Message) => {
    if (message.sy !== 'broadcast') return;
    if (message.topic === 'health') health.set((message.payload as { key: string }).key, message);
    for (const worker of Object.values(cluster.workers ?? {}))
      if (worker && worker !== from && worker.isConnected()) worker.send(message);
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    holdings.set(worker.id, { slots: new Map(), reservations: new Map() });
    serveWorker(
      worker,
      worker.id,
      merged(
        counters?.forWorker(holdings.get(worker.id)!),
        billing && {
          'usage.recordMany': (_worker: number, events: UsageEvent[]) =>
            recordMany((event) => billing.record(event), events),
        },
      ) as Handlers,
    );
    worker.on('message', (message: unknown) => {
      if (isMessage(message)) relay(worker, message);
    });
    // A worker that starts later learns the breakers already open (as shared-health's Redis hash).
    worker.once('online', () => {
      for (const message of health.values()) worker.send(message as Message);
    });
    const started = Date.now();
    worker.once('exit', (code, signal) => {
      void counters?.release(holdings.get(worker.id)!);
      holdings.delete(worker.id);
      if (stopping || worker.exitedAfterDisconnect || replaced.has(worker.id)) return;
      logger.error({ worker: worker.id, code, signal }, 'worker died; starting another');
      // A worker that dies at start-up would otherwise be forked in a tight loop.
      setTimeout(fork, Date.now() - started < 5_000 ? 1_000 : 0).unref();
    });
    return worker;
  };

  const replaced = new Set<number>();
  const drain = async (worker: Worker) => {
    if (worker.isDead()) return;
    replaced.add(worker.id);
    const exited = once(worker, 'exit');
    worker.send({ sy: 'shutdown' } satisfies Message);
    const killer = setTimeout(() => worker.kill('SIGKILL'), config.server.drainTimeoutMs + 10_000);
    await exited;
    clearTimeout(killer);
  };

  const listening = async (worker: Worker): Promise<number> => {
    const [address] = (await once(worker, 'listening')) as [{ port: number }];
    return address.port;
  };
  const first = Array.from({ length: options.workers }, fork);
  const ports = await Promise.all(first.map(listening));
  logger.info({ workers: options.workers }, 'workers listening');

  const primary: Primary = {
    port: ports[0]!,
    async stop() {
      if (stopping) return;
      stopping = true;
      await Promise.all(
        Object.values(cluster.workers ?? {}).map((worker) => worker && drain(worker)),
      );
      await billing?.flush();
      await counters?.flush();
      await database.close();
    },
    async restart() {
      // The whole new set first, then the old one drains: the port keeps answering throughout
      // and capacity never drops (memory doubles for the overlap).
      const old = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      const fresh = old.map(() => fork());
      await Promise.all(fresh.map(listening));
      await Promise.all(old.map(drain));
      logger.info('workers restarted');
    },
  };
  return primary;
}

/** The counters workers share through the primary when there is no Redis. */
function counterHandlers(database: Database) {
  const ledger = createAccessLedger(accessDb(database));
  const rates = createRateLimits();
  const gate: ConcurrencyGate = createConcurrencyGate();
  const budgets: BudgetCounters = createMemoryBudgets((scope, periodStart) =>
    ledger.spent(scope, periodStart),
  );
  const spend = createSpendWriter(ledger);
  let writes = Promise.resolve();
  return {
    forWorker(held: Holdings): Handlers {
      return {
        'rates.consume': (_w, kind, scope, limit, points) =>
          rates.consume(kind as never, scope as never, limit as never, points as never),
        'rates.adjust': (_w, kind, scope, limit, delta, at) =>
          rates.adjust(kind as never, scope, limit, delta, at),
        'gate.acquire': async (
          _w,
          slots: Parameters<ConcurrencyGate['acquire']>[0],
          id: string,
          now: number,
        ) => {
          const full = await gate.acquire(slots, id, now);
          if (full === -1)
            held.slots.set(
              id,
              slots.map((slot) => slot.scope),
            );
          return full;
        },
        'gate.release': (_w, scopes: string[], id: string) => {
          held.slots.delete(id);
          return gate.release(scopes, id);
        },
        'budgets.reserve': async (
          _w,
          buckets: BudgetBucket[],
          id: string,
          amount: bigint,
          now: number,
        ) => {
          const result = await budgets.reserve(buckets, id, amount, now);
          if (result.ok) held.reservations.set(id, { buckets, amount });
          return result;
        },
        'budgets.settle': (
          _w,
          buckets: BudgetBucket[],
          id: string,
          reserved: bigint,
          spent: bigint,
        ) => {
          held.reservations.delete(id);
          return budgets.settle(buckets, id, reserved, spent);
        },
        'budgets.state': (_w, bucket: BudgetBucket) => budgets.state(bucket),
        'spend.add': (_w, entries: Parameters<typeof spend.add>[0]) => {
          const written = spend.add(entries);
          writes = written.catch(() => undefined);
          return written;
        },
      } as Handlers;
    },
    /** Gives back what a dead worker held: its slots and its budget reservations. */
    async release(held: Holdings) {
      for (const [id, scopes] of held.slots) await gate.release(scopes, id);
      for (const [id, { buckets, amount }] of held.reservations)
        await budgets.settle(buckets, id, amount, 0n);
    },
    flush: () => writes,
  };
}
