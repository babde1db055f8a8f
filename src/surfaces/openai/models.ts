import type { Gateway } from '../../gateway/types.js';
import { GatewayError, toGatewayError } from '../../errors/index.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { Route } from '../../server/types.js';
import { credentialFrom } from '../shared/credentials.js';

/** GET /v1/models and /v1/models/{id}: the logical models from config that the key may use. */
export function createOpenAIModelsRoutes(deps: { gateway: Gateway; created: number }): Route[] {
  const { gateway } = deps;
  const render = (model: ReturnType<Gateway['models']>[number]) => ({
    id: model.id,
    object: 'model',
    created: Math.floor(deps.created / 1000),
    owned_by: model.ownedBy,
    kind: model.kind,
    ...(model.contextWindow === undefined ? {} : { context_window: model.contextWindow }),
    capabilities: model.capabilities,
  });
  return [
    {
      method: 'GET',
      path: '/v1/models',
      async handler(context) {
        try {
          const principal = await gateway.authenticate(
            credentialFrom(context.request),
            context.remoteAddress,
          );
          sendJson(context.response, 200, {
            object: 'list',
            data: gateway.models(principal).map(render),
          });
        } catch (error) {
          sendOpenAIError(context.response, toGatewayError(error));
        }
      },
    },
    {
      method: 'GET',
      path: '/v1/models/:model',
      async handler(context) {
        try {
          const principal = await gateway.authenticate(
            credentialFrom(context.request),
            context.remoteAddress,
          );
          const model = gateway
            .models(principal)
            .find((item) => item.id === context.params['model']);
          if (!model)
            throw new GatewayError(`The model '${context.params['model']}' does not exist`, {
              code: 'model_not_found',
              status: 404,
              param: 'model',
              retryable: false,
            });
          sendJson(context.response, 200, render(model));
        } catch (error) {
          sendOpenAIError(context.response, toGatewayError(error));
        }
      },
    },
  ];
}
