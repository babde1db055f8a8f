import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkUrl,
  guardedFetch,
  guardedLookup,
  isPrivateAddress,
  OutboundBlockedError,
} from '../../src/runtime/tools/ssrf.js';
import { startApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { agentConfig, startMcpServer, startScriptedModel, type TestMcpServer } from './helpers.js';

/** The SSRF policy of outbound tool traffic, and per-call timeouts. */

const strict = { allowPrivateNetworks: false, allowHosts: [] };

describe('address classification', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['8.8.8.8', false],
    ['2606:4700::1111', false],
  ])('%s private=%s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('refuses private literals, localhost and non-http URLs unless allowed', () => {
    expect(() => checkUrl(strict, 'http://169.254.169.254/latest/meta-data/')).toThrow(
      OutboundBlockedError,
    );
    expect(() => checkUrl(strict, 'http://[::1]:8080/')).toThrow(OutboundBlockedError);
    expect(() => checkUrl(strict, 'http://localhost:8080/')).toThrow(OutboundBlockedError);
    expect(() => checkUrl(strict, 'file:///etc/passwd')).toThrow(OutboundBlockedError);
    expect(checkUrl(strict, 'https://example.com/mcp').hostname).toBe('example.com');
    expect(
      checkUrl({ allowPrivateNetworks: false, allowHosts: ['127.0.0.1'] }, 'http://127.0.0.1:1/')
        .port,
    ).toBe('1');
    expect(
      checkUrl({ allowPrivateNetworks: true, allowHosts: [] }, 'http://10.0.0.1/').hostname,
    ).toBe('10.0.0.1');
  });

  it('checks the resolved address, not the name', async () => {
    const error = await new Promise<Error | null>((resolve) =>
      guardedLookup(strict)('localhost', {}, (failure) => resolve(failure)),
    );
    expect(error).toBeInstanceOf(OutboundBlockedError);
    const allowed = await new Promise<Error | null>((resolve) =>
      guardedLookup({ allowPrivateNetworks: false, allowHosts: ['localhost'] })(
        'localhost',
        {},
        (failure) => resolve(failure),
      ),
    );
    expect(allowed).toBeNull();
  });
});

describe('guarded fetch', () => {
  let server: Server;
  let port: number;
  let hits: string[];
  const auth: Array<string | undefined> = [];
  beforeAll(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      auth.push(req.headers.authorization);
      if (req.url === '/to-ip')
        res.writeHead(302, { location: `http://127.0.0.1:${port}/secret` }).end();
      else if (req.url === '/to-name')
        res.writeHead(302, { location: `http://${hostname()}:${port}/secret` }).end();
      else if (req.url === '/to-metadata')
        res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      else if (req.url === '/to-ok')
        res.writeHead(302, { location: `http://localhost:${port}/ok` }).end();
      else res.writeHead(200).end(req.url === '/secret' ? 'secret' : 'ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses a DNS name that resolves to a private address (checked at connect)', async () => {
    // This machine's own name resolves to a loopback or private address.
    await expect(guardedFetch(strict)(`http://${hostname()}:${port}/ok`)).rejects.toMatchObject({
      cause: { code: 'ESWITCHYARD_SSRF' },
    });
    expect(hits).not.toContain('/ok');
  });

  it('refuses a redirect to a private address, by literal or by name', async () => {
    const policy = { allowPrivateNetworks: false, allowHosts: ['localhost'] };
    const fetch = guardedFetch(policy);
    expect(await (await fetch(`http://localhost:${port}/to-ok`)).text()).toBe('ok');
    await expect(fetch(`http://localhost:${port}/to-ip`)).rejects.toThrow(/Refusing/);
    await expect(fetch(`http://localhost:${port}/to-name`)).rejects.toMatchObject({
      cause: { code: 'ESWITCHYARD_SSRF' },
    });
    await expect(fetch(`http://localhost:${port}/to-metadata`)).rejects.toThrow(/Refusing/);
    expect(hits).not.toContain('/secret');
  });

  it('drops credentials on a redirect to another origin', async () => {
    const fetch = guardedFetch({
      allowPrivateNetworks: false,
      allowHosts: ['localhost', '127.0.0.1'],
    });
    auth.length = 0;
    const answer = await fetch(`http://localhost:${port}/to-ip`, {
      headers: { authorization: 'Bearer tool-secret' },
    });
    expect(await answer.text()).toBe('secret');
    expect(auth).toEqual(['Bearer tool-secret', undefined]);
  });
});

describe('policy and timeouts end to end', () => {
  let mcp: TestMcpServer;
  let model: Awaited<ReturnType<typeof startScriptedModel>>;
  beforeAll(async () => {
    mcp = await startMcpServer();
    model = await startScriptedModel();
  });
  afterAll(async () => {
    await model.close();
    await mcp.close();
  });

  it('refuses a loopback MCP server by default, and the metadata address', async () => {
    const config = agentConfig(model.url);
    const app = await startApp({ ...config, runtime: { tools: { allowPrivateNetworks: false } } });
    try {
      const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
      for (const url of [mcp.url, 'http://169.254.169.254/mcp']) {
        const before = mcp.requests.length;
        // The refused listing answers 424, as OpenAI answers an unreadable MCP tool list.
        await expect(
          client.responses.create({
            model: 'fake',
            input: 'CALL add {"a":1,"b":2}',
            tools: [{ type: 'mcp', server_label: 's', server_url: url, require_approval: 'never' }],
          }),
        ).rejects.toMatchObject({
          status: 424,
          message: expect.stringMatching(/Refusing to connect/),
        });
        expect(mcp.requests.length).toBe(before);
      }
    } finally {
      await app.close();
    }
  });

  it('times a slow tool call out and records the failure', async () => {
    const app = await startApp(agentConfig(model.url, { timeoutMs: 300 }));
    try {
      const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
      // The tool takes 3 s, the limit is 300 ms: the call must fail as timed out (no wall-clock
      // assertion here; a loaded CI machine stretches every duration).
      const response = await client.responses.create({
        model: 'fake',
        input: 'CALL slow {"ms":3000,"tag":"t"}',
        tools: [{ type: 'mcp', server_label: 's', server_url: mcp.url, require_approval: 'never' }],
      });
      const call = response.output.find(
        (item) => item.type === 'mcp_call',
      ) as OpenAI.Responses.ResponseOutputItem.McpCall;
      expect(call.status).toBe('failed');
      expect(call.error).toMatch(/timed out/i);
    } finally {
      await app.close();
    }
  });
});
