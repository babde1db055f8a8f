// @ts-check
/** Hand-drawn SVG charts: a time-series line chart with axes, grid, legend and hover values. */
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)'];

/** @param {string} tag @param {Record<string, any>} attrs @param {...any} children */
function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs))
    if (value !== undefined && value !== null) element.setAttribute(key, String(value));
  for (const child of children.flat())
    if (child)
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

/** An axis top of four "nice" steps (1, 2, 2.5 or 5 × 10ⁿ each) at or above `max`. @param {number} max */
function niceTop(max) {
  if (!(max > 0)) return 4;
  const step = max / 4;
  const power = 10 ** Math.floor(Math.log10(step));
  for (const nice of [1, 2, 2.5, 5, 10]) if (nice * power >= step) return 4 * nice * power;
  return 40 * power;
}

/**
 * A line chart over time.
 * @param {{
 *   series: Array<{ name: string, values: Array<number | null>, color?: string, area?: boolean }>,
 *   times: number[],
 *   format?: (value: number) => string,
 *   height?: number,
 *   bucketMs?: number,
 * }} options
 */
export function lineChart(options) {
  const width = 640;
  const height = options.height ?? 200;
  const pad = { left: 64, right: 12, top: 10, bottom: 24 };
  const format = options.format ?? ((value) => String(Math.round(value)));
  const { times } = options;
  const wrapper = h('div', { class: 'chart' });
  if (times.length === 0) {
    wrapper.append(h('div', { class: 'empty' }, 'No traffic in this range yet.'));
    return wrapper;
  }
  const max = niceTop(
    Math.max(
      0,
      ...options.series
        .flatMap((item) => item.values.filter((value) => value !== null))
        .map(Number),
    ),
  );
  const first = times[0] ?? 0;
  const last = Math.max(times[times.length - 1] ?? 0, first + (options.bucketMs ?? 60_000));
  const x = (/** @type {number} */ t) =>
    pad.left + ((t - first) / (last - first || 1)) * (width - pad.left - pad.right);
  const y = (/** @type {number} */ v) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img' });
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    svg.append(
      s('line', {
        class: 'grid-line',
        x1: pad.left,
        x2: width - pad.right,
        y1: y(value),
        y2: y(value),
      }),
      s(
        'text',
        { class: 'axis', x: pad.left - 6, y: y(value) + 3, 'text-anchor': 'end' },
        format(value),
      ),
    );
  }
  const span = last - first;
  const label = (/** @type {number} */ t) =>
    new Date(t).toLocaleString(
      'en-GB',
      span > 2 * 86_400_000
        ? { month: 'short', day: 'numeric' }
        : { hour: '2-digit', minute: '2-digit' },
    );
  for (let i = 0; i <= 4; i++) {
    const t = first + (span * i) / 4;
    svg.append(
      s(
        'text',
        {
          class: 'axis',
          x: x(t),
          y: height - 6,
          'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle',
        },
        label(t),
      ),
    );
  }
  options.series.forEach((item, index) => {
    const color = item.color ?? COLORS[index % COLORS.length];
    const points = item.values
      .map((value, i) => (value === null ? null : [x(times[i] ?? 0), y(value)]))
      .filter((point) => point !== null);
    if (points.length === 0) return;
    const path = points
      .map((point, i) => `${i === 0 ? 'M' : 'L'}${point[0].toFixed(1)},${point[1].toFixed(1)}`)
      .join('');
    if (item.area)
      svg.append(
        s('path', {
          d: `${path}L${points[points.length - 1][0].toFixed(1)},${y(0)}L${points[0][0].toFixed(1)},${y(0)}Z`,
          fill: color,
          'fill-opacity': 0.12,
          stroke: 'none',
        }),
      );
    svg.append(
      s('path', {
        d: path,
        fill: 'none',
        stroke: color,
        'stroke-width': 2,
        'stroke-linejoin': 'round',
        'data-series': item.name,
      }),
    );
    if (points.length <= 60)
      for (const point of points)
        svg.append(s('circle', { cx: point[0], cy: point[1], r: 2.5, fill: color }));
  });
  // Hover: a vertical guide and the values of the nearest bucket.
  const guide = s('line', {
    x1: 0,
    x2: 0,
    y1: pad.top,
    y2: height - pad.bottom,
    stroke: 'var(--muted)',
    'stroke-dasharray': '3 3',
    visibility: 'hidden',
  });
  const tip = s('text', { class: 'axis', x: 0, y: pad.top + 10, visibility: 'hidden' });
  svg.append(guide, tip);
  svg.addEventListener('mousemove', (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * width;
    let nearest = 0;
    times.forEach((t, i) => {
      if (Math.abs(x(t) - px) < Math.abs(x(times[nearest] ?? 0) - px)) nearest = i;
    });
    const gx = x(times[nearest] ?? 0);
    guide.setAttribute('x1', String(gx));
    guide.setAttribute('x2', String(gx));
    guide.setAttribute('visibility', 'visible');
    tip.textContent = `${label(times[nearest] ?? 0)} · ${options.series.map((item) => `${item.name} ${item.values[nearest] === null ? '–' : format(Number(item.values[nearest]))}`).join(' · ')}`;
    tip.setAttribute('x', String(Math.min(gx + 6, width - 300)));
    tip.setAttribute('visibility', 'visible');
  });
  svg.addEventListener('mouseleave', () => {
    guide.setAttribute('visibility', 'hidden');
    tip.setAttribute('visibility', 'hidden');
  });
  wrapper.append(
    svg,
    h(
      'div',
      { class: 'legend' },
      options.series.map((item, index) =>
        h(
          'span',
          null,
          h('i', { style: `background:${item.color ?? COLORS[index % COLORS.length]}` }),
          item.name,
        ),
      ),
    ),
  );
  return wrapper;
}
