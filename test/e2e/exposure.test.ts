import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressMatcher, isAddressOrCidr, normalizeAddress } from '../../src/core/addresses.js';
import { createClientAddress } from '../../src/server/client-address.js';
import { listensOnLoopbackOnly } from '../../src/server/exposure.js';
import {
  call,
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';

/**
 * Safe exposure: no master key means loopback only, so listening elsewhere is refused unless
 * `server.allowNoMasterKey` says so; and `server.trustProxy` decides whose X-Forwarded-For is
 * believed, so a reverse proxy on the same host does not make every client a loopback client.
 */

describe('the client address', () => {
  it('normalizes what sockets and proxies write', () => {
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress(' 203.0.113.5:5060 ')).toBe('203.0.113.5');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    for (const bad of ['unknown', '', '_hidden', '300.1.1.1', undefined])
      expect(normalizeAddress(bad), String(bad)).toBeUndefined();
  });

  it('accepts addresses and CIDR blocks in trustProxy, nothing else', () => {
    for (const good of ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '0.0.0.0/0'])
      expect(isAddressOrCidr(good), good).toBe(true);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'localhost', '10.0.0.0/8/1', '10.0.0.0/x'])
      expect(isAddressOrCidr(bad), bad).toBe(false);
    const trusted = addressMatcher(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '10.9.8.7', 'fd00::5'])
      expect(trusted(address), address).toBe(true);
    for (const address of ['127.0.0.2', '11.0.0.1', 'fe80::1', undefined])
      expect(trusted(address), String(address)).toBe(false);
  });

  it('believes X-Forwarded-For only from a trusted proxy, read from the right', () => {
    const none = createClientAddress([]);
    const local = createClientAddress(['127.0.0.1', '10.0.0.0/8']);
    const xff = (value: string) => ({ 'x-forwarded-for': value });
    // No trusted proxy: the socket is the client; a loopback peer forwarding for someone is unknown.
    expect(none('::ffff:127.0.0.1', {})).toBe('127.0.0.1');
    expect(none('127.0.0.1', xff('203.0.113.5'))).toBeUndefined();
    expect(none('127.0.0.1', { forwarded: 'for=203.0.113.5' })).toBeUndefined();
    expect(none('127.0.0.1', { 'x-real-ip': '203.0.113.5' })).toBeUndefined();
    expect(none('198.51.100.7', xff('127.0.0.1'))).toBe('198.51.100.7');
    // A trusted proxy: its own requests are its own; the first untrusted hop from the right wins.
    expect(local('127.0.0.1', {})).toBe('127.0.0.1');
    expect(local('127.0.0.1', xff('203.0.113.5'))).toBe('203.0.113.5');
    expect(local('127.0.0.1', xff('203.0.113.5, 10.1.1.1'))).toBe('203.0.113.5');
    // A client that forges a loopback hop is still the address the proxy saw.
    expect(local('127.0.0.1', xff('127.0.0.1, 203.0.113.5'))).toBe('203.0.113.5');
    // A local client through the local proxy stays local.
    expect(local('127.0.0.1', xff('127.0.0.1'))).toBe('127.0.0.1');
    expect(local('127.0.0.1', { 'x-forwarded-for': ['198.51.100.1', '10.2.2.2'] })).toBe(
      '198.51.100.1',
    );
    expect(local('127.0.0.1', xff('unknown'))).toBeUndefined();
    expect(local('127.0.0.1', xff('203.0.113.5:41000'))).toBe('203.0.113.5');
  });

  it('knows which listen addresses reach only this machine', async () => {
    for (const host of ['127.0.0.1', '::1', '127.0.0.2', 'localhost'])
      expect(await listensOnLoopbackOnly(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '', '10.77.0.1', 'no-such-host.invalid'])
      expect(await listensOnLoopbackOnly(host), host).toBe(false);
  });
});

