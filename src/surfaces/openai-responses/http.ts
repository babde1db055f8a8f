import type { ServerResponse } from 'node:http';
import {
  type GatewayError,
  errorHeaders,
  openAIStatus,
  toGatewayError,
} from '../../errors/index.js';
import type { Gateway, Principal } from '../../gateway/types.js';
import { invalidParam, type ListOptions, renderResponsesError } from '../../runtime/index.js';
import { noteFailure, sendJson } from '../../server/respond.js';
import type { HttpContext } from '../../server/types.js';
import { parseJsonBody } from '../openai/validate.js';
import { credentialFrom } from '../shared/credentials.js';

/**
 * HTTP helpers shared by the Responses and Conversations surfaces: authentication, JSON
 * bodies, list query parameters, and errors in the API's own shape (its `type` and `code`).
 */

/** Writes an error as `{error: {message, type, param, code}}` with retry hints; destroys a started answer. */
export function sendResponsesError(response: ServerResponse, thrown: unknown): void {
  const error: GatewayError = toGatewayError(thrown);
  noteFailure(response, error);
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, openAIStatus(error), renderResponsesError(error), errorHeaders(error));
}

/** Resolves the caller (401 otherwise). */
export function authenticate(gateway: Gateway, context: HttpContext): Promise<Principal> {
  return gateway.authenticate(credentialFrom(context.request), context.remoteAddress);
}

/** Reads the JSON body (400 when it is not JSON). */
export async function readJson(context: HttpContext): Promise<unknown> {
  return parseJsonBody(await context.readBody());
}

/** `limit` (1–100, default 20), `order` (`asc`/`desc`, default `desc`), `after`. */
export function listOptions(url: URL): ListOptions {
  const rawLimit = url.searchParams.get('limit');
  const limit = rawLimit === null ? 20 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw invalidParam(
      `Invalid 'limit': expected an integer between 1 and 100, but got ${rawLimit} instead.`,
      'limit',
    );
  const order = url.searchParams.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc')
    throw invalidParam(
      `Invalid value for 'order': '${order}'. Supported values are: 'asc' and 'desc'.`,
      'order',
    );
  const after = url.searchParams.get('after');
  return { limit, order, ...(after ? { after } : {}) };
}

/** A handler that authenticates, then answers JSON from `run`, or the error. */
export function jsonHandler(
  gateway: Gateway,
  run: (context: HttpContext, principal: Principal) => Promise<unknown>,
) {
  return async (context: HttpContext): Promise<void> => {
    try {
      const principal = await authenticate(gateway, context);
      sendJson(context.response, 200, await run(context, principal));
    } catch (error) {
      sendResponsesError(context.response, error);
    }
  };
}
