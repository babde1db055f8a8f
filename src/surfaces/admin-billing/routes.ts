import type {
  Billing,
  BurnDownQuery,
  CommitmentBurnDown,
  ReportRow,
  StatementKind,
} from '../../billing/index.js';
import { burnDownJson, statementCsv, usd } from '../../billing/index.js';
import type { Clock } from '../../core/clock.js';
import { scaledToDecimal } from '../../core/money.js';
import { invalidRequest, toGatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import type { ClauseRecord } from '../../store/billing/store.js';
import { parseJsonBody } from '../openai/validate.js';
import { requireMaster } from '../shared/master.js';
import {
  parseAgreement,
  parseCredit,
  parseRefund,
  parseReportQuery,
  parseReverse,
} from './parse.js';
import { merged } from '../../core/objects.js';

/** What the billing admin routes need. */
export interface AdminBillingRoutesDeps {
  gateway: Pick<Gateway, 'authenticate'>;
  billing: Billing;
  clock: Clock;
  /** Burn-down of partner commitments (billing/commitments.ts); absent: the route answers an empty list. */
  commitments?: (query: BurnDownQuery) => Promise<CommitmentBurnDown[]>;
}

type Reply =
  | { status?: number; body: unknown }
  | { status?: number; csv: string; headers?: Record<string, string> };

/**
 * The billing admin API under `/admin/v1/billing` (master key only; with no master key
 * configured, loopback clients), in the access admin API's style: usage and revenue reports,
 * statements (JSON or CSV), periods and closing, refunds, credits, reversals, a request's
 * ledger transactions, revenue-share agreements, account balances and a ledger check.
 * Money is a decimal string of USD.
 */
export function createAdminBillingRoutes(deps: AdminBillingRoutesDeps): Route[] {
  const { billing } = deps;
  const route = (
    method: Route['method'],
    path: string,
    handler: (context: HttpContext) => Promise<Reply>,
  ): Route => ({
    method,
    path: `/admin/v1/billing${path}`,
    async handler(context) {
      try {
        await requireMaster(deps.gateway, context);
        const reply = await handler(context);
        if ('csv' in reply) {
          context.response.writeHead(
            reply.status ?? 200,
            merged(reply.headers, {
              'content-type': 'text/csv; charset=utf-8',
              'content-length': Buffer.byteLength(reply.csv),
            }),
          );
          context.response.end(reply.csv);
        } else {
          sendJson(context.response, reply.status ?? 200, reply.body);
        }
      } catch (error) {
        sendOpenAIError(context.response, toGatewayError(error));
      }
    },
  });
  const body = async (context: HttpContext) => {
    const bytes = await context.readBody();
    return bytes.length === 0 ? {} : parseJsonBody(bytes);
  };
  const param = (context: HttpContext, name: string) => context.params[name] ?? '';

  return [
    route('GET', '/usage', async (context) => {
      const query = parseReportQuery(context.url.searchParams, deps.clock());
      const rows = await billing.report(query);
      return {
        body: {
          object: 'list',
          from: new Date(query.from).toISOString(),
          to: new Date(query.to).toISOString(),
          currency: 'USD',
          group_by: query.groupBy,
          data: rows.map(reportJson),
        },
      };
    }),
    route('GET', '/statements/:kind/:subject/:period', async (context) => {
      const kind = param(context, 'kind');
      if (kind !== 'partner' && kind !== 'customer')
        throw invalidRequest('statement kind must be partner or customer', 'kind');
      const statement = await billing.statement(
        kind as StatementKind,
        param(context, 'subject'),
        param(context, 'period'),
      );
      const wantsCsv =
        context.url.searchParams.get('format') === 'csv' ||
        (context.request.headers.accept ?? '').includes('text/csv');
      if (wantsCsv)
        return {
          csv: statementCsv(statement),
          headers: {
            'x-statement-hash': statement.entries.hash,
            'x-statement-status': statement.status,
          },
        };
      return { body: statement };
    }),
    route('GET', '/commitments', async (context) => {
      const search = context.url.searchParams;
      const atText = search.get('at');
      const at = atText === null ? deps.clock() : Date.parse(atText);
      if (Number.isNaN(at)) throw invalidRequest('`at` must be an ISO date-time', 'at');
      const query: BurnDownQuery = {
        at,
        period: search.get('period') ?? undefined,
        partner: search.get('partner') ?? undefined,
      };
      let rows: CommitmentBurnDown[];
      try {
        rows = deps.commitments ? await deps.commitments(query) : [];
      } catch (error) {
        // parsePeriod names the expected shape; anything else is the store's and stays a 5xx.
        if (error instanceof TypeError) throw invalidRequest(error.message, 'period');
        throw error;
      }
      return {
        body: {
          object: 'list',
          currency: 'USD',
          data: rows.map((row) => ({ object: 'commitment_burn_down', ...burnDownJson(row, usd) })),
        },
      };
    }),
    route('GET', '/periods', async () => ({
      body: {
        object: 'list',
        unit: billing.periodUnit,
        data: (await billing.periods()).map((period) => ({
          id: period.id,
          object: 'billing_period',
          starts_at: new Date(period.startsAt).toISOString(),
          ends_at: new Date(period.endsAt).toISOString(),
          status: period.status,
          closed_at: period.closedAt === null ? null : new Date(period.closedAt).toISOString(),
        })),
      },
    })),
    route('POST', '/periods/:period/close', async (context) => {
      const result = await billing.closePeriod(param(context, 'period'));
      return {
        body: {
          object: 'billing_period_close',
          period: result.period,
          closed: result.closed,
          statements: result.statements,
        },
      };
    }),
    route('POST', '/refunds', async (context) =>
      adjustment(await billing.refund(parseRefund(await body(context)))),
    ),
    route('POST', '/credits', async (context) =>
      adjustment(await billing.credit(parseCredit(await body(context)))),
    ),
    route('POST', '/transactions/:id/reverse', async (context) =>
      adjustment(
        await billing.reverse({
          transactionId: param(context, 'id'),
          ...parseReverse(await body(context)),
        }),
      ),
    ),
    route('GET', '/requests/:id/transactions', async (context) => ({
      body: {
        object: 'list',
        data: (await billing.transactions(param(context, 'id'))).map((transaction) => ({
          id: transaction.id,
          object: 'ledger_transaction',
          kind: transaction.kind,
          period: transaction.period,
          adjusts_period: transaction.adjustsPeriod,
          reverses: transaction.reverses,
          effective_at: new Date(transaction.effectiveAt).toISOString(),
          posted_at: new Date(transaction.postedAt).toISOString(),
          revenue: usd(transaction.revenue),
          cost: usd(transaction.cost),
          share: usd(transaction.share),
          entries: transaction.entries.map((entry) => ({
            account: entry.account,
            amount: usd(entry.amount),
          })),
        })),
      },
    })),
    route('GET', '/agreements', async () => ({
      body: { object: 'list', data: (await billing.clauses()).map(clauseJson) },
    })),
    route('PUT', '/agreements/:partner', async (context) => {
      const partner = param(context, 'partner');
      const change = await billing.putAgreement(
        partner,
        parseAgreement(partner, await body(context)),
      );
      const clause = (await billing.clauses()).find(
        (candidate) => candidate.partner === partner && candidate.status === 'active',
      );
      return { body: { change, agreement: clause ? clauseJson(clause) : null } };
    }),
    route('DELETE', '/agreements/:partner', async (context) => ({
      body: { change: await billing.removeAgreement(param(context, 'partner')) },
    })),
    route('GET', '/balances', async (context) => {
      const through = context.url.searchParams.get('through') ?? undefined;
      const balances = await billing.balances(through);
      const total = [...balances.values()].reduce((sum, value) => sum + value, 0n);
      return {
        body: {
          object: 'trial_balance',
          currency: 'USD',
          through: through ?? null,
          total: usd(total),
          accounts: [...balances].map(([account, balance]) => ({ account, balance: usd(balance) })),
        },
      };
    }),
    route('GET', '/check', async () => {
      const check = await billing.check();
      return {
        status: check.balanced ? 200 : 500,
        body: {
          object: 'ledger_check',
          balanced: check.balanced,
          total: usd(check.total),
          unbalanced_transactions: check.unbalanced,
        },
      };
    }),
  ];
}

function adjustment(result: Awaited<ReturnType<Billing['refund']>>): Reply {
  return {
    status: result.created ? 201 : 200,
    body: {
      object: 'ledger_transaction',
      id: result.transactionId,
      created: result.created,
      period: result.period,
      revenue: usd(result.revenue),
      share: usd(result.share),
    },
  };
}

function reportJson(row: ReportRow) {
  return merged(row.dimensions, {
    requests: row.requests,
    errors: row.errors,
    input_tokens: row.inputTokens,
    cached_input_tokens: row.cachedInputTokens,
    cache_write_tokens: row.cacheWriteTokens,
    cache_write_1h_tokens: row.cacheWrite1hTokens,
    output_tokens: row.outputTokens,
    reasoning_tokens: row.reasoningTokens,
    revenue: usd(row.revenue),
    cost: usd(row.cost),
    share: usd(row.share),
    margin: usd(row.margin),
  });
}

function clauseJson(clause: ClauseRecord) {
  return {
    id: clause.id,
    object: 'revenue_share',
    partner: clause.partner,
    status: clause.status,
    source: clause.source,
    rate: scaledToDecimal(clause.ratePpm, 6),
    rate_ppm: Number(clause.ratePpm),
    cap: clause.cap === null ? null : usd(clause.cap),
    currency: clause.currency,
    from: clause.startsAt === null ? null : new Date(clause.startsAt).toISOString(),
    until: clause.endsAt === null ? null : new Date(clause.endsAt).toISOString(),
    basis: clause.basis,
    clouds: clause.clouds,
    models: clause.models,
    clawback: clause.clawback,
    basis_total: usd(clause.basisTotal),
    accrued: usd(clause.accruedTotal),
    headroom:
      clause.cap === null
        ? null
        : usd(clause.cap - clause.accruedTotal > 0n ? clause.cap - clause.accruedTotal : 0n),
  };
}
