import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startChild } from './ipc.js';
import { CHAT_BODY, CHAT_PATH, HEADERS, MASTER_KEY, STREAM_BODY } from './load.js';
import { streamLoad } from './streams.js';

/**
 * `npx tsx bench/threads.ts`: where a Switchyard process spends its CPU, thread by thread
 * (main JS thread, libuv thread pool, V8 GC and compiler threads), under the compare bench's
 * load (20 connections, non-streaming; BENCH_MODE=stream for 200-event streams). Reads each
 * thread's utime + stime from /proc before and after BENCH_SECONDS (default 6) of load and
 * prints µs per request per thread. BENCH_PROFILE=file.cpuprofile also profiles the main thread
 * over the measured load (bench/profile-categories.ts summarises it). BENCH_BY_THREAD=1 lists
 * the other threads one by one instead of summed.
 */

const seconds = Number(process.env['BENCH_SECONDS'] ?? 6);
const stream = process.env['BENCH_MODE'] === 'stream';
const TICK_US = 1e4; // CLK_TCK 100 on Linux

function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) * TICK_US;
      // Node 20 names few of its threads: the main thread is the one whose id is the pid.
      const key =
        task === String(pid)
          ? 'main (JS)'
          : process.env['BENCH_BY_THREAD'] === '1'
            ? `${name} #${task}`
            : `${name.replace(/\d+$/, '')} (other)`;
      out.set(key, (out.get(key) ?? 0) + cpu);
    } catch {
      // gone
    }
  }
  return out;
}

const fake = await startChild('./fake-upstream.ts');
await fake.call('configure', { chunks: stream ? 200 : 10, delayMs: 0 });
const gateway = await startChild('./gateway-process.ts', {
  env: { BENCH_UPSTREAM_URL: fake.url, BENCH_MASTER_KEY: MASTER_KEY, BENCH_LOG_LEVEL: 'info' },
  nodeFlags: (process.env['BENCH_GATEWAY_FLAGS'] ?? '').split(' ').filter(Boolean),
});
const hit = async (duration: number): Promise<number> => {
  if (stream) return (await streamLoad(gateway.url, { connections: 20, seconds: duration })).ok;
  const result = await autocannon({
    url: gateway.url + CHAT_PATH,
    method: 'POST',
    headers: HEADERS,
    body: stream ? STREAM_BODY : CHAT_BODY,
    connections: 20,
    duration,
  });
  return result['2xx'];
};
await hit(4);
const pid = gateway.process.pid!;
const profile = process.env['BENCH_PROFILE'];
if (profile) await gateway.call('profile-start');
const before = threads(pid);
const ok = await hit(seconds);
const after = threads(pid);
if (profile) await gateway.call('profile-stop', { path: profile });
let total = 0;
const rows: string[] = [];
for (const [name, cpu] of after) {
  const spent = cpu - (before.get(name) ?? 0);
  total += spent;
  if (spent > 0) rows.push(`${name.padEnd(20)} ${(spent / ok).toFixed(0).padStart(6)} µs`);
}
process.stdout.write(
  `${ok} ${stream ? 'streams' : 'requests'} in ${seconds} s (${(ok / seconds).toFixed(0)}/s), ${(total / ok).toFixed(0)} µs CPU each:\n${rows.join('\n')}\n`,
);
await gateway.stop();
await fake.stop();
