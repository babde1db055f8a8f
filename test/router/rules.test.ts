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
