import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isLoopback } from '../core/addresses.js';

/** Thrown by listen when the address would expose a gateway that has no master key. */
export class ExposureError extends Error {
  constructor(host: string) {
    super(
      `refusing to serve on ${host || 'every address'} without auth.masterKey: with no master key, ` +
        'loopback clients get admin rights and nobody else can manage the gateway. Set ' +
        'auth.masterKey (for example from $SWITCHYARD_MASTER_KEY), listen on 127.0.0.1, or set ' +
        'server.allowNoMasterKey: true to serve virtual keys only on this address.',
    );
    this.name = 'ExposureError';
  }
}

/**
 * Whether listening on `host` reaches only this machine: a loopback address, or a name that
 * resolves to loopback addresses only. Wildcards (`0.0.0.0`, `::`, empty) are not. A name that
 * does not resolve counts as exposed (listen will fail on it anyway, with its own error).
 */
export async function listensOnLoopbackOnly(host: string): Promise<boolean> {
  if (host === '' || isIP(host) !== 0) return isLoopback(host);
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((entry) => isLoopback(entry.address));
  } catch {
    return false;
  }
}

/**
 * Refuses to listen on a non-loopback address without a master key unless the operator said so
 * (`server.allowNoMasterKey`): such a gateway can be managed only from its own host, and one
 * forwarding step (a proxy, a port forward) away from being managed by anyone.
 */
export async function checkExposure(options: {
  host: string;
  masterKey: string | undefined;
  allowNoMasterKey: boolean;
}): Promise<void> {
  if (options.masterKey !== undefined || options.allowNoMasterKey) return;
  if (!(await listensOnLoopbackOnly(options.host))) throw new ExposureError(options.host);
}
