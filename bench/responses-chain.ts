import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Client } from 'undici';
import { createApp } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createDatabase, migrate } from '../src/store/index.js';
import { createLogger } from '../src/telemetry/logger.js';

/**
 * `npx tsx bench/responses-chain.ts`: what continuing a stored chain costs over a stateless
 * call with the same input. Switchyard runs with a SQLite file holding 1,000,000 stored
 * responses (2,000,000 items), in front of a minimal fake OpenAI upstream; one client sends
 * requests one at a time (concurrency 1, keep-alive), interleaving:
 *
 * - `chain`:     POST /v1/responses {previous_response_id: <turn 50>, input} — context rebuilt
 *                from the store (one recursive query), mapped, sent, the new response stored;
 * - `chat`:      POST /v1/chat/completions with the same 101 messages (stateless);
 * - `stateless`: POST /v1/responses {store: false, input: <the same 101 items>}.
 *
 * Everything runs in this process (gateway, fake upstream, client); bodies are serialized up
 * front, so the client does the same small work per request in every mode.
 *
 * Environment: BENCH_RESPONSES (default 1000000), BENCH_COUNT (measured requests per mode,
 * default 2000), BENCH_DB (SQLite file; default a temp file, reused when already seeded),
 * BENCH_MODES (subset of chain,chat,stateless; for profiling with `node --cpu-prof`).
 */

const STORED = Number(process.env['BENCH_RESPONSES'] ?? 1_000_000);
const COUNT = Number(process.env['BENCH_COUNT'] ?? 2_000);
const WARMUP = Math.min(300, Math.ceil(COUNT / 5));
const TURNS = 50;
const KEY = 'sk-bench-master';
const log = (message: string) =>
  process.stderr.write(
    `[responses-chain ${((performance.now() / 1000) | 0).toString().padStart(3)}s] ${message}\n`,
  );

const ANSWER = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-bench',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content:
          'Here is the canned answer of the benchmark upstream, a sentence of typical length.',
        refusal: null,
      },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 1500, completion_tokens: 16, total_tokens: 1516 },
});

async function main(): Promise<void> {
  const dbPath = resolve(
    process.env['BENCH_DB'] ?? join(tmpdir(), 'switchyard-bench', `responses-${STORED}.db`),
  );
  await seed(dbPath, STORED);

  const upstream = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () =>
      response
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(ANSWER),
        })
        .end(ANSWER),
    );
  });
  await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;

  const config = validateConfig({
    store: `sqlite:${dbPath}`,
    logging: { level: 'silent' },
    auth: { masterKey: KEY },
    providers: { fake: { type: 'openai-compatible', baseUrl: upstreamUrl } },
    models: {
      bench: { contextWindow: 128_000, deployments: [{ provider: 'fake', model: 'gpt-bench' }] },
    },
    runtime: { sweepIntervalMs: 0 },
  });
  const app = await createApp({ config, logger: createLogger({ level: 'silent' }) });
  const { url } = await app.listen(0, '127.0.0.1');
  const client = new Client(url, { pipelining: 1 });
  const post = async (path: string, body: string): Promise<{ status: number; text: string }> => {
    const answer = await client.request({
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body,
    });
    return { status: answer.statusCode, text: await answer.body.text() };
  };

  try {
    log(`building a ${TURNS}-turn chain`);
    let previous: string | undefined;
    const items: Array<Record<string, unknown>> = [];
    for (let turn = 0; turn < TURNS; turn++) {
      const text = `Turn ${turn}: here is a question of ordinary length, asking about the report for week ${turn} and what changed since.`;
      const answer = await post(
        '/v1/responses',
        JSON.stringify({
          model: 'bench',
          input: text,
          ...(previous ? { previous_response_id: previous } : {}),
        }),
      );
      if (answer.status !== 200) throw new Error(`turn ${turn}: ${answer.status} ${answer.text}`);
      const parsed = JSON.parse(answer.text) as {
        id: string;
        output: Array<Record<string, unknown>>;
      };
      previous = parsed.id;
      items.push(
        { role: 'user', content: text },
        ...parsed.output.map((item) => ({
          role: 'assistant',
          content: ((item['content'] as Array<{ text: string }>)[0] ?? { text: '' }).text,
        })),
      );
    }
    const next = 'And what should we do next week?';
    const bodies = {
      chain: {
        path: '/v1/responses',
        body: JSON.stringify({ model: 'bench', previous_response_id: previous, input: next }),
      },
      chat: {
        path: '/v1/chat/completions',
        body: JSON.stringify({
          model: 'bench',
          messages: [...items, { role: 'user', content: next }],
        }),
      },
      stateless: {
        path: '/v1/responses',
        body: JSON.stringify({
          model: 'bench',
          store: false,
          input: [...items, { role: 'user', content: next }],
        }),
      },
    };
    const modes = (process.env['BENCH_MODES']?.split(',') ?? Object.keys(bodies)) as Array<
      keyof typeof bodies
    >;
    const samples: Record<string, number[]> = { chain: [], chat: [], stateless: [] };
    const cpu: Record<string, number> = { chain: 0, chat: 0, stateless: 0 };
    log(`measuring ${COUNT} requests per mode (after ${WARMUP} warm-up), interleaved`);
    for (let round = 0; round < WARMUP + COUNT; round++) {
      for (const mode of modes) {
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        const answer = await post(bodies[mode].path, bodies[mode].body);
        const ms = performance.now() - started;
        const used = process.cpuUsage(cpuBefore);
        if (answer.status !== 200) throw new Error(`${mode}: ${answer.status} ${answer.text}`);
        if (round >= WARMUP) {
          samples[mode]!.push(ms);
          cpu[mode]! += (used.user + used.system) / 1000;
        }
      }
    }
    const rows = modes.map((mode) => {
      const sorted = [...samples[mode]!].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      return { mode, p50: at(0.5), p90: at(0.9), p99: at(0.99), cpu: cpu[mode]! / COUNT };
    });
    const chat = rows.find((row) => row.mode === 'chat') ?? rows[0]!;
    // Paired differences: request i of a mode ran right after request i of the others, so a
    // slow moment on a shared machine hits both; the median difference is robust to that.
    const paired = (mode: string) => {
      const base = samples['chat'];
      if (!base || base.length === 0 || mode === 'chat') return '—';
      const diffs = samples[mode]!.map((ms, index) => ms - base[index]!).sort((a, b) => a - b);
      const median = diffs[Math.floor(diffs.length / 2)]!;
      return `${median >= 0 ? '+' : ''}${median.toFixed(3)} ms`;
    };
    const size = statSync(dbPath).size;
    const stored = new SqliteDatabase(dbPath, { readonly: true })
      .prepare('select count(*) as n from runtime_responses')
      .get() as { n: number };
    process.stdout.write(
      [
        '',
        `Responses chain benchmark: ${TURNS}-turn chain, ${stored.n.toLocaleString('en-US')} stored responses, SQLite file ${(size / 1e9).toFixed(2)} GB, Node ${process.version}`,
        '',
        `Load average ${loadavg()
          .map((value) => value.toFixed(1))
          .join(' ')} on ${cpus().length} CPUs at the end of the run.`,
        '',
        '| mode | p50 ms | p90 ms | p99 ms | CPU ms/req | p50 vs chat | median paired Δ vs chat |',
        '|---|---:|---:|---:|---:|---:|---:|',
        ...rows.map(
          (row) =>
            `| ${row.mode} | ${row.p50.toFixed(3)} | ${row.p90.toFixed(3)} | ${row.p99.toFixed(3)} | ${row.cpu.toFixed(3)} | ${row.mode === 'chat' ? '—' : `${row.p50 - chat.p50 >= 0 ? '+' : ''}${(row.p50 - chat.p50).toFixed(3)} ms`} | ${paired(row.mode)} |`,
        ),
        '',
      ].join('\n'),
    );
  } finally {
    await client.close();
    await app.close();
    upstream.close();
  }
}

