import { setTimeout as sleep } from 'node:timers/promises';
import type { Child, ProcessStats } from './ipc.js';
import { load, type LoadResult, sequentialLatency } from './load.js';
import { summarize, type Summary } from './stats.js';
import { type BurstResult, concurrentStreams, streamTimings } from './streams.js';

/** The measurement phases of bench/run.ts. Each returns raw figures; run.ts judges them. */

/** The two processes under test, and a progress logger (stderr). */
export interface Targets {
  fake: Child;
  gateway: Child;
  /** The bare reference proxy, when measured (bench/reference-proxy.ts). */
  reference: Child | undefined;
  log(message: string): void;
}

const stats = (child: Child, gc = false) => child.call<ProcessStats>('stats', { gc });
/** A proxy's event-loop delay (ms) since the previous call (timer lateness, 1 ms resolution). */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}
const loopDelay = (child: Child) => child.call<LoopDelay>('loop-delay');
const cpuUs = (before: ProcessStats, after: ProcessStats) =>
  after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;

/** A load run with the CPU each process spent on it, µs per answered request. */
export interface MeteredLoad extends LoadResult {
  /** CPU of the proxy in between (Switchyard or the bare proxy); undefined when direct. */
  proxyCpuPerRequestUs: number | undefined;
  upstreamCpuPerRequestUs: number;
}

async function metered(
  targets: Targets,
  origin: string,
  options: Parameters<typeof load>[1],
  proxy?: Child,
): Promise<MeteredLoad> {
  const [fakeBefore, proxyBefore] = await Promise.all([stats(targets.fake), proxy && stats(proxy)]);
  const result = await load(origin, options);
  const [fakeAfter, proxyAfter] = await Promise.all([stats(targets.fake), proxy && stats(proxy)]);
  return {
    ...result,
    proxyCpuPerRequestUs:
      proxyBefore && proxyAfter ? cpuUs(proxyBefore, proxyAfter) / result.ok : undefined,
    upstreamCpuPerRequestUs: cpuUs(fakeBefore, fakeAfter) / result.ok,
  };
}

/** (a) + (e): non-streaming throughput at `connections`: direct, bare proxy (if any), Switchyard. */
export async function throughputPhase(
  targets: Targets,
  plan: { connections: number; warmupSeconds: number; seconds: number },
) {
  const { fake, gateway, reference, log } = targets;
  await fake.call('configure', { chunks: 10, delayMs: 0 });
  log(`throughput: warm-up ${plan.warmupSeconds}s each`);
  for (const child of [fake, reference, gateway])
    if (child)
      await load(child.url, { connections: plan.connections, seconds: plan.warmupSeconds });
  log(`throughput: direct ${plan.seconds}s at ${plan.connections} connections`);
  const direct = await metered(targets, fake.url, {
    connections: plan.connections,
    seconds: plan.seconds,
  });
  let bare: MeteredLoad | undefined;
  if (reference) {
    log(`throughput: bare reference proxy ${plan.seconds}s at ${plan.connections} connections`);
    bare = await metered(
      targets,
      reference.url,
      { connections: plan.connections, seconds: plan.seconds },
      reference,
    );
  }
  log(`throughput: through Switchyard ${plan.seconds}s at ${plan.connections} connections`);
  const switchyard = await metered(
    targets,
    gateway.url,
    { connections: plan.connections, seconds: plan.seconds },
    gateway,
  );
  return { direct, reference: bare, switchyard };
}

/** (b): one connection, sequential requests, per-request wall time. */
export async function latencyPhase(
  targets: Targets,
  plan: { count: number; block: number; warmup: number },
) {
  const { fake, gateway, reference, log } = targets;
  log(`latency: ${plan.count} sequential requests per target, 1 connection`);
  const [gatewayBefore, referenceBefore] = await Promise.all([
    stats(gateway),
    reference && stats(reference),
    loopDelay(gateway),
    reference && loopDelay(reference),
  ]);
  const samples = await sequentialLatency(
    {
      direct: fake.url,
      ...(reference ? { reference: reference.url } : {}),
      switchyard: gateway.url,
    },
    plan,
  );
  const [gatewayAfter, referenceAfter, gatewayLoopDelay, referenceLoopDelay] = await Promise.all([
    stats(gateway),
    reference && stats(reference),
    loopDelay(gateway),
    reference && loopDelay(reference),
  ]);
  const perRequest = plan.count + plan.warmup;
  return {
    gatewayLoopDelay,
    referenceLoopDelay,
    direct: summarize(samples['direct']!),
    reference: samples['reference'] && summarize(samples['reference']),
    switchyard: summarize(samples['switchyard']!),
    gatewayCpuPerRequestUs: cpuUs(gatewayBefore, gatewayAfter) / perRequest,
    referenceCpuPerRequestUs:
      referenceBefore && referenceAfter
        ? cpuUs(referenceBefore, referenceAfter) / perRequest
        : undefined,
  };
}

