import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, MASTER_KEY, type RunningApp, startApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { agentConfig, startScriptedModel } from './helpers.js';

/** Server-registered HTTP tools: admin API, then models call them like function tools and Switchyard runs them. */

let model: Awaited<ReturnType<typeof startScriptedModel>>;
let app: RunningApp;
let client: OpenAI;
let toolServer: Server;
let toolUrl: string;
const received: Array<{ url: string; auth: string | undefined; body: string }> = [];

beforeAll(async () => {
  model = await startScriptedModel();
  app = await startApp(agentConfig(model.url));
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
  toolServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({
        url: req.url ?? '',
        auth: req.headers['x-tool-key'] as string | undefined,
        body,
      });
      if (req.url === '/broken') res.writeHead(500).end('boom');
      else
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            answer: `looked up ${String((JSON.parse(body) as { q?: string }).q)}`,
          }),
        );
    });
  });
  await new Promise<void>((resolve) => toolServer.listen(0, '127.0.0.1', resolve));
  toolUrl = `http://127.0.0.1:${(toolServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await model?.close();
  toolServer?.closeAllConnections();
  await new Promise<void>((resolve) => toolServer?.close(() => resolve()));
});

const schema = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };

describe('server-registered HTTP tools', () => {
  it('registers, lists and shows tools (master key only, secret never shown)', async () => {
    const created = await http(`${app.url}/admin/v1/tools`, {
      key: MASTER_KEY,
      body: {
        name: 'lookup',
        description: 'Looks things up',
        parameters: schema,
        url: `${toolUrl}/lookup`,
        auth_header: 'X-Tool-Key: tool-secret-42',
        timeout_ms: 2000,
        idempotent: true,
      },
    });
    expect(created.status).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'lookup',
      has_auth_header: true,
      idempotent: true,
      timeout_ms: 2000,
    });
    expect(created.text).not.toContain('tool-secret-42');
    await http(`${app.url}/admin/v1/tools`, {
      key: MASTER_KEY,
      body: { name: 'broken', parameters: schema, url: `${toolUrl}/broken` },
    });
    const listed = await http(`${app.url}/admin/v1/tools`, { key: MASTER_KEY });
    expect(listed.json().data.map((tool: { name: string }) => tool.name)).toEqual([
      'broken',
      'lookup',
    ]);
    expect(listed.text).not.toContain('tool-secret-42');
    expect((await http(`${app.url}/admin/v1/tools`, { key: TENANT_A_KEY })).status).toBe(403);
    expect(
      (
        await http(`${app.url}/admin/v1/tools`, {
          key: MASTER_KEY,
          body: { name: 'bad name', parameters: schema, url: toolUrl },
        })
      ).status,
    ).toBe(400);
    expect((await http(`${app.url}/admin/v1/tools/nope`, { key: MASTER_KEY })).status).toBe(404);
  });

  it('the model calls a registered tool; Switchyard runs it and answers', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL lookup {"q":"gravity"}',
      tools: [{ type: 'function', name: 'lookup', parameters: null, strict: null }],
    });
    expect(response.output.map((item) => item.type)).toEqual([
      'function_call',
      'function_call_output',
      'message',
    ]);
    expect(response.output[0]).toMatchObject({
      name: 'lookup',
      arguments: '{"q":"gravity"}',
      status: 'completed',
    });
    expect(response.output_text).toBe('final: {"answer":"looked up gravity"}');
    expect(received.at(-1)).toMatchObject({
      url: '/lookup',
      auth: 'tool-secret-42',
      body: '{"q":"gravity"}',
    });
    // The schema registered was offered to the model.
    expect(JSON.stringify(model.requests[0]!.tools)).toContain('"required":["q"]');
    const stored = await http(`${app.url}/v1/responses/${response.id}`);
    expect(stored.text).not.toContain('tool-secret-42');
  });

  it('a failing tool becomes an error output the model sees', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL broken {"q":"x"}',
      tools: [{ type: 'function', name: 'broken', parameters: null, strict: null }],
    });
    expect(response.output_text).toContain("Error: HTTP tool 'broken' answered 500");
  });

  it('deletes a tool; it is then an ordinary client function again', async () => {
    expect(
      (
        await http(`${app.url}/admin/v1/tools/broken`, { method: 'DELETE', key: MASTER_KEY })
      ).json(),
    ).toMatchObject({ deleted: true });
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL broken {"q":"x"}',
      tools: [{ type: 'function', name: 'broken', parameters: schema, strict: false }],
    });
    expect(response.output.map((item) => item.type)).toEqual(['function_call']);
  });
});
