// @ts-check
/** Small DOM and formatting helpers for the dashboard (no framework; text is never parsed as HTML). */

/**
 * Creates an element. `attrs` keys starting with `on` add listeners; `class`, `style` and other
 * keys become attributes; children may be strings, nodes, arrays, or null (skipped).
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function')
      element.addEventListener(key.slice(2), value);
    else if (key === 'value') /** @type {any} */ (element).value = value;
    // Through the CSSOM: the page's CSP allows no inline style attributes.
    else if (key === 'style') element.style.cssText = String(value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** @param {Element} parent @param {any[]} children */
function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. @param {Element} element @param {...any} children */
export function mount(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** @param {number} value */
export function num(value) {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(1)}B`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return Math.round(value).toLocaleString('en-US');
}

/** @param {number} value */
export function usd(value) {
  if (!Number.isFinite(value)) return '–';
  if (value !== 0 && Math.abs(value) < 0.01) return `$${value.toFixed(6)}`;
  return `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** µUSD as a decimal string → dollars. @param {string | null | undefined} micros */
export function microsUsd(micros) {
  return micros === null || micros === undefined ? '–' : usd(Number(micros) / 1e6);
}

/** @param {number | null | undefined} value */
export function ms(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

/** @param {number} value */
export function percent(value) {
  return Number.isFinite(value) ? `${(value * 100).toFixed(value < 0.1 ? 2 : 1)}%` : '–';
}

/** A clock time, 24-hour like every time on the dashboard. @param {number | string} at */
export function clock(at) {
  const date = new Date(at);
  return Number.isNaN(date.getTime())
    ? '–'
    : date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** @param {number | string | null | undefined} at */
export function when(at) {
  if (at === null || at === undefined) return '–';
  const date = new Date(at);
  return Number.isNaN(date.getTime())
    ? '–'
    : date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A badge. @param {string} text @param {'ok'|'warn'|'bad'|'info'|''} [tone] */
export function badge(text, tone = '') {
  return h('span', { class: `badge ${tone}` }, text);
}

/** A labelled stat card. @param {string} label @param {string} value @param {string} [note] */
export function stat(label, value, note) {
  return h(
    'div',
    { class: 'panel stat', 'data-stat': label },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    note ? h('div', { class: 'note' }, note) : null,
  );
}

/**
 * A table. `columns` are [header, cell(row), className?].
 * @template T
 * @param {Array<[string, (row: T) => any, string?]>} columns
 * @param {T[]} rows
 * @param {string} [empty]
 */
export function table(columns, rows, empty = 'Nothing yet.') {
  if (rows.length === 0) return h('div', { class: 'empty' }, empty);
  // Wide tables scroll inside their panel on a phone instead of widening the page.
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.map(([title, , cls]) => h('th', { class: cls }, title)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((row) =>
          h(
            'tr',
            null,
            columns.map(([, cell, cls]) => h('td', { class: cls }, cell(row))),
          ),
        ),
      ),
    ),
  );
}

/** A horizontal bar relative to `max`. @param {number} value @param {number} max */
export function bar(value, max) {
  const width = max > 0 ? Math.max(2, Math.round((value / max) * 100)) : 0;
  return h('div', { class: 'bar' }, h('span', { style: `width:${width}%` }));
}
