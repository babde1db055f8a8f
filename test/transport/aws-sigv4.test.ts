import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  encodeModelId,
  signRequest,
  verifySigV4,
  type SignedRequest,
} from '../../src/transport/sigv4.js';
import type { UpstreamRequest } from '../../src/providers/adapter.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const secretFor = async (id: string) =>
  id === credentials.accessKeyId ? credentials.secretAccessKey : undefined;
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const ARN =
  'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0';

function request(modelId: string, body = '{"messages":[]}'): UpstreamRequest {
  return {
    method: 'POST',
    url: `https://bedrock-runtime.us-east-1.amazonaws.com/model/${encodeModelId(modelId)}/converse`,
    headers: { 'content-type': 'application/json' },
    body,
  };
}

/** What a server receives for a signed upstream request. */
function received(signed: UpstreamRequest): SignedRequest {
  const url = new URL(signed.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return {
    method: signed.method,
    path: url.pathname,
    query: url.search.slice(1),
    headers,
    body: signed.body ?? '',
  };
}

describe('SigV4', () => {
  it('encodes model ids and ARNs as one path segment', () => {
    expect(encodeModelId(MODEL)).toBe('anthropic.claude-3-haiku-20240307-v1%3A0');
    expect(encodeModelId(ARN)).toBe(
      'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0',
    );
  });

  it('signs with service bedrock, the region scope, and the payload hash', async () => {
    const signed = await signRequest(request(MODEL), {
      region: 'us-east-1',
      credentials: { ...credentials, sessionToken: 'TOKEN' },
      now: () => NOW,
    });
    expect(signed.headers['authorization']).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260115\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(signed.headers['x-amz-date']).toBe('20260115T120000Z');
    expect(signed.headers['x-amz-security-token']).toBe('TOKEN');
    expect(signed.headers['host']).toBe('bedrock-runtime.us-east-1.amazonaws.com');
  });

  // Rebuilt by hand from the SigV4 spec: the canonical path encodes each segment a second time
  // (`v1%3A0` → `v1%253A0`), which is what AWS computes for non-S3 services (bedrock.md §1).
  it('matches a signature computed by hand with the double-encoded canonical path', async () => {
    const body = '{"messages":[]}';
    const signed = await signRequest(request(MODEL, body), {
      region: 'us-east-1',
      credentials,
      now: () => NOW,
    });
    const hash = (data: string) => createHash('sha256').update(data).digest('hex');
    const hmac = (key: string | Buffer, data: string) =>
      createHmac('sha256', key).update(data).digest();
    const canonical = [
      'POST',
      '/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse',
      '',
      'content-type:application/json',
      'host:bedrock-runtime.us-east-1.amazonaws.com',
      `x-amz-content-sha256:${hash(body)}`,
      'x-amz-date:20260115T120000Z',
      '',
      'content-type;host;x-amz-content-sha256;x-amz-date',
      hash(body),
    ].join('\n');
    const scope = '20260115/us-east-1/bedrock/aws4_request';
    const toSign = ['AWS4-HMAC-SHA256', '20260115T120000Z', scope, hash(canonical)].join('\n');
    let key = hmac(`AWS4${credentials.secretAccessKey}`, '20260115');
    for (const part of ['us-east-1', 'bedrock', 'aws4_request']) key = hmac(key, part);
    const expected = createHmac('sha256', key).update(toSign).digest('hex');
    expect(signed.headers['authorization']).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=${expected}`,
    );
  });

  for (const [label, modelId] of [
    ['a model id with ":"', MODEL],
    ['an inference-profile ARN', ARN],
  ] as const) {
    it(`verifies what it signs for ${label}, and refuses tampering`, async () => {
      const signed = received(
        await signRequest(request(modelId), { region: 'us-west-2', credentials, now: () => NOW }),
      );
      await expect(verifySigV4(signed, secretFor, { now: () => NOW + 60_000 })).resolves.toEqual({
        ok: true,
        accessKeyId: 'AKIDEXAMPLE',
        region: 'us-west-2',
        service: 'bedrock',
      });

      // A different body with the declared hash left as it was.
      await expect(
        verifySigV4({ ...signed, body: '{"messages":[1]}' }, secretFor, { now: () => NOW }),
      ).resolves.toMatchObject({ ok: false, reason: 'body_hash_mismatch' });
      // A different body with a matching hash header: the signature no longer matches.
      const other = '{"messages":[2]}';
      const rehashed = {
        ...signed,
        body: other,
        headers: {
          ...signed.headers,
          'x-amz-content-sha256': createHash('sha256').update(other).digest('hex'),
        },
      };
      await expect(verifySigV4(rehashed, secretFor, { now: () => NOW })).resolves.toMatchObject({
        ok: false,
        reason: 'signature_mismatch',
      });
      // Another path (the single-encoded form of the same id) is another request.
      await expect(
        verifySigV4({ ...signed, path: signed.path.replace('v1%3A0', 'v1:0') }, secretFor, {
          now: () => NOW,
        }),
      ).resolves.toMatchObject({ ok: false, reason: 'signature_mismatch' });
      // A signed header changed.
      await expect(
        verifySigV4(
          { ...signed, headers: { ...signed.headers, 'content-type': 'text/plain' } },
          secretFor,
          { now: () => NOW },
        ),
      ).resolves.toMatchObject({ ok: false, reason: 'signature_mismatch' });
      // Wrong secret.
      await expect(
        verifySigV4(signed, async () => 'not-the-secret', { now: () => NOW }),
      ).resolves.toMatchObject({ ok: false, reason: 'signature_mismatch' });
    });
  }

  it('refuses unknown keys, skew beyond 15 minutes, other services and missing headers', async () => {
    const signed = received(
      await signRequest(request(MODEL), { region: 'us-east-1', credentials, now: () => NOW }),
    );
    await expect(
      verifySigV4(signed, async () => undefined, { now: () => NOW }),
    ).resolves.toMatchObject({ ok: false, reason: 'unknown_key', accessKeyId: 'AKIDEXAMPLE' });
    await expect(
      verifySigV4(signed, secretFor, { now: () => NOW + 16 * 60_000 }),
    ).resolves.toMatchObject({ ok: false, reason: 'expired' });
    await expect(
      verifySigV4(signed, secretFor, { now: () => NOW - 16 * 60_000 }),
    ).resolves.toMatchObject({ ok: false, reason: 'expired' });
    await expect(
      verifySigV4(signed, secretFor, { now: () => NOW, service: 'bedrock-mantle' }),
    ).resolves.toMatchObject({ ok: false, reason: 'signature_mismatch' });
    const { authorization: _dropped, ...unsigned } = signed.headers;
    await expect(
      verifySigV4({ ...signed, headers: unsigned }, secretFor, { now: () => NOW }),
    ).resolves.toMatchObject({ ok: false, reason: 'missing' });
    await expect(
      verifySigV4(
        { ...signed, headers: { ...signed.headers, authorization: 'AWS4-HMAC-SHA256 nonsense' } },
        secretFor,
        { now: () => NOW },
      ),
    ).resolves.toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('accepts the HTTP/2 :authority in place of host', async () => {
    const signed = received(
      await signRequest(request(MODEL), { region: 'us-east-1', credentials, now: () => NOW }),
    );
    const { host, ...rest } = signed.headers as Record<string, string>;
    await expect(
      verifySigV4({ ...signed, headers: { ...rest, ':authority': host! } }, secretFor, {
        now: () => NOW,
      }),
    ).resolves.toMatchObject({ ok: true });
  });
});
