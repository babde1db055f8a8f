// @ts-check
/** Partner health cards ("which cloud is failing now") and latency/error tables per model or partner. */
import { badge, clock, h, ms, num, percent, table } from './dom.js';

/** @type {Record<string, 'ok' | 'warn' | 'bad'>} */
const TONES = { healthy: 'ok', degraded: 'warn', down: 'bad' };

/**
 * One card per partner, worst first (as the API orders them): state, why, error rates of the last
 * five minutes, breakers and the last error.
 * @param {any[]} partners rows of GET /admin/v1/dashboard/health
 */
export function healthCards(partners) {
  if (partners.length === 0) return h('div', { class: 'empty' }, 'No partners configured.');
  return h(
    'div',
    { class: 'grid health' },
    partners.map((partner) =>
      h(
        'div',
        {
          class: `panel health-card ${partner.state}`,
          'data-health': partner.id,
          'data-state': partner.state,
        },
        h(
          'div',
          { class: 'row' },
          h('strong', null, partner.name),
          badge(partner.state, TONES[partner.state] ?? ''),
        ),
        h('div', { class: 'sub' }, partner.reason),
        h(
          'div',
          { class: 'health-facts' },
          h(
            'span',
            { title: 'Upstream attempts in the last 5 minutes (failovers included), this replica' },
            `attempts ${percent(partner.attempts.errorRate)} failed of ${num(partner.attempts.total)}`,
          ),
          h(
            'span',
            { title: 'Requests served or last failed in the last 5 minutes, every replica' },
            `requests ${percent(partner.requests.errorRate)} errors of ${num(partner.requests.total)}`,
          ),
          h(
            'span',
            null,
            `breakers ${partner.breakersOpen} open${partner.breakersHalfOpen ? `, ${partner.breakersHalfOpen} half-open` : ''} of ${partner.deployments.length}`,
          ),
          h(
            'span',
            { 'data-last-error': partner.lastError?.code ?? '' },
            partner.lastError
              ? `last error ${partner.lastError.code} at ${clock(partner.lastError.at)}`
              : 'no error in the last hour',
          ),
        ),
      ),
    ),
  );
}

/**
 * Requests, error rate and p50/p95/p99 of total latency and of time to first byte per group.
 * @param {any[]} rows rows of GET /admin/v1/dashboard/latency
 * @param {string} label the group's column title
 */
export function latencyTable(rows, label) {
  const errorRate = (/** @type {any} */ row) =>
    row.errors > 0
      ? badge(percent(row.errorRate), row.errorRate >= 0.05 ? 'bad' : 'warn')
      : percent(0);
  const triple = (/** @type {any} */ value) =>
    `${ms(value.p50Ms)} · ${ms(value.p95Ms)} · ${ms(value.p99Ms)}`;
  return table(
    [
      [label, (/** @type {any} */ row) => row.key || '(none)'],
      ['Requests', (/** @type {any} */ row) => num(row.requests), 'num'],
      ['Errors', errorRate, 'num'],
      ['Latency p50 · p95 · p99', (/** @type {any} */ row) => triple(row.latency), 'num'],
      ['TTFB p50 · p95 · p99', (/** @type {any} */ row) => triple(row.ttfb), 'num'],
    ],
    rows,
    'No requests in this window.',
  );
}
