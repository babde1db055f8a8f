import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
} from '@aws-sdk/client-bedrock-runtime';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { type ConfigInput, validateConfig } from '../../src/config/index.js';
import { SANDBOX_AWS, type SandboxClouds, startSandboxClouds } from '../../src/sandbox/preset.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { waitFor } from '../agent/helpers.js';

/**
 * Licences scoped by API kind and region, tenant residency and the coverage guard (issue 18,
 * items 1 and 5) on the sandbox clouds, driven by the openai, @anthropic-ai/sdk and AWS SDKs.
 *
 * The headline arrangement: the stateless APIs of `gpt-oss-120b` are exclusive to Azure, its
 * stateful runtime (stored responses, conversations, agent runs) runs on Bedrock.
 */

const MASTER = 'sk-master-licence-scope-0000';
const EU_KEY = 'sk-tenant-eu-0000000001';
const WEST_KEY = 'sk-tenant-west-000000001';

function config(sandbox: SandboxClouds, coverageGuard: 'refuse' | 'alert'): ConfigInput {
  const url = (name: string) => sandbox.clouds.get(name)!.url;
  return {
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: MASTER },
    keys: [
      { key: EU_KEY, tenant: 'acme-eu', project: 'eu-app' },
      { key: WEST_KEY, tenant: 'acme-west', project: 'west-app' },
    ],
    tenants: { 'acme-eu': { regions: ['eu-*'] }, 'acme-west': { regions: ['us-west-2'] } },
    partners: {
      azure: {
        primary: true,
        license: {
          from: '2019-07-22',
          until: '2032-01-01',
          exclusive: true,
          apis: ['chat', 'responses', 'embeddings'],
        },
      },
      aws: { license: { from: '2026-02-27', until: '2032-01-01', apis: ['stateful'] } },
      anthropic: {},
    },
    providers: {
      'sandbox-azure': {
        type: 'azure-openai',
        partner: 'azure',
        baseUrl: url('azure'),
        apiKey: 'sandbox-azure-key',
        apiVersion: '2024-10-21',
        sandbox: true,
      },
      'sandbox-anthropic': {
        type: 'anthropic',
        partner: 'anthropic',
        baseUrl: url('anthropic'),
        apiKey: 'sandbox-anthropic-key',
        sandbox: true,
      },
      'sandbox-bedrock': {
        type: 'bedrock',
        partner: 'aws',
        region: 'us-west-2',
        baseUrl: url('bedrock'),
        ...SANDBOX_AWS,
        sandbox: true,
      },
    },
    models: {
      'gpt-oss-120b': {
        deployments: [
          { provider: 'sandbox-azure', model: 'gpt-oss-120b', region: 'eastus' },
          { provider: 'sandbox-bedrock', model: 'openai.gpt-oss-120b-1:0' },
        ],
      },
      'claude-sonnet': {
        deployments: [
          { provider: 'sandbox-anthropic', model: 'claude-sonnet-4-5' },
          { provider: 'sandbox-bedrock', model: 'anthropic.claude-sonnet-4-5-v1:0' },
        ],
      },
    },
    routing: { retries: 0, coverageGuard },
  };
}

let sandbox: SandboxClouds;
let app: App;
let url: string;

beforeAll(async () => {
  sandbox = await startSandboxClouds();
  app = await createApp({
    config: validateConfig(config(sandbox, 'refuse')),
    logger: createLogger({ level: 'silent' }),
  });
  url = (await app.listen(0, '127.0.0.1')).url;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await sandbox?.close();
});

const openai = (key = MASTER) => new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });

