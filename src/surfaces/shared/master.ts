import { GatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import type { HttpContext } from '../../server/types.js';
import { credentialFrom } from './credentials.js';

/** Authenticates an admin request; anything but the master key is a 403 `forbidden`. */
export async function requireMaster(
  gateway: Pick<Gateway, 'authenticate'>,
  context: HttpContext,
): Promise<void> {
  const principal = await gateway.authenticate(
    credentialFrom(context.request),
    context.remoteAddress,
  );
  if (!principal.isMaster) {
    throw new GatewayError('The admin API needs the master key', {
      code: 'forbidden',
      status: 403,
      errorClass: 'auth',
      retryable: false,
      failover: false,
    });
  }
}
