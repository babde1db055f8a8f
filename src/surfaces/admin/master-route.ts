import { GatewayError, invalidRequest, toGatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import { credentialFrom } from '../shared/credentials.js';

/** What a master-key admin route handler answers: a JSON body and its status (default 200). */
export type MasterRouteHandler = (
  context: HttpContext,
) => Promise<{ status?: number; body: unknown }>;

/**
 * A route for the master key only: authenticates, answers 403 to any other principal, sends the
 * handler's JSON, and turns errors into the OpenAI error shape.
 */
export function masterRoute(
  gateway: Pick<Gateway, 'authenticate'>,
  method: Route['method'],
  path: string,
  handler: MasterRouteHandler,
): Route {
  return {
    method,
    path,
    async handler(context) {
      try {
        const principal = await gateway.authenticate(
          credentialFrom(context.request),
          context.remoteAddress,
        );
        if (!principal.isMaster)
          throw new GatewayError('The admin API needs the master key', {
            code: 'forbidden',
            status: 403,
            errorClass: 'auth',
            retryable: false,
            failover: false,
          });
        const result = await handler(context);
        sendJson(context.response, result.status ?? 200, result.body);
      } catch (error) {
        sendOpenAIError(context.response, toGatewayError(error));
      }
    },
  };
}

/** A list's `limit` query parameter: an integer from 1 to 100, default 100; 400 otherwise. */
export function pageLimit(context: HttpContext): number {
  const text = context.url.searchParams.get('limit') ?? undefined;
  if (text === undefined) return 100;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 100)
    throw invalidRequest('limit must be an integer between 1 and 100', 'limit');
  return Number(text);
}