describe('stateless APIs on Azure, the stateful runtime on Bedrock', () => {
  it('serves chat completions on Azure and says why Bedrock was skipped', async () => {
    const { data, response } = await openai()
      .chat.completions.create({
        model: 'gpt-oss-120b',
        messages: [{ role: 'user', content: 'say hello' }],
      })
      .withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    expect(response.headers.get('x-switchyard-deployment')).toBe('sandbox-azure');
    expect(response.headers.get('x-switchyard-skipped')).toBe(
      'sandbox-bedrock=exclusive licence of azure',
    );
  });

  it('serves a stateless response (store: false) on Azure', async () => {
    const { data, response } = await openai()
      .responses.create({ model: 'gpt-oss-120b', input: 'say hello', store: false })
      .withResponse();
    expect(data.output_text).toBeTruthy();
    expect(response.headers.get('x-switchyard-deployment')).toBe('sandbox-azure');
  });

  it('serves stored responses and their continuation on Bedrock, skipping Azure', async () => {
    const client = openai();
    const first = await client.responses
      .create({ model: 'gpt-oss-120b', input: 'remember the word teal' })
      .withResponse();
    expect(first.response.headers.get('x-switchyard-deployment')).toBe('sandbox-bedrock');
    expect(first.response.headers.get('x-switchyard-skipped')).toBe(
      'sandbox-azure=licence does not cover stateful',
    );
    const second = await client.responses
      .create({
        model: 'gpt-oss-120b',
        input: 'which word?',
        previous_response_id: first.data.id,
        store: false,
      })
      .withResponse();
    expect(second.data.output_text).toBeTruthy();
    expect(second.response.headers.get('x-switchyard-deployment')).toBe('sandbox-bedrock');
  });

  it('shows the reasons per API kind in /v1/routing, and the order for a scope', async () => {
    const view = (await (
      await fetch(`${url}/v1/routing?api=stateful`, {
        headers: { authorization: `Bearer ${MASTER}` },
      })
    ).json()) as {
      data: Array<{
        model: string;
        order: string[];
        deployments: Array<{
          provider: string;
          region: string | null;
          licence: { excluded: string | null; excluded_by_api: Record<string, string | null> };
        }>;
      }>;
    };
    const model = view.data.find((item) => item.model === 'gpt-oss-120b')!;
    expect(model.order).toEqual(['sandbox-bedrock/openai.gpt-oss-120b-1:0']);
    const azure = model.deployments.find((item) => item.provider === 'sandbox-azure')!;
    const bedrock = model.deployments.find((item) => item.provider === 'sandbox-bedrock')!;
    expect(azure.region).toBe('eastus');
    expect(bedrock.region).toBe('us-west-2');
    expect(azure.licence.excluded).toBe('licence does not cover stateful');
    expect(azure.licence.excluded_by_api).toMatchObject({ chat: null, responses: null });
    expect(bedrock.licence.excluded_by_api).toMatchObject({
      chat: 'exclusive licence of azure',
      stateful: null,
    });
  });
});

