import { PERIOD_UNITS, type PeriodUnit } from '../../billing/periods.js';
import { type Config, ConfigError } from '../../config/index.js';
import type { Clock } from '../../core/clock.js';
import { GatewayError, invalidRequest, toGatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import type { Database } from '../../store/index.js';
import { alternativeConfig, runWhatIf, whatIfCsv, whatIfJson } from '../../whatif/index.js';
import { parseJsonBody } from '../openai/validate.js';
import { requireMaster } from '../shared/master.js';

/** What the what-if route needs. */
export interface WhatIfRoutesDeps {
  gateway: Pick<Gateway, 'authenticate'>;
  database: Database;
  config: Config;
  clock: Clock;
}

/**
 * `POST /admin/v1/billing/whatif` (master key): replays the stored usage of a window through
 * alternative agreements, as `switchyard whatif` does, over this gateway's store and config.
 *
 * Body: `{ "agreements": "<YAML text>", "from"?: ISO, "to"?: ISO, "caps_from"?: ISO,
 * "period_unit"?: "month", "format"?: "json" | "csv" }`. `from` defaults to 30 days before `to`, `to` to now. One
 * what-if runs at a time per process (409 otherwise); it reads the store page by page and
 * never writes it.
 */
export function createWhatIfRoutes(deps: WhatIfRoutesDeps): Route[] {
  let running = false;
  return [
    {
      method: 'POST',
      path: '/admin/v1/billing/whatif',
      async handler(context: HttpContext) {
        try {
          await requireMaster(deps.gateway, context);
          const input = parseInput(parseJsonBody(await context.readBody()), deps.clock());
          let alternative: Config;
          try {
            alternative = alternativeConfig(deps.config, input.agreements);
          } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            throw invalidRequest(`alternative agreements: ${error.message}`, 'agreements');
          }
          if (running) {
            throw new GatewayError('A what-if is already running; try again when it is done', {
              code: 'invalid_request',
              status: 409,
              errorClass: 'conflict',
              retryable: true,
              failover: false,
            });
          }
          running = true;
          try {
            const report = await runWhatIf({
              database: deps.database,
              current: deps.config,
              alternative,
              from: input.from,
              to: input.to,
              ...(input.capsFrom !== undefined && { capsFrom: input.capsFrom }),
              ...(input.periodUnit !== undefined && { periodUnit: input.periodUnit }),
            });
            if (input.format === 'csv') {
              const csv = whatIfCsv(report);
              context.response.writeHead(200, {
                'content-type': 'text/csv; charset=utf-8',
                'content-length': Buffer.byteLength(csv),
              });
              context.response.end(csv);
              return;
            }
            sendJson(context.response, 200, whatIfJson(report));
          } finally {
            running = false;
          }
        } catch (error) {
          sendOpenAIError(context.response, toGatewayError(error));
        }
      },
    },
  ];
}

interface WhatIfInput {
  agreements: string;
  from: number;
  to: number;
  capsFrom: number | undefined;
  periodUnit: PeriodUnit | undefined;
  format: 'json' | 'csv';
}

function parseInput(body: unknown, now: number): WhatIfInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidRequest('expected a JSON object');
  const fields = body as Record<string, unknown>;
  const agreements = fields['agreements'];
  if (typeof agreements !== 'string')
    throw invalidRequest(
      'agreements must be the alternative agreements as YAML text',
      'agreements',
    );
  const to = instant(fields['to'], 'to') ?? now;
  const from = instant(fields['from'], 'from') ?? to - 30 * 86_400_000;
  if (from >= to) throw invalidRequest('from must be before to', 'from');
  const capsFrom = instant(fields['caps_from'], 'caps_from');
  if (capsFrom !== undefined && capsFrom > from)
    throw invalidRequest('caps_from must not be after from', 'caps_from');
  const unit = fields['period_unit'];
  if (unit !== undefined && !PERIOD_UNITS.includes(unit as PeriodUnit))
    throw invalidRequest(`period_unit must be one of ${PERIOD_UNITS.join(', ')}`, 'period_unit');
  const format = fields['format'] ?? 'json';
  if (format !== 'json' && format !== 'csv')
    throw invalidRequest('format must be json or csv', 'format');
  return { agreements, from, to, capsFrom, periodUnit: unit as PeriodUnit | undefined, format };
}

function instant(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed =
    typeof value === 'string'
      ? Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value)
      : Number.NaN;
  if (Number.isNaN(parsed))
    throw invalidRequest(`${field} must be an ISO date or date-time such as 2026-11-01`, field);
  return parsed;
}