describe('over real sockets on loopback, with no master key', () => {
  let clouds: Clouds;
  let open: RunningGateway;
  let trusting: RunningGateway;
  beforeAll(async () => {
    clouds = await startClouds();
    const base = {
      providers: { openai: cloudProviders(clouds).openai },
      partners: { openai: {} },
      models: { 'gpt-4o-mini': { deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
    };
    open = await startGateway(base);
    trusting = await startGateway({ ...base, server: { trustProxy: ['127.0.0.1'] } });
  });
  afterAll(async () => {
    await Promise.all([open?.close(), trusting?.close()]);
    await clouds?.close();
  });

  const admin = (gateway: RunningGateway, headers: Record<string, string> = {}) =>
    call(`${gateway.url}/admin/v1/tenants`, { headers });

  it('gives a loopback client admin rights, but not one a proxy forwards for', async () => {
    expect((await admin(open)).status).toBe(200);
    const forwarded = await admin(open, { 'x-forwarded-for': '203.0.113.5' });
    expect(forwarded.status).toBe(401);
    expect(forwarded.body.error).toMatchObject({ code: 'unauthorized' });
  });

  it('with trustProxy, judges the client the proxy names', async () => {
    expect((await admin(trusting, { 'x-forwarded-for': '203.0.113.5' })).status).toBe(401);
    expect((await admin(trusting, { 'x-forwarded-for': '127.0.0.1, 203.0.113.5' })).status).toBe(
      401,
    );
    expect((await admin(trusting, { 'x-forwarded-for': '127.0.0.1' })).status).toBe(200);
    expect((await admin(trusting)).status).toBe(200);
  });
});

/** What test/e2e/fixtures/exposure-probe.ts prints. */
interface ProbeResults {
  cli: { code: number | null; stderr: string };
  listenWithoutKey: string;
  allowed: Record<string, number | string>;
  untrustedProxy?: Record<string, number | string>;
  trustedProxy?: Record<string, number | string>;
  haproxy?: 'missing';
  error?: string;
}

const ROOT = resolve(import.meta.dirname, '../..');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const NAMESPACE_SETUP = [
  'ip link set lo up',
  'ip link add sy0 type veth peer name sy1',
  'ip addr add 10.77.0.1/24 dev sy0',
  'ip addr add 10.77.0.2/24 dev sy1',
  'ip link set sy0 up',
  'ip link set sy1 up',
].join(' && ');

/** Whether this machine can make a private network namespace (a user namespace maps us to root). */
function namespacesWork(): string | undefined {
  const probe = spawnSync('unshare', ['-rn', 'sh', '-c', NAMESPACE_SETUP], { encoding: 'utf8' });
  if (probe.error) return `unshare is missing (${probe.error.message})`;
  if (probe.status !== 0) return `cannot make a network namespace: ${probe.stderr.trim()}`;
  return undefined;
}

const unavailable = namespacesWork();
if (unavailable && !process.env['CI'])
  console.warn(
    `skipping the network-namespace exposure test: ${unavailable} (install util-linux and iproute2, allow user namespaces)`,
  );

describe.skipIf(unavailable !== undefined && !process.env['CI'])(
  'on a non-loopback address, in a private network namespace (veth pair 10.77.0.1 ↔ 10.77.0.2)',
  () => {
    let results: ProbeResults;
    beforeAll(async () => {
      expect(unavailable, 'network namespaces must work under CI').toBeUndefined();
      const child = spawn(
        'unshare',
        [
          '-rn',
          'sh',
          '-c',
          `${NAMESPACE_SETUP} && exec "$0" "$@"`,
          process.execPath,
          '--import',
          TSX_LOADER,
          join(ROOT, 'test/e2e/fixtures/exposure-probe.ts'),
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (data: Buffer) => {
        stdout += data.toString();
      });
      child.stderr.on('data', (data: Buffer) => {
        stderr += data.toString();
      });
      const [code] = await once(child, 'exit');
      const line = stdout.trim().split('\n').at(-1) ?? '';
      expect(code, `probe exited ${code}: ${stderr}`).toBe(0);
      results = JSON.parse(line);
      expect(results.error, String(results.error)).toBeUndefined();
    }, 240_000);

    it('`serve` refuses to start without a master key, saying what to change', () => {
      expect(results.cli.code).toBe(1);
      expect(results.cli.stderr).toMatch(
        /refusing to serve on 10\.77\.0\.1 without auth\.masterKey/,
      );
      expect(results.cli.stderr).toMatch(/server\.allowNoMasterKey/);
    });

    it('app.listen refuses too; with allowNoMasterKey a remote client is refused, loopback served', () => {
      expect(results.listenWithoutKey).toBe('ExposureError');
      expect(results.allowed).toEqual({
        remoteModels: 401,
        remoteAdmin: 401,
        loopbackAdmin: 200,
      });
    });

    it.skipIf(haproxyMissing())(
      'a reverse proxy on the same host does not give its clients loopback rights',
      () => {
        // Without trustProxy the proxy's forwarding marks every request as from an unknown client.
        expect(results.untrustedProxy).toEqual({
          remoteAdmin: 401,
          remoteModels: 401,
          localAdmin: 401,
          directAdmin: 200,
        });
        // With the proxy trusted, the client it names decides: remote refused, local served.
        expect(results.trustedProxy).toEqual({
          remoteAdmin: 401,
          remoteModels: 401,
          localAdmin: 200,
          directAdmin: 200,
        });
      },
    );
  },
);

/** haproxy comes from Debian's package (.ci/run installs it); a laptop without it skips that part. */
function haproxyMissing(): boolean {
  const found = spawnSync('haproxy', ['-v']);
  if (found.error && !process.env['CI']) {
    console.warn('skipping the reverse-proxy exposure case: haproxy is not installed');
    return true;
  }
  return false;
}
