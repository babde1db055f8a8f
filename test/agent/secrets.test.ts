import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import {
  createSecretBox,
  decodeSecretKey,
  deriveFromMasterKey,
  resolveSecretBox,
  SecretError,
} from '../../src/runtime/secrets.js';
import {
  callHttpTool,
  createHttpToolRegistry,
  httpToolJson,
} from '../../src/runtime/tools/http-tools.js';
import { createMemoryStore } from '../../src/runtime/tools/memory-store.js';
import { createAgentRunStore } from '../../src/store/runtime/agent-runs.js';
import { openRunRequest, sealRunRequest } from '../../src/store/runtime/run-secrets.js';
import { createDatabase, type Database, MIGRATIONS, migrate } from '../../src/store/index.js';
import { parseCreateResponse } from '../../src/surfaces/openai-responses/validate.js';
import { closedPort } from '../fakes/upstream.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { http, type RunningApp, TENANT_A_KEY } from '../runtime/helpers.js';
import {
  type AgentRig,
  type ServeProcess,
  spawnServe,
  startAgentRig,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
  waitFor,
} from './helpers.js';

/**
 * Tool secrets at rest: MCP `headers`/`authorization` of background runs and the auth headers of
 * registered HTTP tools are sealed with AES-256-GCM (runtime/secrets.ts). The raw database never
 * holds them; a second `switchyard serve` process with the same config opens them and resumes a
 * run killed with SIGKILL; they never show in stored items, GET answers, stream replays or logs.
 * A database from before migration 0005 (tables created lazily, secrets in clear) migrates and
 * keeps working. On a SQLite file and on Postgres.
 */

// One fresh database for the upgrade suite, one for the processes.
const pgUpgrade = await pgTestUrl();
const pgProcesses = pgUpgrade ? await pgTestUrl() : undefined;
if (!pgUpgrade) console.warn(PG_SKIP_MESSAGE);
afterAll(async () => {
  await pgUpgrade?.drop();
  await pgProcesses?.drop();
});

const key = () => randomBytes(32);

