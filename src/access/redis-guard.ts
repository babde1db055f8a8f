import type { Redis, RedisOptions } from 'ioredis';

/**
 * Redis time limits and stall detection. A Redis that refuses connections is easy (ioredis
 * reports it not ready and limits fall back at once); one that accepts and then answers nothing
 * is not: without limits every command waits forever. Here every command has a time limit, and
 * the first command to time out marks the client *stalled*, so the checks after it (budgets and
 * concurrency after rate limits, other requests) fall back at once instead of each waiting out
 * its own timeout: a request spends at most about one command timeout on a dead Redis. A
 * watchdog PING clears the mark when Redis answers again, and reconnects after repeated
 * failures, so everything recovers by itself.
 */

/** Defaults of `redisConnectTimeoutMs` and `redisCommandTimeoutMs`. */
export const REDIS_DEFAULTS = { connectTimeoutMs: 2_000, commandTimeoutMs: 150 };

/** ioredis options with connect and command time limits. */
export function redisTimeouts(
  limits: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
): Pick<RedisOptions, 'connectTimeout' | 'commandTimeout'> {
  return {
    connectTimeout: limits.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs,
    commandTimeout: limits.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs,
  };
}

const stalled = new WeakSet<Redis>();

/** Whether commands sent to `redis` now can be expected to answer: connected, and not stalled. */
export function redisUsable(redis: Redis): boolean {
  return redis.status === 'ready' && !stalled.has(redis);
}

/**
 * Whether `redis` is known to be away: stalled, or its connection lost (reconnecting, closed).
 * A client still connecting for the first time is not: its commands wait in the offline queue.
 */
export function redisAway(redis: Redis): boolean {
  return (
    stalled.has(redis) ||
    redis.status === 'reconnecting' ||
    redis.status === 'close' ||
    redis.status === 'end'
  );
}

/** The error a check throws at once while Redis is not usable. */
export function redisUnavailable(): Error {
  return Object.assign(new Error('Redis is unavailable (not connected or not answering)'), {
    code: 'REDIS_UNAVAILABLE',
  });
}

/** Options of {@link guardRedis}. */
export interface GuardOptions {
  /** Watchdog PING interval, ms. Default 1000. */
  intervalMs?: number;
  /** Failed PINGs in a row after which the connection is dropped and opened again. Default 3. */
  reconnectAfter?: number;
  /** Told when Redis stalls and when it answers again. */
  onChange?: (state: 'stalled' | 'recovered') => void;
}

/**
 * Watches `redis` (created with {@link redisTimeouts}): marks it stalled on the first command
 * timeout, and runs the watchdog. Returns a function that stops the watchdog.
 */
export function guardRedis(redis: Redis, options: GuardOptions = {}): () => void {
  const reconnectAfter = options.reconnectAfter ?? 3;
  const mark = () => {
    if (stalled.has(redis)) return;
    stalled.add(redis);
    options.onChange?.('stalled');
  };
  // Every command goes through sendCommand; its promise tells whether it timed out.
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command, stream) => {
    lagTolerant(command as unknown as TimedCommand);
    const result = send(command, stream);
    command.promise.catch((error: unknown) => {
      if ((error as Error | undefined)?.message === 'Command timed out') mark();
    });
    return result;
  }) as typeof redis.sendCommand;

  let failures = 0;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || redis.status === 'end') return;
    busy = true;
    try {
      await redis.ping();
      failures = 0;
      if (stalled.delete(redis)) options.onChange?.('recovered');
    } catch {
      failures++;
      if (redis.status === 'ready' && failures >= reconnectAfter) {
        failures = 0;
        // A connection that stays silent may be dead behind a proxy: open a fresh one.
        redis.disconnect(true);
      }
    } finally {
      busy = false;
    }
  }, options.intervalMs ?? 1_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The parts of an ioredis Command its command timeout uses. */
interface TimedCommand {
  isResolved: boolean;
  _commandTimeoutTimer?: NodeJS.Timeout;
  reject(error: Error): void;
  setTimeout(ms: number): void;
}

/**
 * Replaces the command's timeout (ioredis calls `setTimeout(commandTimeout)` when sending) with
 * one that lets an I/O poll pass before it fires: on a busy event loop the timer phase runs
 * before the poll that would read an answer already waiting in the socket, so a plain timer
 * reports a healthy Redis as stalled (seen under a CPU-starved test machine). `setImmediate`
 * runs after that poll.
 */
function lagTolerant(command: TimedCommand): void {
  command.setTimeout = (ms: number) => {
    if (command._commandTimeoutTimer) return;
    command._commandTimeoutTimer = setTimeout(() => {
      setImmediate(() => {
        if (!command.isResolved) command.reject(new Error('Command timed out'));
      });
    }, ms);
  };
}
