import type { UsageEvent } from '../store/index.js';
import type { LogLimiter } from './log-limiter.js';
import type { Logger } from './logger.js';
import type { GatewayObserver, HttpObserver, HttpRequestScope } from './observer.js';

/** What the request line says about the gateway call an HTTP request made. */
export type RequestLogFields = {
  model?: string;
  deployment?: string;
  partner?: string;
  attempts?: number;
  errorCode?: string;
};

/**
 * Feeds on-call's logs from the gateway's observer hooks:
 * - the HTTP request line gets the call's model, deployment, partner, attempts and error code
 *   (the HTTP scope hands them to the server through `logFields()`);
 * - each failed upstream attempt logs one line, and a request served after a failover logs one,
 *   rate-limited per deployment, with the request and trace ids to follow it.
 * Only requests that arrived over HTTP are tracked, so background runs leave nothing behind.
 */
export function createRequestLog(deps: { logger: Logger; limiter: LogLimiter }): {
  observer: GatewayObserver;
  http: HttpObserver;
} {
  const live = new Map<string, RequestLogFields>();
  // Assigned field by field into the request's fields (once per request; spreads of
  // conditional literals allocated an object each).
  const addFields = (fields: RequestLogFields, event: UsageEvent): void => {
    const model = event.model ?? event.modelRequested;
    if (model) fields.model = model;
    if (event.deployment !== null) fields.deployment = event.deployment;
    if (event.partner !== null) fields.partner = event.partner;
    if (event.attempts > 0) fields.attempts = event.attempts;
    if (event.errorCode !== null) fields.errorCode = event.errorCode;
  };

  const http: HttpObserver = {
    requestStart(_request, requestId): HttpRequestScope {
      const fields: RequestLogFields = {};
      live.set(requestId, fields);
      return {
        traceId: undefined,
        end: () => void live.delete(requestId),
        logFields: () => fields,
      };
    },
  };

  const observer: GatewayObserver = {
    requestStart(start) {
      return {
        headers: undefined,
        firstToken() {},
        end(event) {
          const fields = live.get(start.requestId);
          if (fields && !start.internal) addFields(fields, event);
          if (event.status === 'ok' && event.attempts > 1) {
            const failed = event.attemptLog.filter((attempt) => attempt.errorClass !== null);
            deps.limiter.run(`failover:${event.deployment}`, (suppressed) =>
              deps.logger.warn(
                {
                  requestId: event.requestId,
                  model: event.model,
                  deployment: event.deployment,
                  partner: event.partner,
                  failedOver: failed.map((attempt) => attempt.provider),
                  ...(suppressed > 0 && { suppressed }),
                },
                'served after failover',
              ),
            );
          }
        },
      };
    },
    attemptStart(start) {
      return {
        headers: undefined,
        end(outcome) {
          if (outcome.errorClass === null) return;
          deps.limiter.run(`attempt:${start.deployment}:${outcome.errorClass}`, (suppressed) =>
            deps.logger.warn(
              {
                requestId: start.requestId,
                deployment: start.deployment,
                partner: start.partner,
                upstreamModel: start.upstreamModel,
                status: outcome.status,
                errorClass: outcome.errorClass,
                code: outcome.code,
                ms: outcome.ms,
                ...(start.propagateHeaders?.['traceparent'] && {
                  traceparent: start.propagateHeaders['traceparent'],
                }),
                ...(suppressed > 0 && { suppressed }),
              },
              'upstream attempt failed',
            ),
          );
        },
      };
    },
  };
  return { observer, http };
}
