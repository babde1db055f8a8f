import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisTimeouts } from '../access/redis-guard.js';
import type { HealthTracker, SharedHealthState } from './health.js';

/** Replicates breaker state between Switchyard processes through Redis. */
export interface SharedHealth {
  close(): Promise<void>;
}

interface Message extends SharedHealthState {
  origin: string;
  key: string;
}

/**
 * Shares breaker transitions over Redis pub/sub (channel `<prefix>health`), and keeps the latest
 * state per deployment in a hash so a replica that starts later sees deployments already open.
 * Losing Redis only means each replica learns health on its own again.
 */
export async function shareHealth(
  tracker: HealthTracker,
  url: string,
  prefix = 'switchyard:',
  onError: (error: unknown) => void = () => {},
  limits: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
): Promise<SharedHealth> {
  const origin = randomUUID();
  const channel = `${prefix}health`;
  const options = {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    ...redisTimeouts(limits),
  } as const;
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    ...redisTimeouts(limits),
  });
  publisher.on('error', onError);
  subscriber.on('error', onError);
  subscriber.on('message', (_channel: string, text: string) => {
    const message = parse(text);
    if (message && message.origin !== origin) tracker.applyRemote(message.key, message);
  });
  // Each (re)connect reads the latest states and subscribes again, so sharing resumes by itself
  // after an outage; until then (or if Redis is away at start) this replica learns health alone.
  const catchUp = async () => {
    const now = Date.now();
    for (const [key, text] of Object.entries(await publisher.hgetall(channel))) {
      const state = parse(text);
      if (state && (state.state !== 'open' || state.unavailableUntil > now))
        tracker.applyRemote(key, state);
    }
  };
  const subscribe = () => subscriber.subscribe(channel).then(() => undefined);
  await Promise.all([
    publisher.connect().then(catchUp).catch(onError),
    subscriber.connect().then(subscribe).catch(onError),
  ]);
  // Registered after the first connect, so that one is not done twice.
  publisher.on('ready', () => void catchUp().catch(onError));
  subscriber.on('ready', () => void subscribe().catch(onError));
  tracker.onChange((key, state) => {
    const message: Message = {
      origin,
      key,
      state: state.state,
      unavailableUntil: state.unavailableUntil,
    };
    const text = JSON.stringify(message);
    publisher.multi().hset(channel, key, text).publish(channel, text).exec().catch(onError);
  });
  return {
    async close() {
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}

function parse(text: string): Message | undefined {
  try {
    const value = JSON.parse(text) as Message;
    if (
      typeof value.key === 'string' &&
      ['closed', 'open', 'half-open'].includes(value.state) &&
      typeof value.unavailableUntil === 'number'
    )
      return value;
  } catch {
    // ignore malformed messages
  }
  return undefined;
}
