import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';

/** Every problem of a config text, as `path: message` lines (empty when it is valid). */
function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
}

const REFERENCES = `
partners:
  azure: { primary: true }
  aws: { primary: true }
providers:
  azure-east: { type: azure-openai, partner: azure, baseUrl: "https://example.openai.azure.com" }
  openai: { type: openai, partner: microsoft }
models:
  gpt-oss-120b:
    fallbacks: [gpt-5, embed-small]
    deployments:
      - { provider: azure-east, model: gpt-oss-120b }
      - { provider: bedrok, model: "openai.gpt-oss-120b-1:0" }
  embed-small:
    kind: embedding
    deployments:
      - { provider: openai, model: text-embedding-3-small, api: converse }
routing:
  rules:
    - { when: { tag: cheap }, model: gpt-oss-20b }
`;

describe('config check reports schema and reference errors in one pass', () => {
  it('lists every reference error of a file whose schema is valid', () => {
    expect(problemsOf(REFERENCES)).toEqual([
      'models.embed-small.deployments[0].api: "api" applies to bedrock deployments only, not openai',
      'models.gpt-oss-120b.deployments[1].provider: unknown provider "bedrok"',
      'models.gpt-oss-120b.fallbacks[0]: unknown model "gpt-5"',
      'models.gpt-oss-120b.fallbacks[1]: "embed-small" is an embedding model; "gpt-oss-120b" is a chat model',
      'partners: only one partner may be primary (azure, aws)',
      'providers.openai.partner: unknown partner "microsoft"',
      'routing.rules[0].model: unknown model "gpt-oss-20b"',
    ]);
  });

  it('reports the references together with schema and environment errors', () => {
    const text = `${REFERENCES}
server: { port: eighty }
auth: { masterKey: "\${SWITCHYARD_MASTER_KEY}" }
telemetry: { sampleRatio: 2 }
`.replace('routing:\n  rules:', 'routing:\n  strategy: fastest\n  rules:');
    const problems = problemsOf(text);
    // Schema errors in other sections and in the same sections as the references.
    for (const path of ['server.port', 'routing.strategy', 'telemetry.sampleRatio', 'auth'])
      expect(
        problems.some((line) => line.startsWith(`${path}`)),
        `${path} in ${problems.join('\n')}`,
      ).toBe(true);
    expect(problems).toContain(
      'auth.masterKey: environment variable SWITCHYARD_MASTER_KEY is not set',
    );
    // …and every reference error, in the same pass.
    expect(problems).toContain(
      'models.gpt-oss-120b.deployments[1].provider: unknown provider "bedrok"',
    );
    expect(problems).toContain('providers.openai.partner: unknown partner "microsoft"');
    expect(problems).toContain('routing.rules[0].model: unknown model "gpt-oss-20b"');
  });

  it('checks the references of the parts whose shape is right, and skips the parts whose shape is wrong', () => {
    const problems = problemsOf(`
providers:
  p1: { type: openai, baseUrl: not-a-url }
  p2: [not, a, provider]
models:
  chat:
    deployments:
      - { provider: 42, model: x }
      - { provider: p2, model: x }
      - { provider: nowhere, model: x }
      - just-a-string
  broken: 17
routing:
  rules: { not: a-list }
`);
    expect(problems).toContain('models.chat.deployments[2].provider: unknown provider "nowhere"');
    // A provider that exists but is malformed is the schema's to report, not "unknown".
    expect(problems.some((line) => line.includes('unknown provider "p2"'))).toBe(false);
    for (const path of [
      'providers.p1.baseUrl',
      'providers.p2',
      'models.chat.deployments[0].provider',
      'models.chat.deployments[3]',
      'models.broken',
      'routing.rules',
    ])
      expect(
        problems.some((line) => line.startsWith(`${path}:`)),
        `${path} in ${problems.join('\n')}`,
      ).toBe(true);
  });

  it('groups the problems by path, so one section reads together', () => {
    const problems = problemsOf(`${REFERENCES}\nserver: { port: -1 }\n`);
    const paths = problems.map((line) => line.slice(0, line.indexOf(': ')));
    expect(paths).toEqual([...paths].sort());
  });

  it('accepts a valid file', () => {
    expect(
      problemsOf(`
providers:
  openai: { type: openai, apiKey: sk-test }
models:
  gpt-4o-mini:
    deployments: [{ provider: openai, model: gpt-4o-mini }]
`),
    ).toEqual([]);
  });
});
