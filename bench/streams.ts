import { Agent, Client, request } from 'undici';
import { CHAT_PATH, HEADERS, STREAM_BODY } from './load.js';
import { msSince, percentile } from './stats.js';

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

/** Outcome of {@link streamLoad}: streams per second and time to first byte under load. */
export interface StreamLoadResult {
  /** Streams read to `[DONE]` with status 200. */
  ok: number;
  /** Streams that failed, ended early or answered another status. */
  bad: number;
  /** Complete streams per second over the run. */
  rps: number;
  /** Request start → first body byte, ms, median over the complete streams. */
  ttfbP50: number;
  /** Request start → end of the stream, ms, median. */
  latencyP50: number;
}

/**
 * Closed-loop streaming load: `connections` clients, each on its own keep-alive connection,
 * send streaming chat requests back to back for `seconds` and read each answer to its end,
 * noting the time to the first body byte (autocannon only reports whole-response latency). An
 * answer counts when it is a 200 ending with `data: [DONE]`.
 */
export async function streamLoad(
  origin: string,
  options: { connections: number; seconds: number },
): Promise<StreamLoadResult> {
  const dispatcher = new Agent({ connections: options.connections, pipelining: 1 });
  const ttfb: number[] = [];
  const latency: number[] = [];
  let bad = 0;
  const started = process.hrtime.bigint();
  const until = Date.now() + options.seconds * 1000;
  const loop = async () => {
    while (Date.now() < until) {
      const start = process.hrtime.bigint();
      try {
        const response = await request(origin + CHAT_PATH, {
          method: 'POST',
          headers: HEADERS,
          body: STREAM_BODY,
          dispatcher,
        });
        let first = -1;
        let tail = '';
        for await (const piece of response.body as AsyncIterable<Buffer>) {
          if (first < 0) first = msSince(start);
          // Only the end matters: keep the last bytes, never the whole answer.
          tail = (tail + piece.toString('latin1', Math.max(0, piece.length - 32))).slice(-32);
        }
        if (response.statusCode === 200 && tail.endsWith('data: [DONE]\n\n')) {
          ttfb.push(first);
          latency.push(msSince(start));
        } else bad += 1;
      } catch {
        bad += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const seconds = msSince(started) / 1000;
  await dispatcher.close();
  return {
    ok: ttfb.length,
    bad,
    rps: ttfb.length / seconds,
    ttfbP50: percentile(ttfb, 50),
    latencyP50: percentile(latency, 50),
  };
}
