import autocannon, { type Result } from 'autocannon';
import { Client } from 'undici';
import { msSince } from './stats.js';

/** Client side of the benchmark: the requests both targets (fake direct, Switchyard) receive. */

export const CHAT_PATH = '/v1/chat/completions';
export const MASTER_KEY = 'sk-bench-master';
export const HEADERS = {
  'content-type': 'application/json',
  authorization: `Bearer ${MASTER_KEY}`,
};
export const CHAT_BODY = JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
});
export const STREAM_BODY = JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
  stream: true,
  stream_options: { include_usage: true },
});

/**
 * Chat completions from autocannon at 20 connections against `origin`: non-streaming, or
 * 200-event streams (`stream`), for `duration` seconds or `amount` requests. The raw result.
 */
export function chatLoad(
  origin: string,
  options: { stream: boolean; duration?: number; amount?: number; timeout?: number },
): Promise<Result> {
  return Promise.resolve(
    autocannon({
      url: origin + CHAT_PATH,
      method: 'POST',
      headers: HEADERS,
      body: options.stream ? STREAM_BODY : CHAT_BODY,
      connections: 20,
      ...(options.amount === undefined
        ? { duration: options.duration ?? 10 }
        : { amount: options.amount }),
      ...(options.timeout !== undefined && { timeout: options.timeout }),
    }),
  );
}

/** Outcome of one autocannon run. */
export interface LoadResult {
  /** 2xx answers per second over the run. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  latencyP50: number;
  latencyP99: number;
}

/**
 * Non-streaming chat completions at `connections` for `seconds`, or for `amount` requests but at
 * most `maxSeconds` (so a slow or busy machine cannot stretch a run without bound).
 */
export async function load(
  origin: string,
  options: { connections: number; seconds?: number; amount?: number; maxSeconds?: number },
): Promise<LoadResult> {
  const instance = autocannon({
    url: origin + CHAT_PATH,
    method: 'POST',
    headers: HEADERS,
    body: CHAT_BODY,
    connections: options.connections,
    ...(options.amount === undefined
      ? { duration: options.seconds ?? 10 }
      : { amount: options.amount }),
  });
  const cap =
    options.maxSeconds === undefined
      ? undefined
      : setTimeout(() => instance.stop(), options.maxSeconds * 1000);
  const result = await instance;
  clearTimeout(cap);
  return {
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    seconds: result.duration,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
  };
}

/**
 * Sequential requests on one keep-alive connection per target, `count` each, alternating in
 * blocks of `block` between the targets so drift (other load, frequency scaling) hits both
 * alike. Returns the per-request wall times in ms, keyed like `origins`.
 */
export async function sequentialLatency(
  origins: Record<string, string>,
  options: { count: number; block: number; warmup: number; body?: string },
): Promise<Record<string, Float64Array>> {
  const names = Object.keys(origins);
  const clients = new Map(
    names.map((name) => [name, new Client(origins[name]!, { pipelining: 1 })]),
  );
  const samples = Object.fromEntries(names.map((name) => [name, new Float64Array(options.count)]));
  const once = async (client: Client): Promise<number> => {
    const start = process.hrtime.bigint();
    const response = await client.request({
      path: CHAT_PATH,
      method: 'POST',
      headers: HEADERS,
      body: options.body ?? CHAT_BODY,
    });
    await response.body.text();
    const elapsed = msSince(start);
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    return elapsed;
  };
  try {
    for (const name of names)
      for (let i = 0; i < options.warmup; i++) await once(clients.get(name)!);
    for (let done = 0; done < options.count; done += options.block) {
      for (const name of names) {
        const client = clients.get(name)!;
        const into = samples[name]!;
        for (let i = done; i < Math.min(done + options.block, options.count); i++)
          into[i] = await once(client);
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()));
  }
  return samples;
}
