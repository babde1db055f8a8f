import { Agent, Client, request } from 'undici';
import { CHAT_PATH, HEADERS, STREAM_BODY } from './load.js';
import { msSince } from './stats.js';

/** Streaming measurements: time to first byte, event inter-arrival gaps, many open streams. */

/** Per-target stream timings. */
export interface StreamTimings {
  /** Request start → first body byte, ms, one per request. */
  ttfb: number[];
  /** Gaps between consecutive SSE events (the first `events` of each answer), ms. */
  gaps: number[];
}

/**
 * Sequential streaming requests on one keep-alive connection per target, alternating in blocks
 * (as in sequentialLatency). Event boundaries are found by scanning for the blank line that
 * ends each SSE event, so TCP coalescing or splitting does not skew them.
 */
export async function streamTimings(
  origins: Record<string, string>,
  options: { count: number; block: number; warmup: number; events: number },
): Promise<Record<string, StreamTimings>> {
  const names = Object.keys(origins);
  const clients = new Map(
    names.map((name) => [name, new Client(origins[name]!, { pipelining: 1 })]),
  );
  const results: Record<string, StreamTimings> = Object.fromEntries(
    names.map((name) => [name, { ttfb: [], gaps: [] }]),
  );
  const once = async (client: Client, into: StreamTimings | undefined) => {
    const start = process.hrtime.bigint();
    const response = await client.request({
      path: CHAT_PATH,
      method: 'POST',
      headers: HEADERS,
      body: STREAM_BODY,
    });
    if (response.statusCode !== 200)
      throw new Error(`status ${response.statusCode}: ${await response.body.text()}`);
    response.body.setEncoding('utf8');
    let first = -1;
    let text = '';
    let from = 0;
    const arrivals: number[] = [];
    for await (const piece of response.body as AsyncIterable<string>) {
      const now = msSince(start);
      if (first < 0) first = now;
      text += piece;
      for (let end = text.indexOf('\n\n', from); end !== -1; end = text.indexOf('\n\n', from)) {
        arrivals.push(now);
        from = end + 2;
      }
    }
    if (!text.endsWith('data: [DONE]\n\n')) throw new Error('stream did not end with [DONE]');
    if (!into) return;
    into.ttfb.push(first);
    for (let i = 1; i < Math.min(options.events, arrivals.length); i++)
      into.gaps.push(arrivals[i]! - arrivals[i - 1]!);
  };
  try {
    for (const name of names)
      for (let i = 0; i < options.warmup; i++) await once(clients.get(name)!, undefined);
    for (let done = 0; done < options.count; done += options.block) {
      for (const name of names) {
        const client = clients.get(name)!;
        for (let i = done; i < Math.min(done + options.block, options.count); i++)
          await once(client, results[name]);
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()));
  }
  return results;
}

/** Outcome of one burst of concurrent streams. */
export interface BurstResult {
  ok: number;
  failed: number;
  ms: number;
}

/**
 * Opens `count` streaming requests at once (one connection each) and reads them to the end.
 * `whileOpen` runs alongside until every stream has finished (the caller samples RSS there).
 */
export async function concurrentStreams(
  origin: string,
  count: number,
  whileOpen: (done: () => boolean) => Promise<void>,
): Promise<BurstResult> {
  const dispatcher = new Agent({ connections: count, pipelining: 1, keepAliveTimeout: 30_000 });
  const start = process.hrtime.bigint();
  let ok = 0;
  let failed = 0;
  let finished = false;
  const one = async () => {
    try {
      const response = await request(origin + CHAT_PATH, {
        method: 'POST',
        headers: HEADERS,
        body: STREAM_BODY,
        dispatcher,
      });
      const text = await response.body.text();
      if (response.statusCode === 200 && text.endsWith('data: [DONE]\n\n')) ok += 1;
      else failed += 1;
    } catch {
      failed += 1;
    }
  };
  const all = Promise.all(Array.from({ length: count }, one)).then(() => {
    finished = true;
  });
  await Promise.all([all, whileOpen(() => finished)]);
  const ms = msSince(start);
  await dispatcher.close();
  return { ok, failed, ms };
}
