import { GatewayError, invalidRequest } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import type { HttpContext, Route } from '../../server/types.js';
import {
  WEBHOOK_DELIVERY_STATUSES,
  type WebhookDelivery,
  type WebhookDeliveryStore,
} from '../../store/webhooks/deliveries.js';
import { type MasterRouteHandler, masterRoute, pageLimit } from './master-route.js';

/**
 * The webhook outbox of background responses, for operators (master key only), under
 * `/admin/v1/webhooks/deliveries`:
 * - `GET …`: deliveries newest first, filtered by `status`, `response_id`, `tenant`; `limit`
 *   (1–100, default 100) and `after` (the previous page's `last_id`);
 * - `POST …/{id}/retry`: a `failed` delivery goes back to `pending`, due now, with its attempts
 *   kept; the dispatcher of any process sends it at its next poll. 409 for any other status.
 * Rows hold no URL and no secret (`endpoint` is a hash of the URL), so nothing here can leak one.
 * Times are Unix seconds, as in the webhook body and the memory admin API.
 */
export function createWebhookAdminRoutes(deps: {
  gateway: Pick<Gateway, 'authenticate'>;
  deliveries: WebhookDeliveryStore;
  clock: () => number /** Wakes this process's dispatcher after a retry. */;
  kick?: () => void;
}): Route[] {
  const route = (method: Route['method'], path: string, handler: MasterRouteHandler): Route =>
    masterRoute(deps.gateway, method, `/admin/v1/webhooks/deliveries${path}`, handler);
  const query = (context: HttpContext, name: string) =>
    context.url.searchParams.get(name) ?? undefined;
  const text = (context: HttpContext, name: string) => {
    const value = query(context, name);
    if (value === '') throw invalidRequest(`${name} must not be empty`, name);
    return value;
  };
  const notFound = (id: string) =>
    new GatewayError(`No webhook delivery with id '${id}'`, {
      code: 'not_found',
      status: 404,
      errorClass: 'invalid_request',
      retryable: false,
      failover: false,
    });

  return [
    route('GET', '', async (context) => {
      const limit = pageLimit(context);
      const status = query(context, 'status');
      if (
        status !== undefined &&
        !(WEBHOOK_DELIVERY_STATUSES as readonly string[]).includes(status)
      )
        throw invalidRequest(
          `status must be one of ${WEBHOOK_DELIVERY_STATUSES.join(', ')}`,
          'status',
        );
      const afterId = text(context, 'after');
      // The cursor is a delivery id; one that no longer exists (pruned) cannot place the page.
      const after = afterId === undefined ? undefined : await deps.deliveries.get(afterId);
      if (afterId !== undefined && after === undefined)
        throw invalidRequest(`after: no webhook delivery with id '${afterId}'`, 'after');
      // One row more than the page, so `has_more` is exact (not a guess from a full page).
      const rows = await deps.deliveries.list({
        status: status as WebhookDelivery['status'] | undefined,
        responseId: text(context, 'response_id'),
        tenantId: text(context, 'tenant'),
        after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return {
        body: {
          object: 'list',
          data: page.map(deliveryJson),
          last_id: page.at(-1)?.id ?? null,
          has_more: rows.length > limit,
        },
      };
    }),
    route('POST', '/:id/retry', async (context) => {
      const id = context.params['id'] ?? '';
      const result = await deps.deliveries.requeue(id, deps.clock());
      if (!result) throw notFound(id);
      if (!result.requeued) {
        const why =
          result.delivery.status === 'delivered'
            ? 'it was delivered'
            : result.delivery.status === 'pending'
              ? 'it is pending already'
              : `it is ${result.delivery.status}; only failed deliveries are retried`;
        throw new GatewayError(`Webhook delivery '${id}' cannot be retried: ${why}`, {
          code: 'invalid_request',
          status: 409,
          errorClass: 'conflict',
          retryable: false,
          failover: false,
        });
      }
      // Sent now by this process's dispatcher; other replicas' would find it at their next poll.
      deps.kick?.();
      return { body: deliveryJson(result.delivery) };
    }),
  ];
}

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** A delivery as JSON; `next_attempt_at` only while it is pending (it means nothing afterwards). */
export function deliveryJson(delivery: WebhookDelivery) {
  return {
    object: 'webhook.delivery',
    id: delivery.id,
    response_id: delivery.responseId,
    tenant_id: delivery.tenantId,
    endpoint: delivery.endpoint,
    type: delivery.type,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? seconds(delivery.nextAttemptAt) : null,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    created_at: seconds(delivery.createdAt),
    delivered_at: seconds(delivery.deliveredAt),
  };
}
