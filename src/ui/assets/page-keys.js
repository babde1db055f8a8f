// @ts-check
/** Keys: create (secret shown once), rotate, revoke; limits and budgets with current use. */
import { api } from './api.js';
import { badge, h, microsUsd, mount, table, when } from './dom.js';

/** Limits and budget use of a key's levels. @param {any[]} levels */
function levelsView(levels) {
  return h(
    'div',
    null,
    (levels ?? []).map((level) => {
      const limits = [
        level.limits.rpm ? `${level.limits.rpm} rpm` : null,
        level.limits.tpm ? `${level.limits.tpm} tpm` : null,
        level.limits.max_concurrent ? `${level.limits.max_concurrent} concurrent` : null,
      ]
        .filter(Boolean)
        .join(' · ');
      const budget = level.budget;
      const spent = level.spend ? Number(level.spend.spent_micros) : 0;
      const ratio = budget ? Math.min(1, spent / Math.max(1, Number(budget.amount_micros))) : 0;
      return h(
        'div',
        { class: 'sub', 'data-level': level.kind },
        `${level.kind}: ${limits || 'no limits'}`,
        budget
          ? h(
              'span',
              null,
              ` · budget ${microsUsd(level.spend?.spent_micros ?? '0')} of ${microsUsd(budget.amount_micros)} / ${budget.period}`,
              h(
                'div',
                { class: `progress${ratio >= 1 ? ' full' : ''}`, style: 'height:6px;margin:3px 0' },
                h('span', { style: `width:${ratio * 100}%` }),
              ),
            )
          : null,
      );
    }),
  );
}

/** @type {import('./app.js').Page} */
export async function keysPage(main) {
  const secretBox = h('div');
  const listBox = h('div');
  const error = h('div', { class: 'error', role: 'alert' });
  /** @param {string} label @param {string} secret */
  const showSecret = (label, secret) =>
    mount(
      secretBox,
      h(
        'div',
        { class: 'secret', 'data-secret': '' },
        h('strong', null, label),
        h('code', null, secret),
        h('button', { onclick: () => void navigator.clipboard?.writeText(secret) }, 'Copy'),
        h('span', { class: 'sub' }, 'Shown once: store it now.'),
        h('button', { onclick: () => mount(secretBox) }, 'Done'),
      ),
    );

  const projects = (await api('/admin/v1/projects?limit=100')).data;
  const form = {
    project: h(
      'select',
      { name: 'project_id' },
      projects.map((/** @type {any} */ project) =>
        h('option', { value: project.id }, `${project.tenant_id} / ${project.name}`),
      ),
    ),
    name: h('input', { name: 'name', placeholder: 'ci-bot' }),
    rpm: h('input', {
      name: 'rpm',
      type: 'number',
      min: '1',
      placeholder: '—',
      style: 'width:90px',
    }),
    budget: h('input', {
      name: 'budget',
      type: 'number',
      min: '0',
      step: '0.01',
      placeholder: 'USD',
      style: 'width:110px',
    }),
    period: h(
      'select',
      { name: 'period' },
      ['day', 'week', 'month', 'total'].map((period) =>
        h('option', { value: period, selected: period === 'month' }, period),
      ),
    ),
  };
  const value = (/** @type {HTMLElement} */ element) =>
    /** @type {HTMLInputElement} */ (element).value.trim();

  async function create(/** @type {Event} */ event) {
    event.preventDefault();
    mount(error);
    try {
      /** @type {Record<string, any>} */
      const body = { project_id: value(form.project) };
      if (value(form.name)) body['name'] = value(form.name);
      if (value(form.rpm)) body['limits'] = { rpm: Number(value(form.rpm)) };
      if (value(form.budget))
        body['budget'] = {
          amount_micros: String(Math.round(Number(value(form.budget)) * 1e6)),
          period: value(form.period),
        };
      const created = await api('/admin/v1/keys', { body });
      showSecret(`Key ${created.name ?? created.id} created:`, created.secret);
      await refresh();
    } catch (thrown) {
      mount(error, /** @type {Error} */ (thrown).message);
    }
  }

  async function refresh() {
    const keys = (await api('/admin/v1/keys?limit=100')).data;
    const details = await Promise.all(
      keys.map((/** @type {any} */ key) =>
        api(`/admin/v1/keys/${encodeURIComponent(key.id)}`).catch(() => key),
      ),
    );
    mount(
      listBox,
      table(
        [
          [
            'Key',
            (/** @type {any} */ key) =>
              h(
                'span',
                null,
                h('strong', null, key.name ?? key.id),
                h('div', { class: 'sub mono' }, `${key.id} · ${key.prefix}…`),
              ),
          ],
          ['Tenant / project', (/** @type {any} */ key) => `${key.tenant_id} / ${key.project_id}`],
          [
            'Status',
            (/** @type {any} */ key) =>
              key.revoked_at
                ? badge('revoked', 'bad')
                : badge(key.status, key.status === 'active' ? 'ok' : 'warn'),
          ],
          ['Limits and budget (current use)', (/** @type {any} */ key) => levelsView(key.levels)],
          ['Created', (/** @type {any} */ key) => when(key.created_at)],
          [
            '',
            (/** @type {any} */ key) =>
              key.revoked_at
                ? null
                : h(
                    'div',
                    { class: 'row' },
                    h(
                      'button',
                      {
                        'data-action': 'rotate',
                        async onclick() {
                          const rotated = await api(
                            `/admin/v1/keys/${encodeURIComponent(key.id)}/rotate`,
                            { body: { grace_seconds: 3600 } },
                          );
                          showSecret(
                            `Key ${key.name ?? key.id} rotated (old secret valid until ${when(rotated.previous_valid_until)}):`,
                            rotated.secret,
                          );
                          await refresh();
                        },
                      },
                      'Rotate',
                    ),
                    h(
                      'button',
                      {
                        class: 'danger',
                        'data-action': 'revoke',
                        async onclick() {
                          if (
                            !confirm(
                              `Revoke ${key.name ?? key.id}? Clients using it stop working at once.`,
                            )
                          )
                            return;
                          await api(`/admin/v1/keys/${encodeURIComponent(key.id)}/revoke`, {
                            method: 'POST',
                          });
                          await refresh();
                        },
                      },
                      'Revoke',
                    ),
                  ),
          ],
        ],
        details,
        'No virtual keys yet.',
      ),
    );
  }

  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'Keys'),
        h('div', { class: 'sub' }, 'Virtual keys with their limits and budgets'),
      ),
    ),
    secretBox,
    h(
      'section',
      { class: 'panel', style: 'margin-bottom:16px' },
      h('h2', null, 'Create a key'),
      projects.length === 0
        ? h(
            'div',
            { class: 'notice' },
            'Create a tenant and a project first (switchyard tenants create / projects create, or the admin API).',
          )
        : h(
            'form',
            { class: 'filters', onsubmit: create },
            h('label', null, 'Project', form.project),
            h('label', null, 'Name', form.name),
            h('label', null, 'Requests / min', form.rpm),
            h('label', null, 'Budget', form.budget),
            h('label', null, 'per', form.period),
            h('button', { class: 'primary', type: 'submit' }, 'Create key'),
          ),
      error,
    ),
    h('section', { class: 'panel' }, h('h2', null, 'All keys'), listBox),
  );
  await refresh();
}
