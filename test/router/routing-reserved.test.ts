import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { waitFor } from '../agent/helpers.js';

/**
 * The routing view's reserved capacity state (issue 18 follow-up) over real sockets: an emulated
 * Azure provisioned (PTU) deployment first, pay-as-you-go OpenAI behind it. The gateway runs on a
 * clock the test moves, so the minute window only passes when the test says so.
 * - before any request: `reserved_tpm`, zero tokens used, not spilling; nulls on pay-as-you-go;
 * - after the PTU served requests: the tokens used equal those the usage events booked on it;
 * - after the PTU's upstream 429: `spilling_until` (reason `upstream_429`), the PTU last in the
 *   order, and the refused attempt's estimate given back;
 * - a minute later: the window is empty and the PTU first again.
 */

const AZURE_KEY = 'azure-ptu-key-routing-0123456789';
const OPENAI_KEY = 'sk-payg-routing-0123456789';
const MASTER = 'sk-master-routing-reserved-0123456789';
const PROMPT =
  'say one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
const PTU_KEY = 'azure-ptu/gpt-4o-mini-ptu';

let azure: Emulator;
let payg: Emulator;
let app: App;
let url: string;
let offset = 0;
const base = Date.now();

beforeAll(async () => {
  azure = await startOpenAIEmulator({
    flavor: 'azure',
    apiKey: AZURE_KEY,
    // 100 tokens per minute upstream: two or three requests, then 429.
    ptu: { 'gpt-4o-mini-ptu': 100 },
  });
  payg = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY });
  const config = validateConfig({
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: MASTER },
    partners: { azure: { name: 'Azure' }, openai: { name: 'OpenAI' } },
    providers: {
      'azure-ptu': {
        type: 'azure-openai',
        partner: 'azure',
        baseUrl: azure.url,
        apiKey: AZURE_KEY,
        apiVersion: '2024-10-21',
      },
      payg: { type: 'openai', partner: 'openai', baseUrl: `${payg.url}/v1`, apiKey: OPENAI_KEY },
    },
    models: {
      reserved: {
        deployments: [
          // The gateway's window is larger than the upstream's: the upstream 429 decides.
          { provider: 'azure-ptu', model: 'gpt-4o-mini-ptu', reservedTpm: 1_000_000 },
          { provider: 'payg', model: 'gpt-4o-mini' },
        ],
      },
      windowed: {
        deployments: [
          // The gateway's own window (90 tokens) fills before the upstream refuses anything.
          { provider: 'azure-ptu', model: 'gpt-4o-mini-big', reservedTpm: 90 },
          { provider: 'payg', model: 'gpt-4o-mini' },
        ],
      },
    },
    routing: { retries: 0 },
  });
  app = await createApp({
    config,
    logger: createLogger({ level: 'silent' }),
    clock: () => base + offset,
  });
  url = (await app.listen(0, '127.0.0.1')).url;
});
afterAll(async () => {
  await app?.close();
  await azure?.close();
  await payg?.close();
});

interface DeploymentView {
  key: string;
  provider: string;
  position: number;
  reserved_tpm: number | null;
  reserved_used_tokens: number | null;
  spilling_until: string | null;
  spilling_reason: string | null;
}

async function view(
  name = 'reserved',
): Promise<{ at: string; order: string[]; byKey: Map<string, DeploymentView> }> {
  const answer = await request(`${url}/v1/routing`, {
    headers: { authorization: `Bearer ${MASTER}` },
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  expect(answer.statusCode).toBe(200);
  const body = (await answer.body.json()) as {
    at: string;
    data: Array<{ model: string; order: string[]; deployments: DeploymentView[] }>;
  };
  const model = body.data.find((entry) => entry.model === name)!;
  return {
    at: body.at,
    order: model.order,
    byKey: new Map(model.deployments.map((deployment) => [deployment.key, deployment])),
  };
}

async function ask(model = 'reserved') {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER, maxRetries: 0 });
  const { data, response } = await client.chat.completions
    .create({ model, max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] })
    .withResponse();
  expect(data.choices[0]!.message.content).toBeTruthy();
  return response.headers.get('x-switchyard-deployment')!;
}

