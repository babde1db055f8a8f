import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAccessCommands } from '../../src/cli/access-commands.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/** `switchyard tenants|projects|keys|audit` against a running gateway. */

const MASTER = 'sk-master-cli-test';
let gateway: RunningGateway;

beforeAll(async () => {
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    providers: { up: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { deployments: [{ provider: 'up', model: 'x' }] } },
  });
});
afterAll(() => gateway?.close());

async function cli(...args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const program = new Command('switchyard').exitOverride();
  registerAccessCommands(program, { out: (text) => (out += text), err: (text) => (err += text) });
  await program.parseAsync(['node', 'switchyard', ...args, '--url', gateway.url, '--key', MASTER]);
  return { out, err };
}

describe('access CLI', () => {
  it('creates, lists, shows, updates, rotates and revokes over the admin API', async () => {
    const first = await cli(
      'tenants',
      'create',
      '--name',
      'Acme',
      '--id',
      'acme',
      '--rpm',
      '100',
      '--budget-usd',
      '25.50',
      '--period',
      'week',
      '--alert',
      '80',
      '--json',
    );
    if (!first.out) throw new Error(first.err);
    const tenant = JSON.parse(first.out);
    expect(tenant).toMatchObject({
      id: 'acme',
      limits: { rpm: 100 },
      budget: { amount_micros: '25500000', period: 'week', mode: 'hard', alert_percent: 80 },
    });
    await cli(
      'projects',
      'create',
      '--tenant',
      'acme',
      '--name',
      'Web',
      '--id',
      'acme-web',
      '--tpm',
      '50000',
    );
    const created = await cli(
      'keys',
      'create',
      '--project',
      'acme-web',
      '--name',
      'ci',
      '--models',
      'm,gpt-*',
      '--max-concurrent',
      '4',
      '--metadata',
      'team=infra',
      '--tag',
      'ci',
    );
    const secret = /secret:\s+(\S+)/.exec(created.out)![1]!;
    expect(secret).toMatch(/^sk-sy-/);
    expect(created.out).toMatch(/shown once/);
    const keyId = /^id:\s+(\S+)/m.exec(created.out)![1]!;

    const list = (await cli('keys', 'list', '--project', 'acme-web')).out;
    expect(list.split('\n')[0]).toMatch(/^ID\s+PROJECT\s+NAME\s+PREFIX\s+STATUS\s+MODELS/);
    expect(list).toContain(keyId);
    expect(list).toContain('m,gpt-*');
    expect(list).not.toContain(secret);

    const shown = (await cli('keys', 'show', keyId)).out;
    expect(shown).toMatch(/LEVEL\s+ID\s+LIMITS\s+BUDGET\s+SPENT\s+RESERVED\s+REMAINING/);
    expect(shown).toMatch(
      /tenant\s+acme\s+100 rpm\s+\$25\.5\/week hard, alert 80%\s+\$0\s+\$0\s+\$25\.5/,
    );
    expect(shown).toMatch(/project\s+acme-web\s+50000 tpm/);
    expect(shown).toMatch(/key\s+\S+\s+4 concurrent/);

    const update = await cli(
      'keys',
      'update',
      keyId,
      '--rpm',
      '10',
      '--max-concurrent',
      'none',
      '--json',
    );
    expect(update.err).toBe('');
    const updated = JSON.parse(update.out);
    expect(updated.limits).toEqual({ rpm: 10, tpm: null, max_concurrent: null });
    const rotated = await cli('keys', 'rotate', keyId, '--grace', '0');
    expect(/secret:\s+(\S+)/.exec(rotated.out)![1]).not.toBe(secret);
    expect((await cli('keys', 'revoke', keyId, '--json')).out).toMatch(/"revoked_at": "\d{4}-/);
    expect((await cli('tenants', 'disable', 'acme', '--json')).out).toMatch(/"status": "disabled"/);

    const audit = (await cli('audit', '--target-type', 'key', '--target-id', keyId)).out;
    expect(
      audit
        .split('\n')
        .slice(1, 5)
        .map((line) => line.split(/\s+/)[2]),
    ).toEqual(['key.revoke', 'key.rotate', 'key.update', 'key.create']);
  });

  it('prints the API error and sets a failing exit code', async () => {
    const { err } = await cli('keys', 'show', 'key_missing');
    expect(err).toMatch(/^error: 404: No key with id "key_missing"/);
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    expect((await cli('tenants', 'create', '--name', 'x', '--period', 'day')).err).toMatch(
      /need --budget/,
    );
    process.exitCode = 0;
  });
});
