import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToolCallId } from '../../src/providers/gemini/signatures.js';
import {
  idProblems,
  MASTER_KEY,
  type Matrix,
  MODEL,
  PROVIDERS,
  type ProviderName,
  startMatrix,
  toolIdsOf,
} from './clouds.js';
import { driverFor, type SurfaceDriver, type SurfaceName, SURFACES, WEATHER } from './surfaces.js';

/**
 * The cross matrix (issue 3): every client surface (OpenAI chat, Anthropic messages, Bedrock
 * Converse, each through its real SDK) against every provider type (OpenAI, Azure OpenAI,
 * Bedrock, Anthropic, Gemini, each an emulator speaking its real wire format), whole and
 * streamed, for plain text and for a tool round trip: 3 × 5 × 2 × 2 = 60 cases.
 *
 * A tool round trip proves the mapping both ways: turn 1's call must reach the client with the
 * id the upstream minted and the arguments it chose; turn 2 replays the call and answers it
 * under that id, and the emulated model can only name the tool in "Tool get_weather returned: …"
 * if the result's id found its call after translation (otherwise it names the bare id).
 *
 * Then a conversation begun on Gemini, whose tool-call ids carry thought signatures and run to
 * a few hundred characters, is continued on OpenAI, Azure OpenAI, Bedrock and Anthropic: the
 * request each of them receives must hold ids it accepts (see ID_RULES), still paired.
 */

const PROMPT = 'call get_weather for "Paris"';
const RESULT = '18°C';
const ANSWER = /^Tool get_weather returned: .*18°C/;

/**
 * The id the emulated model gives its first call (src/sandbox/model.ts, rule 2): `call_` + 24 hex
 * of sha256(name, arguments, position, last user text). Bedrock's and Anthropic's emulators
 * swap the prefix for their own; Gemini's adapter mints ids that carry the thought signature.
 */
function expectedId(provider: ProviderName, prompt: string): string | undefined {
  const hash = createHash('sha256')
    .update(`${WEATHER.name}\n${JSON.stringify({ city: 'Paris' })}\n0\n${prompt}`)
    .digest('hex')
    .slice(0, 24);
  const prefix: Partial<Record<ProviderName, string>> = {
    openai: 'call_',
    'azure-openai': 'call_',
    bedrock: 'tooluse_',
    anthropic: 'toolu_',
  };
  return prefix[provider] === undefined ? undefined : prefix[provider] + hash;
}

let matrix: Matrix;
const drivers = {} as Record<SurfaceName, SurfaceDriver>;
/** Tool-call ids each provider's turn 1 produced, across every surface and mode. */
const seenIds = new Map<ProviderName, Set<string>>(
  PROVIDERS.map((provider) => [provider, new Set<string>()]),
);

beforeAll(async () => {
  matrix = await startMatrix();
  for (const surface of SURFACES) drivers[surface] = driverFor(surface, matrix.url, MASTER_KEY);
});
afterAll(async () => {
  for (const driver of Object.values(drivers)) driver.close();
  await matrix?.close();
});

const CASES = PROVIDERS.flatMap((provider) =>
  [false, true].flatMap((stream) =>
    (['text', 'tool'] as const).map((kind) => ({ provider, stream, kind })),
  ),
);

describe.each(SURFACES)('%s client', (surface) => {
  it.concurrent.for(CASES)(
    '→ $provider, $kind, stream: $stream',
    async ({ provider, stream, kind }, { expect }) => {
      const driver = drivers[surface];
      if (kind === 'text') {
        const turn = await driver.ask(MODEL[provider], 'say "switchyard crosses clouds"', stream);
        expect(turn.text).toBe('switchyard crosses clouds');
        expect(turn.toolCalls).toEqual([]);
        expect(turn.outputTokens).toBeGreaterThan(0);
        // Streamed answers arrive in pieces, not as one late delta.
        if (stream) expect(turn.pieces).toBeGreaterThan(1);
        return;
      }
      const { first, second } = await driver.roundTrip({
        firstModel: MODEL[provider],
        prompt: PROMPT,
        result: RESULT,
        stream,
      });
      expect(first.toolCalls).toHaveLength(1);
      const call = first.toolCalls[0]!;
      expect(call).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
      const expected = expectedId(provider, PROMPT);
      if (expected !== undefined) expect(call.id).toBe(expected);
      // Gemini: the id carries the thought signature Gemini 3 demands back on the next turn.
      else expect(decodeToolCallId(call.id).signature).toBeTruthy();
      seenIds.get(provider)!.add(call.id);
      expect(second.toolCalls).toEqual([]);
      expect(second.text).toMatch(ANSWER);
    },
  );
});

const TARGETS = ['openai', 'azure-openai', 'bedrock', 'anthropic'] as const;
const CROSS = SURFACES.flatMap((surface) =>
  TARGETS.flatMap((target) => [false, true].map((stream) => ({ surface, target, stream }))),
);

describe('a conversation begun on gemini, continued elsewhere', () => {
  it.concurrent.for(CROSS)(
    '$surface client: gemini → $target, stream: $stream',
    async ({ surface, target, stream }, { expect }) => {
      const marker = `(cross ${surface} ${target} ${stream})`;
      const { first, second } = await drivers[surface].roundTrip({
        firstModel: MODEL.gemini,
        secondModel: MODEL[target],
        prompt: `${PROMPT} ${marker}`,
        result: RESULT,
        stream,
      });
      const call = first.toolCalls[0];
      expect(call?.id.startsWith('call_sig_')).toBe(true);
      // Long enough to break the 40- and 64-character limits of OpenAI and Bedrock.
      expect(call!.id.length).toBeGreaterThan(64);
      expect(second.text).toBe('Tool get_weather returned: 18°C');
      const sent = matrix.sent.filter(
        (request) => request.provider === target && request.text.includes(marker),
      );
      expect(sent).toHaveLength(1);
      expect(toolIdsOf(sent[0]!).map((entry) => entry.kind)).toEqual(['call', 'result']);
      expect(idProblems(sent[0]!)).toEqual([]);
    },
  );
});

describe('after the matrix', () => {
  it('each provider minted one tool-call id, seen alike by every surface, whole and streamed', () => {
    for (const provider of PROVIDERS)
      expect([provider, seenIds.get(provider)!.size]).toEqual([provider, 1]);
  });

  it('every upstream request carried tool-call ids its upstream accepts, each result paired with its call', () => {
    expect(matrix.sent.length).toBeGreaterThan(100);
    expect(matrix.sent.flatMap(idProblems)).toEqual([]);
  });
});