/** Tokens the usage events booked on the PTU, once `count` requests have their events. */
async function bookedOnPtu(count: number, model = 'reserved'): Promise<number> {
  const events = await waitFor(async () => {
    const all = await app.usage.list({ model });
    return all.length === count ? all : undefined;
  });
  return events
    .filter((event) => event.deployment === 'azure-ptu')
    .reduce((sum, event) => sum + event.inputTokens + event.outputTokens, 0);
}

describe('/v1/routing reserved capacity state on the sandbox Azure PTU', () => {
  it('shows reserved_tpm, the tokens used in the minute, and spilling_until after an upstream 429', async () => {
    const idle = await view();
    expect(idle.order).toEqual([PTU_KEY, 'payg/gpt-4o-mini']);
    expect(idle.byKey.get(PTU_KEY)).toMatchObject({
      reserved_tpm: 1_000_000,
      reserved_used_tokens: 0,
      spilling_until: null,
      spilling_reason: null,
    });
    expect(idle.byKey.get('payg/gpt-4o-mini')).toMatchObject({
      reserved_tpm: null,
      reserved_used_tokens: null,
      spilling_until: null,
      spilling_reason: null,
    });

    // One request on the PTU: the view counts the tokens its usage event booked.
    expect(await ask()).toBe('azure-ptu');
    const first = await bookedOnPtu(1);
    expect(first).toBeGreaterThan(0);
    const afterOne = await waitFor(async () => {
      const current = await view();
      return current.byKey.get(PTU_KEY)!.reserved_used_tokens === first ? current : undefined;
    });
    expect(afterOne.byKey.get(PTU_KEY)!.spilling_until).toBeNull();

    // Until the PTU's upstream minute is used and a request spills to pay-as-you-go.
    const served = ['azure-ptu'];
    for (let i = 0; i < 10 && !served.includes('payg'); i++) served.push(await ask());
    expect(served.at(-1)).toBe('payg');
    const booked = await bookedOnPtu(served.length);
    const spilling = await waitFor(async () => {
      const current = await view();
      // The refused attempt's estimate is given back once its usage event settles.
      return current.byKey.get(PTU_KEY)!.reserved_used_tokens === booked ? current : undefined;
    });
    const ptu = spilling.byKey.get(PTU_KEY)!;
    expect(ptu.spilling_reason).toBe('upstream_429');
    expect(ptu.spilling_until).not.toBeNull();
    expect(Date.parse(ptu.spilling_until!)).toBeGreaterThan(Date.parse(spilling.at));
    expect(spilling.order).toEqual(['payg/gpt-4o-mini', PTU_KEY]);
    expect(ptu.position).toBe(1);

    // A minute and a second later (the test's clock): the window is empty, the PTU first again.
    offset += 62_000;
    const later = await view();
    expect(later.byKey.get(PTU_KEY)).toMatchObject({
      reserved_tpm: 1_000_000,
      reserved_used_tokens: 0,
      spilling_until: null,
      spilling_reason: null,
      position: 0,
    });
  }, 60_000);

  it('shows spilling_reason window once the gateway window of the deployment is used', async () => {
    const key = 'azure-ptu/gpt-4o-mini-big';
    const before = azure.requests;
    const served: string[] = [];
    for (let i = 0; i < 8 && !served.includes('payg'); i++) served.push(await ask('windowed'));
    expect(served[0]).toBe('azure-ptu');
    expect(served.at(-1)).toBe('payg');
    // The spill happened in the gateway: the upstream saw only the requests it served.
    expect(azure.requests - before).toBe(served.filter((name) => name === 'azure-ptu').length);
    const booked = await bookedOnPtu(served.length, 'windowed');
    const current = await waitFor(async () => {
      const state = await view('windowed');
      return state.byKey.get(key)!.reserved_used_tokens === booked ? state : undefined;
    });
    const ptu = current.byKey.get(key)!;
    expect(ptu.reserved_tpm).toBe(90);
    expect(booked).toBeGreaterThan(0);
    expect(booked).toBeLessThanOrEqual(90);
    expect(ptu.spilling_reason).toBe('window');
    expect(Date.parse(ptu.spilling_until!)).toBeGreaterThan(Date.parse(current.at));
    expect(current.order).toEqual(['payg/gpt-4o-mini', key]);
  }, 60_000);
});