/**
 * Fills `path` with `count` stored responses (chains of 10, one input and one output item
 * each, spread over 100 tenants) unless it already holds them. Rows go in through one raw
 * connection in large transactions; the schema comes from the real migrations.
 */
async function seed(path: string, count: number): Promise<void> {
  mkdirSync(resolve(path, '..'), { recursive: true });
  const database = await createDatabase(`sqlite:${path}`);
  await migrate(database);
  await database.close();
  const raw = new SqliteDatabase(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = OFF');
  // Random ids land all over the indexes: a large page cache keeps seeding from thrashing.
  raw.pragma('cache_size = -524288');
  const have = (raw.prepare('select count(*) as n from runtime_responses').get() as { n: number })
    .n;
  if (have >= count) {
    log(`${path} already holds ${have.toLocaleString('en-US')} responses`);
    raw.close();
    return;
  }
  log(
    `seeding ${(count - have).toLocaleString('en-US')} responses into ${path}${existsSync(path) ? '' : ' (new)'}`,
  );
  const insertResponse = raw.prepare(
    'insert into runtime_responses (id, tenant_id, previous_response_id, conversation_id, status, model, created_at, expires_at, body) values (?, ?, ?, null, ?, ?, ?, ?, ?)',
  );
  const insertItem = raw.prepare(
    'insert into runtime_items (owner_id, seq, tenant_id, id, type, kind, response_id, conversation_id, conversation_seq, created_at, expires_at, body) values (?, ?, ?, ?, ?, ?, ?, null, null, ?, ?, ?)',
  );
  const id = (prefix: string) => prefix + randomBytes(18).toString('base64url');
  const now = Date.now();
  const expires = now + 30 * 86_400_000;
  let previous: string | null = null;
  const batch = raw.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const tenant = `tenant-${i % 100}`;
      const responseId = id('resp_');
      if (i % 10 === 0) previous = null;
      const inputId = id('msg_');
      const outputId = id('msg_');
      const input = {
        id: inputId,
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [{ type: 'input_text', text: `Seeded question number ${i}, of ordinary length.` }],
      };
      const output = {
        id: outputId,
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [
          {
            type: 'output_text',
            text: `Seeded answer number ${i}.`,
            annotations: [],
            logprobs: [],
          },
        ],
      };
      const body = {
        id: responseId,
        object: 'response',
        created_at: Math.floor(now / 1000),
        status: 'completed',
        model: 'bench',
        previous_response_id: previous,
        output: [output],
        usage: { input_tokens: 20, output_tokens: 8, total_tokens: 28 },
      };
      insertResponse.run(
        responseId,
        tenant,
        previous,
        'completed',
        'bench',
        now,
        expires,
        JSON.stringify(body),
      );
      insertItem.run(
        responseId,
        0,
        tenant,
        inputId,
        'message',
        'input',
        responseId,
        now,
        expires,
        JSON.stringify(input),
      );
      insertItem.run(
        responseId,
        1,
        tenant,
        outputId,
        'message',
        'output',
        responseId,
        now,
        expires,
        JSON.stringify(output),
      );
      previous = responseId;
    }
  });
  const step = 50_000;
  for (let from = have; from < count; from += step) {
    batch(from, Math.min(count, from + step));
    if ((from / step) % 4 === 0)
      log(
        `  ${Math.min(count, from + step).toLocaleString('en-US')} / ${count.toLocaleString('en-US')}`,
      );
  }
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
