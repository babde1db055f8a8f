import { sql } from 'kysely';
import type { AccessModule } from '../access/index.js';
import { type Billing, burnDown } from '../billing/index.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Gateway } from '../gateway/types.js';
import type { RouterBase } from './router.js';
import type { Runtime } from '../runtime/index.js';
import { withStoreTimeout } from '../errors/index.js';
import { createHealthRoutes } from '../server/health-routes.js';
import type { Route } from '../server/types.js';
import type { Database } from '../store/index.js';
import { createWebhookDeliveryStore } from '../store/webhooks/deliveries.js';
import { createAdminRoutes } from '../surfaces/admin/index.js';
import { createMemoryAdminRoutes } from '../surfaces/admin/memory-routes.js';
import { createToolAdminRoutes } from '../surfaces/admin/tools-routes.js';
import { createWebhookAdminRoutes } from '../surfaces/admin/webhook-routes.js';
import { createAdminBillingRoutes } from '../surfaces/admin-billing/index.js';
import { createWhatIfRoutes } from '../surfaces/admin-billing/whatif-routes.js';
import { createAnthropicMessagesRoutes } from '../surfaces/anthropic-messages/index.js';
import { createBedrockConverseRoutes } from '../surfaces/bedrock-converse/index.js';
import {
  createOpenAIChatRoutes,
  createOpenAIEmbeddingsRoutes,
  createOpenAIModelsRoutes,
} from '../surfaces/openai/index.js';
import { createConversationsRoutes } from '../surfaces/openai-conversations/index.js';
import { createResponsesRoutes } from '../surfaces/openai-responses/index.js';
import { createRoutingRoutes } from '../surfaces/routing/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { createUiRoutes } from '../ui/serve.js';

/** Everything the HTTP surfaces read. */
export interface RouteDeps {
  config: Config;
  clock: Clock;
  database: Database;
  router: RouterBase;
  gateway: Gateway;
  access: AccessModule;
  billing: Billing;
  runtime: Runtime;
  telemetry: Telemetry;
  /** Usage events waiting in the local spool (shown by /readyz; they do not make it unready). */
  spool?: () => { waiting: number } | undefined;
  /** Whether the process is draining (readiness answers 503). */
  draining: () => boolean;
}

/** Every route the server mounts: health, the client surfaces, admin, telemetry and the UI. */
export function wireRoutes(deps: RouteDeps): Route[] {
  const { config, clock, database, gateway, access, billing, runtime } = deps;
  const { catalog, health, policy } = deps.router;
  return [
    ...createHealthRoutes({
      ready: async () => {
        const checks: Record<string, string> = {};
        // Bounded: a stalled store answers "not ready" within store.readyTimeoutMs, never hangs.
        try {
          await withStoreTimeout(
            sql`select 1`.execute(database.db),
            config.store.readyTimeoutMs,
            'readiness check',
          );
          checks['store'] = 'ok';
        } catch (error) {
          // One wording for a timeout, whichever timer fired first (ours, or the pool's
          // connection timeout, which says "timeout expired").
          const message = (error as Error).message;
          checks['store'] =
            /timeout/i.test(message) && !message.includes('timed out')
              ? `store readiness check timed out (${message})`
              : message;
        }
        const spool = deps.spool?.();
        if (spool) checks['usage_spool'] = `${spool.waiting} waiting`;
        const draining = deps.draining();
        if (draining) checks['server'] = 'draining';
        return { ok: checks['store'] === 'ok' && !draining, checks };
      },
    }),
    ...createOpenAIChatRoutes({ gateway }),
    ...createOpenAIEmbeddingsRoutes({ gateway }),
    ...createOpenAIModelsRoutes({ gateway, created: clock() }),
    ...createRoutingRoutes({
      gateway,
      catalog,
      health,
      policy,
      clock,
      strategy: config.routing.strategy,
      config,
      capacity: deps.router.capacity,
    }),
    ...createAnthropicMessagesRoutes({ gateway }),
    ...createBedrockConverseRoutes({ gateway }),
    ...createResponsesRoutes({ gateway, responses: runtime.responses }),
    ...createConversationsRoutes({ gateway, conversations: runtime.conversations }),
    ...createAdminRoutes({ gateway, admin: access.admin }),
    ...createMemoryAdminRoutes({ gateway, memory: runtime.agent.memory }),
    ...createToolAdminRoutes({
      gateway,
      registry: runtime.agent.httpTools,
      policy: {
        allowPrivateNetworks: config.runtime.tools.allowPrivateNetworks,
        allowHosts: config.runtime.tools.allowHosts,
      },
      clock,
    }),
    ...createAdminBillingRoutes({
      gateway,
      billing,
      clock,
      commitments: (query) => burnDown(database, config, query),
    }),
    ...createWhatIfRoutes({ gateway, database, config, clock }),
    ...createWebhookAdminRoutes({
      gateway,
      deliveries: createWebhookDeliveryStore(database),
      clock,
      kick: runtime.agent.kickWebhooks,
    }),
    ...deps.telemetry.routes(gateway),
    ...createUiRoutes(),
  ];
}
