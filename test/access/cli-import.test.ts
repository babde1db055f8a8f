import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAccessCommands } from '../../src/cli/access-commands.js';
import { call, type RunningGateway, startGateway } from '../helpers/gateway.js';

/** `switchyard keys import` against a running gateway, over real HTTP. */

const MASTER = 'sk-master-import-test';
const admin = { authorization: `Bearer ${MASTER}` };
let gateway: RunningGateway;
let dir: string;

beforeAll(async () => {
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    providers: { up: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: {
      m: { deployments: [{ provider: 'up', model: 'x' }] },
      'gpt-4o-mini': { deployments: [{ provider: 'up', model: 'x' }] },
    },
  });
  dir = mkdtempSync(join(tmpdir(), 'switchyard-import-'));
  await call(`${gateway.url}/admin/v1/tenants`, {
    body: { id: 'acme', name: 'Acme' },
    headers: admin,
  });
  for (const id of ['web', 'api', 'quiet', 'other']) {
    const answer = await call(`${gateway.url}/admin/v1/projects`, {
      body: { id, tenant_id: 'acme', name: id },
      headers: admin,
    });
    expect(answer.status).toBe(201);
  }
});
afterAll(() => gateway?.close());

/** Runs `switchyard <args>` with the access commands, capturing stdout, stderr, the progress stream and the exit code. */
async function cli(args: string[], options: { stdin?: string } = {}) {
  let out = '';
  let err = '';
  let progress = '';
  const progressStream = Object.assign(
    new Writable({ write: (chunk, _encoding, done) => ((progress += String(chunk)), done()) }),
    { isTTY: false },
  );
  const program = new Command('switchyard')
    .exitOverride()
    .configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  registerAccessCommands(program, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    progress: progressStream,
    ...(options.stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(options.stdin)]) }),
  });
  process.exitCode = undefined;
  try {
    await program.parseAsync([
      'node',
      'switchyard',
      ...args,
      '--url',
      gateway.url,
      '--key',
      MASTER,
    ]);
  } catch (error) {
    if ((error as { code?: string }).code !== 'commander.helpDisplayed') throw error;
  }
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { out, err, progress, code };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function keysOf(project: string): Promise<any[]> {
  const answer = await call(`${gateway.url}/admin/v1/keys?project_id=${project}&limit=1000`, {
    headers: admin,
  });
  expect(answer.status).toBe(200);
  return answer.body.data;
}