describe('secret box', () => {
  it('seals with a fresh IV, binds the value to its row, and refuses other keys or tampering clearly', () => {
    const box = createSecretBox(key(), 'config');
    const token = box.seal('Bearer s3cret', 'agent_runs:resp_1');
    expect(token).toMatch(new RegExp(`^enc:v1:${box.keyId}:[A-Za-z0-9_-]+$`));
    expect(token).not.toContain('s3cret');
    expect(box.seal('Bearer s3cret', 'agent_runs:resp_1')).not.toBe(token);
    expect(box.open(token, 'agent_runs:resp_1')).toBe('Bearer s3cret');
    expect(box.isSealed(token)).toBe(true);
    // Another row, another key, a flipped byte.
    expect(() => box.open(token, 'agent_runs:resp_2')).toThrow(SecretError);
    const other = createSecretBox(key(), 'config');
    expect(() => other.open(token, 'agent_runs:resp_1')).toThrow(
      new RegExp(`sealed with key ${box.keyId}.*runtime\\.secretKey`),
    );
    const raw = Buffer.from(token.split(':')[3]!, 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(() =>
      box.open(`enc:v1:${box.keyId}:${raw.toString('base64url')}`, 'agent_runs:resp_1'),
    ).toThrow(/failed authentication/);
    // Legacy plaintext passes through; previous keys still open what they sealed.
    expect(box.open('X-Key: plain', 'anything')).toBe('X-Key: plain');
    const oldKey = key();
    const rotated = createSecretBox(key(), 'config', [oldKey]);
    expect(rotated.open(createSecretBox(oldKey, 'config').seal('old', 'c'), 'c')).toBe('old');
  });

  it('takes the key from runtime.secretKey, else the master key, else a 0600 key file next to the SQLite db', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-secrets-'));
    try {
      const configured = key();
      const fromConfig = resolveSecretBox({
        secretKey: configured.toString('base64'),
        masterKey: 'sk-master',
        store: 'sqlite::memory:',
      });
      expect(fromConfig.box.source).toBe('config');
      expect(fromConfig.box.keyId).toBe(createSecretBox(configured, 'config').keyId);
      const fromMaster = resolveSecretBox({ masterKey: 'sk-master', store: 'postgres://db/x' });
      expect(fromMaster.box.source).toBe('master-key');
      expect(fromMaster.warning).toBeUndefined();
      expect(resolveSecretBox({ masterKey: 'sk-master', store: 'sqlite::memory:' }).box.keyId).toBe(
        fromMaster.box.keyId,
      );
      expect(fromMaster.box.keyId).not.toBe(
        resolveSecretBox({ masterKey: 'sk-other', store: 'sqlite::memory:' }).box.keyId,
      );
      expect(deriveFromMasterKey('sk-master')).toHaveLength(32);

      const store = `sqlite:${join(dir, 'data', 'switchyard.db')}`;
      const first = resolveSecretBox({ store });
      expect(first.box.source).toBe('key-file');
      expect(first.keyFile).toBe(join(dir, 'data', 'switchyard.db.secret-key'));
      expect(statSync(first.keyFile!).mode & 0o777).toBe(0o600);
      const second = resolveSecretBox({ store });
      expect(second.box.keyId).toBe(first.box.keyId);
      expect(second.box.open(first.box.seal('x', 'c'), 'c')).toBe('x');

      const inMemory = resolveSecretBox({ store: 'sqlite::memory:' });
      expect(inMemory.box.source).toBe('ephemeral');
      expect(inMemory.warning).toBeUndefined();
      expect(resolveSecretBox({ store: 'postgres://db/x' }).warning).toMatch(/runtime\.secretKey/);
      expect(() => decodeSecretKey(randomBytes(31).toString('base64'))).toThrow(/32 bytes/);
      expect(() => validateConfig({ runtime: { secretKey: 'too-short' } })).toThrow(
        /runtime\.secretKey: must be base64 of exactly 32 bytes/,
      );
      expect(
        validateConfig({ runtime: { secretKey: '${K}' } }, { K: configured.toString('base64') })
          .runtime.secretKey,
      ).toBe(configured.toString('base64'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a registered tool whose auth header was sealed under another key still shows has_auth_header, and its calls fail instead of going out without it', async () => {
    const database = await createDatabase('sqlite::memory:');
    try {
      await migrate(database);
      await createHttpToolRegistry(database, createSecretBox(key(), 'config')).put({
        name: 'sealed',
        description: null,
        parameters: {},
        url: 'https://tool.example',
        authHeader: 'X-Tool-Key: other-key',
        timeoutMs: 1000,
        idempotent: false,
        createdAt: 0,
      });
      const tool = (await createHttpToolRegistry(database, createSecretBox(key(), 'config')).get(
        'sealed',
      ))!;
      expect(tool).toMatchObject({
        authHeader: null,
        secretsError: expect.stringMatching(/sealed with key/),
      });
      expect(httpToolJson(tool)).toMatchObject({ has_auth_header: true });
      await expect(
        callHttpTool(tool, '{}', { allowPrivateNetworks: false, allowHosts: [] }),
      ).rejects.toThrow(/cannot be decrypted here/);
    } finally {
      await database.close();
    }
  });

  it('seals every tool secret of a run request and nothing else', () => {
    const box = createSecretBox(key(), 'config');
    const params = parseCreateResponse({
      model: 'm',
      input: 'hi',
      tools: [
        {
          type: 'mcp',
          server_label: 's',
          server_url: 'https://mcp.example',
          authorization: 'tok-1',
          headers: { 'X-Key': 'hdr-2' },
        },
      ],
    });
    const request = {
      params,
      mcpTools: params.mcpTools,
      httpTools: [
        { name: 'lookup', url: 'https://tool.example', authHeader: 'X-Tool-Key: tool-3' },
        { name: 'open', url: 'https://tool.example', authHeader: null },
      ],
      principal: { tenantId: 't' },
      requestId: 'r',
    };
    const sealed = sealRunRequest(box, 'resp_1', request);
    const text = JSON.stringify(sealed);
    for (const secret of ['tok-1', 'hdr-2', 'tool-3']) expect(text).not.toContain(secret);
    expect(text).toContain('https://mcp.example');
    expect(text).toContain('"$sealed":"enc:v1:');
    expect(openRunRequest(box, 'resp_1', JSON.parse(text))).toEqual({
      request: JSON.parse(JSON.stringify(request)),
    });
    const opened = openRunRequest(createSecretBox(key(), 'config'), 'resp_1', JSON.parse(text));
    expect(opened.error).toMatch(/sealed with key/);
    expect(JSON.stringify(opened.request)).not.toContain('$sealed');
  });
});

const stores: Array<{ name: string; open: () => Promise<Database> }> = [
  { name: 'sqlite', open: () => createDatabase('sqlite::memory:') },
];
if (pgUpgrade) stores.push({ name: 'postgres', open: () => createDatabase(pgUpgrade.url) });

describe.each(stores)('upgrading a database from before 0005 on $name', ({ open }) => {
  it('migrates tables made lazily by earlier releases; their clear secrets are read, then sealed', async () => {
    const database = await open();
    try {
      const before = MIGRATIONS.slice(
        0,
        MIGRATIONS.findIndex((migration) => migration.name === '0005-agent'),
      );
      await migrate(database, before);
      // The tables exactly as ensureAgentTables and the HTTP tool registry created them on first use.
      const big = database.dialect === 'postgres' ? 'bigint' : 'integer';
      await sql
        .raw(
          `create table if not exists agent_runs (id text primary key, tenant_id text not null, status text not null, background integer not null, cancel_requested integer default 0 not null, lease_owner text, lease_expires_at ${big}, created_at ${big} not null, updated_at ${big} not null, request text not null, state text not null, response text not null, events text not null)`,
        )
        .execute(database.db);
      await sql
        .raw('create index if not exists agent_runs_lease on agent_runs (status, lease_expires_at)')
        .execute(database.db);
      await sql
        .raw(
          `create table if not exists agent_http_tools (name text primary key, description text, parameters text not null, url text not null, auth_header text, timeout_ms integer not null, idempotent integer not null, created_at ${big} not null)`,
        )
        .execute(database.db);
      const legacyRequest = {
        params: { model: 'm' },
        mcpTools: [
          {
            type: 'mcp',
            server_label: 's',
            server_url: 'https://mcp.example',
            headers: { authorization: 'Bearer legacy-mcp' },
          },
        ],
        principal: { tenantId: 't' },
        requestId: 'r',
      };
      await sql`insert into agent_runs (id, tenant_id, status, background, cancel_requested, lease_owner, lease_expires_at, created_at, updated_at, request, state, response, events) values ('resp_legacy', 't', 'completed', 1, 0, null, null, 1, 1, ${JSON.stringify(legacyRequest)}, '{}', '{"id":"resp_legacy"}', '[]')`.execute(
        database.db,
      );
      await sql`insert into agent_http_tools (name, description, parameters, url, auth_header, timeout_ms, idempotent, created_at) values ('legacy', null, '{}', 'https://tool.example', 'X-Tool-Key: legacy-tool', 1000, 0, 1)`.execute(
        database.db,
      );

      const applied = await migrate(database);
      expect(applied).toEqual(MIGRATIONS.slice(before.length).map((migration) => migration.name));
      expect(await migrate(database)).toEqual([]);

      const box = createSecretBox(key(), 'config');
      const run = await createAgentRunStore(database, box).get(null, 'resp_legacy');
      expect(run).toMatchObject({ status: 'completed', request: legacyRequest });
      expect(run!.secretsError).toBeUndefined();
      const registry = createHttpToolRegistry(database, box);
      expect(await registry.get('legacy')).toMatchObject({
        authHeader: 'X-Tool-Key: legacy-tool',
        url: 'https://tool.example',
      });
      const stored = await sql<{
        auth_header: string;
      }>`select auth_header from agent_http_tools where name = 'legacy'`.execute(database.db);
      expect(stored.rows[0]!.auth_header).toMatch(/^enc:v1:/);
      expect(await createHttpToolRegistry(database, box).get('legacy')).toMatchObject({
        authHeader: 'X-Tool-Key: legacy-tool',
      });
      // The memory table came with 0005.
      await createMemoryStore(database).set({ tenantId: 't', user: 'u' }, 'k', 'v', 1);
    } finally {
      await database.close();
    }
  });
});

describe('a run whose secrets were sealed under another key', () => {
  let mcp: TestMcpServer;
  let app: RunningApp;
  let rig: AgentRig | undefined;
  beforeAll(async () => {
    rig = await startAgentRig({ leaseMs: 500, workerIntervalMs: 100 });
    ({ mcp, app } = rig);
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('fails with tool_secrets_unavailable instead of calling the tool without them; GET still answers', async () => {
    const principal = await app.app.gateway.authenticate(
      { kind: 'bearer', token: TENANT_A_KEY },
      '127.0.0.1',
    );
    const params = parseCreateResponse({
      model: 'fake',
      input: 'CALL echo {"text":"x"}',
      background: true,
      tools: [
        {
          type: 'mcp',
          server_label: 'calc',
          server_url: mcp.url,
          require_approval: 'never',
          headers: { authorization: 'Bearer elsewhere' },
        },
      ],
    });
    const id = 'resp_otherkey';
    const shell = {
      id,
      object: 'response',
      created_at: 1,
      status: 'queued',
      background: true,
      model: 'fake',
      output: [],
      usage: null,
      error: null,
      incomplete_details: null,
      completed_at: null,
      store: true,
    };
    const events = [{ type: 'response.created', response: shell, sequence_number: 0 }];
    const state = {
      history: [],
      input: [
        {
          id: 'msg_1',
          type: 'message',
          role: 'user',
          content: [{ type: 'input_text', text: 'CALL echo {"text":"x"}' }],
        },
      ],
      output: [],
      usage: null,
      steps: 0,
      started: [],
      events,
      done: false,
    };
    await createAgentRunStore(app.app.database, createSecretBox(key(), 'config')).insert({
      id,
      tenantId: 'tenant-a',
      status: 'queued',
      background: true,
      request: { params, mcpTools: params.mcpTools, principal, requestId: 'req_1' },
      state,
      response: shell,
      events,
      owner: 'dead-owner',
      leaseExpiresAt: Date.now() - 1,
      now: Date.now(),
    });
    const failed = await waitFor(async () => {
      const body = (await http(`${app.url}/v1/responses/${id}`)).json();
      return body.status === 'failed' ? body : undefined;
    });
    expect(failed.error).toMatchObject({
      code: 'tool_secrets_unavailable',
      message: expect.stringContaining(`its key is ${app.app.runtime.agent.secrets.keyId}`),
    });
    expect(mcp.calls).toHaveLength(0);
    const replay = await http(`${app.url}/v1/responses/${id}?stream=true`);
    expect(replay.text).toContain('event: response.failed');
  });
});

const MCP_TOKEN = `mcp-token-${randomBytes(8).toString('hex')}`;
const MCP_HEADER = `mcp-header-${randomBytes(8).toString('hex')}`;
const HTTP_SECRET = `http-secret-${randomBytes(8).toString('hex')}`;
const SECRETS = [MCP_TOKEN, MCP_HEADER, HTTP_SECRET];
const TENANT_KEY = 'sk-secrets-tenant-0123456789';
const MASTER = 'sk-master-secrets-test';

const processStores: Array<{ name: string; store: (dir: string) => string }> = [
  { name: 'a SQLite file', store: (dir) => `sqlite:${join(dir, 'switchyard.db')}` },
];
if (pgProcesses) processStores.push({ name: 'Postgres', store: () => pgProcesses.url });

describe.each(processStores)('tool secrets across processes on $name', ({ store }) => {
  let workdir: string;
  let mcp: TestMcpServer;
  let model: Awaited<ReturnType<typeof startScriptedModel>>;
  let toolServer: Server;
  let toolUrl: string;
  const toolAuth: Array<string | undefined> = [];
  const children: ServeProcess[] = [];

  beforeAll(async () => {
    workdir = mkdtempSync(join(tmpdir(), 'switchyard-secrets-'));
    mcp = await startMcpServer();
    model = await startScriptedModel();
    toolServer = createServer((req, res) => {
      toolAuth.push(req.headers['x-tool-key'] as string | undefined);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('looked up'));
    });
    await new Promise<void>((resolve) => toolServer.listen(0, '127.0.0.1', resolve));
    toolUrl = `http://127.0.0.1:${(toolServer.address() as AddressInfo).port}/lookup`;
  });
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await model?.close();
    await mcp?.close();
    toolServer?.closeAllConnections();
    await new Promise<void>((resolve) => toolServer?.close(() => resolve()));
    rmSync(workdir, { recursive: true, force: true });
  });

  /** Every row of every table, as text. */
  async function databaseText(url: string): Promise<string> {
    if (url.startsWith('sqlite:')) {
      const db = new SqliteDatabase(url.slice('sqlite:'.length), { readonly: true });
      try {
        const tables = db
          .prepare("select name from sqlite_master where type = 'table'")
          .all() as Array<{ name: string }>;
        return tables
          .map((table) =>
            JSON.stringify(
              db.prepare(`select * from "${table.name}"`).raw().all(),
              (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
            ),
          )
          .join('\n');
      } finally {
        db.close();
      }
    }
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const tables = await pool.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public'",
      );
      const parts: string[] = [];
      for (const { table_name } of tables.rows)
        parts.push(
          ...(
            await pool.query<{ row: string }>(`select t::text as row from "${table_name}" t`)
          ).rows.map((row) => row.row),
        );
      return parts.join('\n');
    } finally {
      await pool.end();
    }
  }

  it('never stores a secret in clear; a second process with the same config opens them and finishes a run killed with SIGKILL', {
    timeout: 180_000,
  }, async () => {
    const url = store(workdir);
    process.env['SWITCHYARD_TEST_SECRET_KEY'] = randomBytes(32).toString('base64');
    const configPath = join(workdir, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: url,
        logging: { level: 'debug' },
        auth: { masterKey: MASTER },
        partners: { openai: { primary: true } },
        keys: [
          {
            key: TENANT_KEY,
            name: 'secrets',
            tenant: 'tenant-secrets',
            project: 'project-secrets',
          },
        ],
        providers: {
          fake: {
            type: 'openai',
            partner: 'openai',
            baseUrl: `${model.url}/v1`,
            apiKey: 'sk-fake',
          },
        },
        models: {
          fake: {
            capabilities: ['tools'],
            deployments: [{ provider: 'fake', model: 'fake-model' }],
          },
        },
        runtime: {
          secretKey: '${SWITCHYARD_TEST_SECRET_KEY}',
          tools: { allowPrivateNetworks: true, leaseMs: 1500, workerIntervalMs: 250 },
        },
      }),
    );
    const portA = await closedPort();
    const first = await spawnServe(configPath, portA, workdir);
    children.push(first);
    const a = `http://127.0.0.1:${portA}`;
    const registered = await http(`${a}/admin/v1/tools`, {
      key: MASTER,
      body: {
        name: 'lookup',
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
        url: toolUrl,
        auth_header: `X-Tool-Key: ${HTTP_SECRET}`,
      },
    });
    expect(registered.status).toBe(201);

    const script =
      'CALL slow {"ms":200,"tag":"s0"}; CALL slow {"ms":200,"tag":"s1"}; CALL lookup {"q":"x"}; CALL slow {"ms":200,"tag":"s2"}; DELAY 700';
    const created = await http(`${a}/v1/responses`, {
      key: TENANT_KEY,
      body: {
        model: 'fake',
        input: script,
        background: true,
        tools: [
          {
            type: 'mcp',
            server_label: 'slow',
            server_url: mcp.url,
            require_approval: 'never',
            authorization: MCP_TOKEN,
            headers: { 'X-Mcp-Key': MCP_HEADER },
          },
          { type: 'function', name: 'lookup', parameters: null },
        ],
      },
    });
    expect(created.status).toBe(200);
    const id = created.json().id as string;
    for (const secret of SECRETS) expect(created.text).not.toContain(secret);

    // Two tool calls done and checkpointed, the next model call in flight: kill -9.
    await waitFor(
      () => (mcp.calls.filter((call) => call.finished).length >= 2 ? true : undefined),
      30_000,
      5,
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    first.kill('SIGKILL');
    await once(first, 'exit');
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['s0', 's1']);

    // At rest: the run row holds sealed values only.
    const atRest = await databaseText(url);
    expect(atRest).toContain(id);
    expect(atRest).toContain('$sealed');
    for (const secret of SECRETS) expect(atRest).not.toContain(secret);

    const portB = await closedPort();
    const second = await spawnServe(configPath, portB, workdir);
    children.push(second);
    const b = `http://127.0.0.1:${portB}`;
    const done = await waitFor(
      async () => {
        const body = (await http(`${b}/v1/responses/${id}`, { key: TENANT_KEY })).json();
        return ['completed', 'failed', 'cancelled', 'incomplete'].includes(body.status)
          ? body
          : undefined;
      },
      60_000,
      100,
    );
    expect(done.status).toBe('completed');
    expect(JSON.stringify(done.output)).toContain('final: slow done s2');
    // Every call, before and after the crash, carried the secrets; none was repeated.
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['s0', 's1', 's2']);
    for (const call of mcp.calls) {
      expect(call.headers['authorization']).toBe(`Bearer ${MCP_TOKEN}`);
      expect(call.headers['x-mcp-key']).toBe(MCP_HEADER);
    }
    expect(toolAuth).toEqual([HTTP_SECRET]);

    // Nowhere to be seen: answers, replays, items, the tool listing, the database, the files, the logs.
    const answers = [
      (await http(`${b}/v1/responses/${id}`, { key: TENANT_KEY })).text,
      (await http(`${b}/v1/responses/${id}?stream=true`, { key: TENANT_KEY })).text,
      (await http(`${b}/v1/responses/${id}/input_items`, { key: TENANT_KEY })).text,
      (await http(`${b}/admin/v1/tools`, { key: MASTER })).text,
    ];
    expect(answers[1]).toContain('event: response.completed');
    second.kill('SIGTERM');
    await once(second, 'exit');
    const haystacks = [...answers, await databaseText(url), first.output(), second.output()];
    if (url.startsWith('sqlite:')) {
      const file = url.slice('sqlite:'.length);
      for (const path of [file, `${file}-wal`])
        if (existsSync(path)) haystacks.push(readFileSync(path).toString('latin1'));
    }
    expect(first.output()).toContain('"level":20');
    for (const haystack of haystacks)
      for (const secret of SECRETS) expect(haystack).not.toContain(secret);
  });
});
