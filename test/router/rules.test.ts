import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import type { ChatRequest } from '../../src/core/chat.js';
import type { Principal } from '../../src/gateway/types.js';
import { createCatalog } from '../../src/router/catalog.js';
import { featuresOf } from '../../src/router/features.js';
import { resolveChain } from '../../src/router/rules.js';

const principal: Principal = { keyId: 'k', tenantId: 'acme', projectId: 'p', isMaster: false };
const config = validateConfig({
  providers: { p: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
  models: {
    small: {
      contextWindow: 100,
      capabilities: ['tools'],
      deployments: [{ provider: 'p', model: 'small' }],
    },
    large: {
      contextWindow: 100000,
      capabilities: ['tools', 'vision'],
      deployments: [{ provider: 'p', model: 'large' }],
    },
    vision: {
      contextWindow: 100000,
      capabilities: ['vision'],
      deployments: [{ provider: 'p', model: 'v' }],
    },
    cheap: { deployments: [{ provider: 'p', model: 'cheap' }] },
  },
  routing: {
    rules: [
      { when: { needs: ['vision'] }, model: 'vision' },
      { when: { maxInputTokens: 50, tag: 'cheap' }, model: 'cheap' },
      { when: { tenant: 'bigco', model: 'small' }, model: 'large' },
      { when: { contextOverflow: true, model: 'small' }, model: 'large' },
    ],
  },
});
const catalog = createCatalog(config);
const chain = (body: ChatRequest, tags: string[] = [], who: Principal = principal) =>
  resolveChain({
    requested: body.model,
    list: body['models'] as string[] | undefined,
    features: featuresOf(body, tags),
    principal: who,
    rules: config.routing.rules,
    catalog,
    allowed: () => true,
  }).models.map((model) => model.name);

describe('routing rules', () => {
  it('sends a vision request to the vision model', () => {
    const body: ChatRequest = {
      model: 'small',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
    };
    expect(chain(body)).toEqual(['vision']);
  });

  it('matches on tag and estimated tokens, and on tenant', () => {
    expect(
      chain({ model: 'large', messages: [{ role: 'user', content: 'hi' }] }, ['cheap']),
    ).toEqual(['cheap']);
    expect(
      chain({ model: 'large', messages: [{ role: 'user', content: 'word '.repeat(200) }] }, [
        'cheap',
      ]),
    ).toEqual(['large']);
    expect(
      chain({ model: 'small', messages: [{ role: 'user', content: 'hi' }] }, [], {
        ...principal,
        tenantId: 'bigco',
      }),
    ).toEqual(['large']);
  });

  it('keeps the client list of models in order', () => {
    expect(
      chain({
        model: 'small',
        models: ['cheap', 'large'],
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).toEqual(['cheap', 'large']);
  });

  it('moves a request too long for a model to its context-overflow model, using the real tokenizer', () => {
    const long = 'lorem ipsum dolor sit amet '.repeat(40);
    expect(chain({ model: 'small', messages: [{ role: 'user', content: long }] })).toEqual([
      'large',
    ]);
    // 60 characters of a repeated letter are few tokens: the cheap bound is not enough, the tokenizer decides.
    expect(
      chain({ model: 'small', messages: [{ role: 'user', content: 'a'.repeat(120) }] }),
    ).toEqual(['small']);
  });

  it('refuses clearly when no model can take the request', () => {
    expect(() =>
      chain({
        model: 'vision',
        models: ['vision'],
        tools: [{ type: 'function', function: { name: 'f' } }],
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).toThrow(/does not support tools/);
    expect(() => chain({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).toThrow(
      /does not exist/,
    );
  });
});

describe('the strategy rule action', () => {
  const withStrategy = validateConfig({
    providers: { p: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
    models: {
      gpt: { deployments: [{ provider: 'p', model: 'gpt' }] },
      big: { deployments: [{ provider: 'p', model: 'big' }] },
    },
    routing: {
      rules: [
        { when: { tag: 'net' }, strategy: 'lowest-net-cost' },
        { when: { tag: 'big' }, model: 'big', strategy: 'least-latency' },
      ],
    },
  });
  const resolve = (tags: string[]) =>
    resolveChain({
      requested: 'gpt',
      list: undefined,
      features: featuresOf({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, tags),
      principal,
      rules: withStrategy.routing.rules,
      catalog: createCatalog(withStrategy),
      allowed: () => true,
    });

  it('keeps the model and sets the strategy for matching requests only', () => {
    const net = resolve(['net']);
    expect(net.models.map((model) => model.name)).toEqual(['gpt']);
    expect(net.strategy).toBe('lowest-net-cost');
    expect(resolve([]).strategy).toBeUndefined();
  });

  it('moves the model and sets the strategy when the rule does both', () => {
    const big = resolve(['big']);
    expect(big.models.map((model) => model.name)).toEqual(['big']);
    expect(big.strategy).toBe('least-latency');
  });

  it('refuses a rule that does nothing, and a contextOverflow rule without a model', () => {
    const base = {
      providers: { p: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
      models: { gpt: { deployments: [{ provider: 'p', model: 'gpt' }] } },
    } as const;
    expect(() => validateConfig({ ...base, routing: { rules: [{ when: { tag: 'x' } }] } })).toThrow(
      /routing\.rules\[0\]\.model/,
    );
    expect(() =>
      validateConfig({
        ...base,
        routing: { rules: [{ when: { contextOverflow: true }, strategy: 'lowest-net-cost' }] },
      }),
    ).toThrow(/contextOverflow rule needs `model`/);
    expect(() =>
      validateConfig({ ...base, routing: { rules: [{ when: {}, strategy: 'cheapest' }] } }),
    ).toThrow(/strategy/);
  });
});