async function modelsWith(secret: string) {
  return call(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
}

/** Rows of the secrets table printed on stdout: line, id, project, name, secret. */
function secretsTable(
  out: string,
): { line: number; id: string; project: string; name: string; secret: string }[] {
  const lines = out.split('\n');
  const header = lines.findIndex((line) => /^LINE\s+ID\s+PROJECT\s+NAME\s+SECRET$/.test(line));
  expect(header).toBeGreaterThanOrEqual(0);
  const rows = [];
  for (const line of lines.slice(header + 1)) {
    const match = /^(\d+)\s+(key_\S+)\s+(\S+)\s+(.+?)\s+(sk-sy-\S+)$/.exec(line);
    if (!match) break;
    rows.push({
      line: Number(match[1]),
      id: match[2]!,
      project: match[3]!,
      name: match[4]!,
      secret: match[5]!,
    });
  }
  return rows;
}

describe('switchyard keys import', () => {
  it('imports a CSV across two projects; the keys authenticate and are listed', async () => {
    const path = file(
      'keys.csv',
      `${[
        'Project,Name,Models,RPM,TPM,Max-Concurrent,Budget_USD,Period,Soft,Alert,Metadata,Tags,Expires',
        'web,ci,"m,claude-*",600,,4,25.50,week,true,80,team=infra;owner=ana,ci;nightly,2099-01-01T00:00:00Z',
        'web,dev,,,50000,,,,,,,,',
        '',
        'api,batch,gpt-4o-mini,10,,,100,,,,,batch,',
        '"api","with, comma",all,,,,,,,,,,never',
      ].join('\r\n')}\r\n`,
    );
    const result = await cli(['keys', 'import', path]);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const created = secretsTable(result.out);
    expect(created.map((row) => [row.line, row.project])).toEqual([
      [2, 'web'],
      [3, 'web'],
      [5, 'api'],
      [6, 'api'],
    ]);
    expect(result.out).toMatch(/shown once/);
    expect(result.out).toMatch(/Created 4 key\(s\); failed 0\./);
    expect(created[3]!.name).toBe('with, comma');

    for (const row of created) {
      expect(row.secret).toMatch(/^sk-sy-[A-Za-z0-9]{40}$/);
      expect((await modelsWith(row.secret)).status).toBe(200);
      expect(result.err + result.progress).not.toContain(row.secret);
    }
    expect((await modelsWith('sk-sy-not-a-real-key-000000000000000000000000')).status).toBe(401);

    const ci = (await call(`${gateway.url}/admin/v1/keys/${created[0]!.id}`, { headers: admin }))
      .body;
    expect(ci).toMatchObject({
      project_id: 'web',
      tenant_id: 'acme',
      name: 'ci',
      allowed_models: ['m', 'claude-*'],
      limits: { rpm: 600, tpm: null, max_concurrent: 4 },
      budget: { amount_micros: '25500000', period: 'week', mode: 'soft', alert_percent: 80 },
      metadata: { team: 'infra', owner: 'ana' },
      tags: ['ci', 'nightly'],
      expires_at: '2099-01-01T00:00:00.000Z',
    });
    expect(
      (await modelsWith(created[0]!.secret)).body.data.map((model: { id: string }) => model.id),
    ).toEqual(['m']);
    const batch = (await call(`${gateway.url}/admin/v1/keys/${created[2]!.id}`, { headers: admin }))
      .body;
    expect(batch).toMatchObject({
      allowed_models: ['gpt-4o-mini'],
      limits: { rpm: 10 },
      budget: { amount_micros: '100000000', period: 'month', mode: 'hard', alert_percent: null },
      tags: ['batch'],
      expires_at: null,
    });
    expect(
      (await call(`${gateway.url}/admin/v1/keys/${created[3]!.id}`, { headers: admin })).body,
    ).toMatchObject({ name: 'with, comma', allowed_models: null });

    const listed = (await cli(['keys', 'list', '--project', 'web'])).out;
    expect(listed).toContain(created[0]!.id);
    expect(listed).toContain(created[1]!.id);
    expect(listed).not.toContain(created[0]!.secret);
    expect((await cli(['keys', 'list', '--project', 'api'])).out).toContain(created[2]!.id);
  });

  it('imports JSON Lines (the admin API body per line) from stdin, with --json', async () => {
    const lines = [
      JSON.stringify({
        project_id: 'web',
        name: 'j1',
        allowed_models: ['m'],
        limits: { rpm: 5 },
        budget: { amount_micros: '2000000', period: 'day' },
      }),
      '',
      JSON.stringify({
        project_id: 'api',
        name: 'j2',
        metadata: { a: 'b' },
        expires_at: '2099-06-01T00:00:00Z',
      }),
    ];
    const result = await cli(['keys', 'import', '-', '--format', 'jsonl', '--json'], {
      stdin: `${lines.join('\n')}\n`,
    });
    expect(result.code).toBe(0);
    expect(result.progress).toBe(''); // --json is for scripts: no progress lines
    const report = JSON.parse(result.out);
    expect(report.failed).toEqual([]);
    expect(report.created.map((key: any) => [key.line, key.project_id, key.name])).toEqual([
      [1, 'web', 'j1'],
      [3, 'api', 'j2'],
    ]);
    for (const key of report.created) expect((await modelsWith(key.secret)).status).toBe(200);
    expect(
      (await call(`${gateway.url}/admin/v1/keys/${report.created[0].id}`, { headers: admin })).body,
    ).toMatchObject({
      limits: { rpm: 5 },
      budget: { amount_micros: '2000000', period: 'day', mode: 'hard' },
    });
    expect(result.err).not.toContain('sk-sy-');
  });

  it('detects .jsonl / .ndjson by extension and refuses an unknown extension without --format', async () => {
    const path = file('one.ndjson', `${JSON.stringify({ project_id: 'other', name: 'nd' })}\n`);
    const result = await cli(['keys', 'import', path, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/would create 1 key/);
    const unknown = await cli(['keys', 'import', file('keys.txt', 'project\nother\n')]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/pass --format csv or --format jsonl/);
    expect((await cli(['keys', 'import', '-'], { stdin: 'project\nother\n' })).err).toMatch(
      /stdin needs --format/,
    );
  });

  it('checks every row first: bad rows are named by line and nothing is created', async () => {
    const before = (await keysOf('other')).length;
    const path = file(
      'bad.csv',
      [
        'project,name,models,rpm,budget_usd,period,metadata,expires',
        'other,ok,m,10,,,,',
        'other,bad-rpm,m,ten,,,,',
        ',no-project,m,,,,,',
        'other,bad-model,"gpt*x",,,,,',
        'other,ok2,,,,,,',
        'other,bad-period,,,,fortnight,,',
        'other,bad-meta,,,,,novalue,',
        'other,bad-date,,,,,,someday',
        'other,too-many,,,,,,,',
      ].join('\n'),
    );
    const result = await cli(['keys', 'import', path]);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^error: 7 invalid row\(s\) in .*bad\.csv; nothing was created/);
    expect(result.err).toMatch(/line 3: rpm: expected a positive integer, got "ten"/);
    expect(result.err).toMatch(/line 4: project is required/);
    expect(result.err).toMatch(/line 5: models: a model name, or a prefix ending in \*/);
    expect(result.err).toMatch(/line 7: period: expected day, week, month or total/);
    expect(result.err).toMatch(/line 8: metadata: expected key=value/);
    expect(result.err).toMatch(/line 9: expires: expected an ISO date-time/);
    expect(result.err).toMatch(/line 10: has 9 field\(s\), the header has 8/);
    expect(result.err).not.toMatch(/line [26]:/);
    expect((await keysOf('other')).length).toBe(before);

    const jsonl = file(
      'bad.jsonl',
      [
        JSON.stringify({ project_id: 'other' }),
        '{not json',
        JSON.stringify({ project_id: 'other', rpm: 5 }),
        '[1]',
      ].join('\n'),
    );
    const jsonlResult = await cli(['keys', 'import', jsonl]);
    expect(jsonlResult.code).toBe(1);
    expect(jsonlResult.err).toMatch(/line 2: not JSON/);
    expect(jsonlResult.err).toMatch(/line 3: .*rpm/);
    expect(jsonlResult.err).toMatch(/line 4: expected a JSON object/);
    expect((await keysOf('other')).length).toBe(before);

    const header = await cli(['keys', 'import', file('header.csv', 'name,colour\nx,red\n')]);
    expect(header.err).toMatch(
      /line 1: header: unknown column "colour"; the "project" column is required/,
    );
    const quoting = await cli([
      'keys',
      'import',
      file('quoting.csv', 'project,name\nother,"open\n'),
    ]);
    expect(quoting.err).toMatch(/line 2: unterminated quoted field/);
  });

  it('--continue-on-error skips invalid rows and goes on past an API failure; exit 1 names them', async () => {
    const before = (await keysOf('other')).length;
    const path = file(
      'partial.csv',
      ['project,name', 'other,a', 'nope,b', 'other,c', 'other,d,extra', 'other,e'].join('\n'),
    );
    const result = await cli(['keys', 'import', path, '--continue-on-error', '--concurrency', '2']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/warning: skipping 1 invalid row\(s\).*\n\s+line 5: has 3 field/);
    expect(secretsTable(result.out).map((row) => row.name)).toEqual(['a', 'c', 'e']);
    expect(result.out).toMatch(/Created 3 key\(s\); failed 1; invalid 1\./);
    expect(result.out).toMatch(/Failed:\n\s+line 3: 404: No project with id "nope"/);
    expect((await keysOf('other')).length).toBe(before + 3);
  });

  it('without --continue-on-error, stops at the first API failure and says what was not attempted', async () => {
    const before = (await keysOf('other')).length;
    const path = file(
      'stop.csv',
      ['project,name', 'other,s1', 'missing,s2', 'other,s3', 'other,s4', 'other,s5'].join('\n'),
    );
    const result = await cli(['keys', 'import', path, '--concurrency', '1']);
    expect(result.code).toBe(1);
    expect(secretsTable(result.out).map((row) => row.line)).toEqual([2]);
    expect(result.out).toMatch(/Created 1 key\(s\); failed 1; not attempted 3\./);
    expect(result.out).toMatch(/line 3: 404: No project with id "missing"/);
    expect(result.out).toMatch(/Not attempted after the first failure \(lines 4-6\)/);
    expect((await keysOf('other')).length).toBe(before + 1);
  });

  it('writes secrets to --secrets-out with mode 0600 and never overwrites it', async () => {
    const before = (await keysOf('other')).length;
    const input = file('to-file.csv', 'project,name\nother,f1\nother,"f2, quoted"\n');
    const out = join(dir, 'secrets.csv');
    const result = await cli(['keys', 'import', input, '--secrets-out', out]);
    expect(result.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const written = readFileSync(out, 'utf8').split('\n');
    expect(written[0]).toBe('line,id,project,name,secret');
    expect(written[1]).toMatch(/^2,key_\w+,other,f1,sk-sy-[A-Za-z0-9]{40}$/);
    expect(written[2]).toMatch(/^3,key_\w+,other,"f2, quoted",sk-sy-[A-Za-z0-9]{40}$/);
    const secrets = written.slice(1, 3).map((line) => /(sk-sy-\w+)$/.exec(line)![1]!);
    for (const secret of secrets) {
      expect(result.out + result.err + result.progress).not.toContain(secret);
      expect((await modelsWith(secret)).status).toBe(200);
    }
    expect(result.out).toMatch(/Created 2 key\(s\) \(secrets in .*secrets\.csv\); failed 0\./);

    const again = await cli(['keys', 'import', input, '--secrets-out', out]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/secrets\.csv already exists; it is never overwritten/);
    expect(readFileSync(out, 'utf8').split('\n').slice(0, 3)).toEqual(written.slice(0, 3));
    expect((await keysOf('other')).length).toBe(before + 2);

    // JSON Lines by the file's extension, whatever the input format.
    const jsonOut = join(dir, 'secrets.jsonl');
    expect((await cli(['keys', 'import', input, '--secrets-out', jsonOut])).code).toBe(0);
    const entries = readFileSync(jsonOut, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(entries.map((entry) => [entry.line, entry.project_id, entry.name])).toEqual([
      [2, 'other', 'f1'],
      [3, 'other', 'f2, quoted'],
    ]);
    expect(entries[0].secret).toMatch(/^sk-sy-/);
    expect(statSync(jsonOut).mode & 0o777).toBe(0o600);
  });

  it('reports progress on the progress stream, a line per 10% when not a terminal, and none with --quiet', async () => {
    const rows = Array.from({ length: 20 }, (_, index) => `quiet,p${index}`);
    const path = file('progress.csv', ['project,name', ...rows].join('\n'));
    const result = await cli([
      'keys',
      'import',
      path,
      '--secrets-out',
      join(dir, 'progress-secrets.csv'),
    ]);
    expect(result.code).toBe(0);
    const lines = result.progress.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(11); // 0%..100% by tenths, then the closing line
    expect(lines.length).toBeLessThanOrEqual(12);
    for (const line of lines) expect(line).toMatch(/^import \[[█░]{24}\]\s+\d+%\s+\d+\/20/);
    expect(result.progress).toMatch(/import \[█{24}\] 100%\s+20\/20/);
    expect(result.progress).toMatch(/done in \d+:\d\d\n$/);
    expect(result.err).toBe('');

    const quiet = await cli([
      'keys',
      'import',
      path,
      '--quiet',
      '--secrets-out',
      join(dir, 'quiet-secrets.csv'),
    ]);
    expect(quiet.code).toBe(0);
    expect(quiet.progress).toBe('');
    expect((await keysOf('quiet')).length).toBe(40);
  });

  it('--dry-run checks and shows what would be created, and creates nothing', async () => {
    const before = (await keysOf('other')).length;
    const path = file(
      'dry.csv',
      'project,name,models,rpm,budget_usd\nother,d1,m,60,10\nother,d2,,,\n',
    );
    const result = await cli(['keys', 'import', path, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      /^Dry run: would create 2 key\(s\) from .*dry\.csv; nothing was created\./,
    );
    expect(result.out).toMatch(/LINE\s+PROJECT\s+NAME\s+MODELS\s+LIMITS\s+BUDGET\s+EXPIRES/);
    expect(result.out).toMatch(/2\s+other\s+d1\s+m\s+60 rpm\s+\$10\/month hard\s+-/);
    expect(result.out).not.toContain('sk-sy-');
    expect(result.progress).toBe('');
    const secretsOut = join(dir, 'dry-secrets.csv');
    expect(
      (await cli(['keys', 'import', path, '--dry-run', '--secrets-out', secretsOut])).code,
    ).toBe(0);
    expect(existsSync(secretsOut)).toBe(false);
    expect((await keysOf('other')).length).toBe(before);

    const bad = await cli([
      'keys',
      'import',
      file('dry-bad.csv', 'project,rpm\nother,0\n'),
      '--dry-run',
      '--continue-on-error',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(
      /would create 0 key\(s\)[\s\S]*line 2: rpm: expected a positive integer/,
    );
  });

  it('has --help with the columns and an example', async () => {
    const help = (await cli(['keys', 'import', '--help'])).out;
    expect(help).toContain('Usage: switchyard keys import [options] <file>');
    expect(help).toContain('--secrets-out <file>');
    expect(help).toContain('--continue-on-error');
    expect(help).toMatch(/Example:\n\s+\$ cat keys\.csv\n\s+project,name,models/);
  });
});