describe('tenants pinned to regions', () => {
  it('refuses a tenant pinned to a region with no deployment: 403 in the OpenAI shape', async () => {
    const error = await openai(EU_KEY)
      .chat.completions.create({
        model: 'gpt-oss-120b',
        messages: [{ role: 'user', content: 'hello' }],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const denied = error as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(denied.code).toBe('no_deployment_in_region');
    expect(denied.message).toContain('eu-*');
    expect(denied.headers?.get('x-switchyard-skipped')).toContain(
      "sandbox-azure=region eastus is outside the tenant's regions",
    );
  });

  it('serves a us-west-2 tenant only where its region and the licence both allow', async () => {
    // Stateful: Bedrock is in us-west-2 and licensed for it.
    const stored = await openai(WEST_KEY)
      .responses.create({ model: 'gpt-oss-120b', input: 'hello' })
      .withResponse();
    expect(stored.response.headers.get('x-switchyard-deployment')).toBe('sandbox-bedrock');
    // Chat: Azure is out of region, Bedrock's licence does not cover chat.
    const error = await openai(WEST_KEY)
      .chat.completions.create({
        model: 'gpt-oss-120b',
        messages: [{ role: 'user', content: 'hello' }],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as { code: string }).code).toBe('no_deployment_in_region');
  });
});

describe('coverage guard: refuse', () => {
  it('refuses a model with no agreement in force: 403 no_agreement in the Anthropic shape', async () => {
    const client = new Anthropic({ baseURL: url, apiKey: MASTER, maxRetries: 0 });
    const error = await client.messages
      .create({
        model: 'claude-sonnet',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hello' }],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const denied = error as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect((denied.error as { error: { type: string } }).error.type).toBe('permission_error');
    expect(denied.message).toContain('No agreement in force');
    expect(denied.headers?.get('x-switchyard-error-code')).toBe('no_agreement');
    expect(denied.headers?.get('x-switchyard-skipped')).toContain(
      'sandbox-anthropic=no agreement in force',
    );
  });

  it('refuses it in the Bedrock shape too (AccessDeniedException)', async () => {
    const client = new BedrockRuntimeClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'master', secretAccessKey: MASTER },
      maxAttempts: 1,
    });
    try {
      const error = await client
        .send(
          new ConverseCommand({
            modelId: 'claude-sonnet',
            messages: [{ role: 'user', content: [{ text: 'hello' }] }],
          }),
        )
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AccessDeniedException);
      expect((error as Error).message).toContain('No agreement in force');
    } finally {
      client.destroy();
    }
  });
});

describe('coverage guard: alert (the default)', () => {
  it('serves through a partner with no licence, counts it, alerts once and reports the gap', async () => {
    const secret = `whsec_${Buffer.from('licence-scope-alert-secret-0123456789').toString('base64')}`;
    const received: string[] = [];
    const headers: Array<Record<string, string>> = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        headers.push(request.headers as Record<string, string>);
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    const alerting = await createApp({
      config: validateConfig({
        ...config(sandbox, 'alert'),
        runtime: { tools: { allowPrivateNetworks: true, workerIntervalMs: 100 } },
        alerts: { webhooks: [{ url: hook, secret, events: ['agreement.gap'] }] },
      }),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const base = (await alerting.listen(0, '127.0.0.1')).url;
      const client = new Anthropic({ baseURL: base, apiKey: MASTER, maxRetries: 0 });
      for (let i = 0; i < 2; i++) {
        const { response } = await client.messages
          .create({
            model: 'claude-sonnet',
            max_tokens: 64,
            messages: [{ role: 'user', content: `hello ${i}` }],
          })
          .withResponse();
        expect(response.headers.get('x-switchyard-deployment')).toBe('sandbox-anthropic');
      }
      // One signed agreement.gap alert for the two requests (once per day and combination).
      const verifier = new OpenAI({ apiKey: 'unused', webhookSecret: secret });
      const first = await waitFor(() => received[0], 20_000);
      // Signed as every alert is (Standard Webhooks, checked with the openai SDK).
      expect(await verifier.webhooks.unwrap(first, headers[0]!)).toMatchObject({
        type: 'agreement.gap',
        data: {
          model: 'claude-sonnet',
          partner: 'anthropic',
          deployment: 'sandbox-anthropic',
          api: 'chat',
          region: null,
        },
      });
      const metrics = await (
        await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } })
      ).text();
      expect(metrics).toContain(
        'switchyard_agreement_gap_requests_total{model="claude-sonnet",partner="anthropic",api="chat"} 2',
      );
      expect(metrics).toMatch(
        /switchyard_agreement_coverage\{model="claude-sonnet",partner="anthropic",api="chat",region="unknown",status="gap"\} 1/,
      );
      const coverage = (await (
        await fetch(`${base}/admin/v1/agreements/coverage`, {
          headers: { authorization: `Bearer ${MASTER}` },
        })
      ).json()) as { gaps: Array<{ model: string; api: string }> };
      expect(coverage.gaps).toContainEqual({ model: 'claude-sonnet', api: 'chat' });
      expect(received.filter((body) => body.includes('agreement.gap'))).toHaveLength(1);
    } finally {
      await alerting.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