/** (c): time to first byte (burst stream) and event gaps (paced stream). */
export async function streamingPhase(
  targets: Targets,
  plan: {
    ttfb: { count: number; block: number; warmup: number };
    gaps: { count: number; block: number; warmup: number };
    chunks: number;
    delayMs: number;
  },
) {
  const { fake, gateway, reference, log } = targets;
  const origins = {
    direct: fake.url,
    ...(reference ? { reference: reference.url } : {}),
    switchyard: gateway.url,
  };
  await fake.call('configure', { chunks: plan.chunks, delayMs: 0 });
  log(`streaming: TTFB over ${plan.ttfb.count} streams per target (${plan.chunks} events, burst)`);
  await Promise.all([loopDelay(gateway), reference && loopDelay(reference)]);
  const ttfb = await streamTimings(origins, { ...plan.ttfb, events: plan.chunks });
  const [gatewayLoopDelay, referenceLoopDelay] = await Promise.all([
    loopDelay(gateway),
    reference && loopDelay(reference),
  ]);
  await fake.call('configure', { chunks: plan.chunks, delayMs: plan.delayMs });
  log(
    `streaming: gaps over ${plan.gaps.count} streams per target (${plan.chunks} events ${plan.delayMs} ms apart)`,
  );
  const paced = await streamTimings(origins, { ...plan.gaps, events: plan.chunks });
  await fake.call('configure', { chunks: 10, delayMs: 0 });
  const pick = (name: string) => ({
    ttfb: summarize(ttfb[name]!.ttfb),
    pacedTtfb: summarize(paced[name]!.ttfb),
    gaps: summarize(paced[name]!.gaps),
    gapSamples: paced[name]!.gaps,
  });
  return {
    direct: pick('direct'),
    reference: reference ? pick('reference') : undefined,
    switchyard: pick('switchyard'),
    gatewayLoopDelay,
    referenceLoopDelay,
  };
}

/** Highest RSS and heap seen while sampling. */
interface Peak {
  rss: number;
  heapUsed: number;
}

/** Samples a child's memory every `everyMs` until `done()`; returns the peaks. */
async function peakMemory(child: Child, done: () => boolean, everyMs: number): Promise<Peak> {
  const peak = { rss: 0, heapUsed: 0 };
  while (!done()) {
    const now = await stats(child);
    peak.rss = Math.max(peak.rss, now.rss);
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
    await sleep(everyMs);
  }
  return peak;
}

/** Idles, collects garbage, then reads the figures (a stable point between loads). */
async function settled(child: Child): Promise<ProcessStats> {
  await sleep(1000);
  return stats(child, true);
}

/** (d), first half: RSS before and after `amount` non-streaming requests (after a warm-up), time-capped. */
export async function requestMemoryPhase(
  targets: Targets,
  plan: { connections: number; warmupAmount: number; amount: number; maxSeconds: number },
) {
  const { fake, gateway, log } = targets;
  await fake.call('configure', { chunks: 10, delayMs: 0 });
  log(`memory: warm-up ${plan.warmupAmount} requests`);
  await load(gateway.url, {
    connections: plan.connections,
    amount: plan.warmupAmount,
    maxSeconds: plan.maxSeconds / 4,
  });
  const before = await settled(gateway);
  log(`memory: ${plan.amount} requests through Switchyard`);
  let finished = false;
  const [run, peak] = await Promise.all([
    metered(
      targets,
      gateway.url,
      { connections: plan.connections, amount: plan.amount, maxSeconds: plan.maxSeconds },
      gateway,
    ).finally(() => (finished = true)),
    peakMemory(gateway, () => finished, 500),
  ]);
  const after = await settled(gateway);
  return { before, after, peak: peak.rss, run };
}

/** One round of concurrent streams, as seen by both processes. */
export interface StreamRound {
  burst: BurstResult;
  peakRss: number;
  /** Read after a full GC at the moment all streams were open (undefined if that never happened). */
  held: ProcessStats | undefined;
  after: ProcessStats;
  /** Most streams the fake upstream had open at once (proves they were concurrent end to end). */
  upstreamConcurrent: number;
}

/**
 * (d), second half: rounds of `count` concurrent streams; round 0 is the warm-up. The fake holds
 * every stream after its first event until all `count` are open, so the peak is taken with all
 * of them open at once.
 */
export async function streamMemoryPhase(
  targets: Targets,
  plan: { count: number; rounds: number; chunks: number; delayMs: number },
) {
  const { fake, gateway, log } = targets;
  const rounds: StreamRound[] = [];
  const idle = await settled(gateway);
  for (let round = 0; round <= plan.rounds; round++) {
    await fake.call('configure', {
      chunks: plan.chunks,
      delayMs: plan.delayMs,
      barrier: plan.count,
    });
    log(
      `streams: round ${round}${round === 0 ? ' (warm-up)' : ''}, ${plan.count} concurrent streams of ${plan.chunks} events ${plan.delayMs} ms apart`,
    );
    let peak: Peak = { rss: 0, heapUsed: 0 };
    let held: ProcessStats | undefined;
    const burst = await concurrentStreams(gateway.url, plan.count, async (done) => {
      const whenAllOpen = async () => {
        while (!done()) {
          if ((await fake.call<{ inFlight: number }>('stats')).inFlight >= plan.count)
            return void (held = await stats(gateway, true));
          await sleep(50);
        }
      };
      [peak] = await Promise.all([peakMemory(gateway, done, 100), whenAllOpen()]);
    });
    const upstream = await fake.call<{ maxInFlight: number }>('stats');
    rounds.push({
      burst,
      peakRss: Math.max(peak.rss, held?.rss ?? 0),
      held,
      after: await settled(gateway),
      upstreamConcurrent: upstream.maxInFlight,
    });
  }
  await fake.call('configure', { chunks: 10, delayMs: 0 });
  return { idle, rounds };
}

export type { Summary };
