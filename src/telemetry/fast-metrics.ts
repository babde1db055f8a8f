import type { Registry } from 'prom-client';
import { merged } from '../core/objects.js';

/**
 * Counters and histograms for the request path, bound once per label set: an update is a field
 * increment, with no label hashing (prom-client hashes the labels on every `inc`/`observe`, even
 * through `labels()`). They register in a prom-client Registry like its own metrics, so /metrics
 * renders them together.
 */

type Labels<L extends string> = Record<L, string>;

/** A bound counter child: `child.value += n`. */
export interface CounterChild {
  value: number;
}

/** A bound histogram child. */
export interface HistogramChild {
  observe(value: number): void;
}

interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A counter whose children are plain objects. */
export class FastCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly children = new Map<string, { labels: Labels<L>; child: CounterChild }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The child for `labels` (created at zero on first use). Keep it: that is the point. */
  bind(labels: Labels<L>): CounterChild {
    const key = this.labelNames.map((name) => labels[name]).join('\u0001');
    let entry = this.children.get(key);
    if (!entry) this.children.set(key, (entry = { labels, child: { value: 0 } }));
    return entry.child;
  }

  get() {
    const values: PromValue[] = [...this.children.values()].map((entry) => ({
      labels: entry.labels,
      value: entry.child.value,
    }));
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset() {
    for (const entry of this.children.values()) entry.child.value = 0;
  }
}

/** A histogram with fixed buckets whose children keep plain arrays. */
export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children = new Map<
    string,
    { labels: Labels<L>; counts: Float64Array; state: { sum: number; count: number } }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The child for `labels`. */
  bind(labels: Labels<L>): HistogramChild {
    const key = this.labelNames.map((name) => labels[name]).join('\u0001');
    let entry = this.children.get(key);
    if (!entry)
      this.children.set(
        key,
        (entry = {
          labels,
          counts: new Float64Array(this.buckets.length + 1),
          state: { sum: 0, count: 0 },
        }),
      );
    const { counts, state } = entry;
    const buckets = this.buckets;
    return {
      observe(value) {
        let index = 0;
        while (index < buckets.length && value > buckets[index]!) index++;
        counts[index]! += 1;
        state.sum += value;
        state.count += 1;
      },
    };
  }

  get() {
    const values: PromValue[] = [];
    for (const entry of this.children.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += entry.counts[index]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: merged(entry.labels, { le: bound }),
          value: cumulative,
        });
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: merged(entry.labels, { le: '+Inf' }),
        value: entry.state.count,
      });
      values.push({ metricName: `${this.name}_sum`, labels: entry.labels, value: entry.state.sum });
      values.push({
        metricName: `${this.name}_count`,
        labels: entry.labels,
        value: entry.state.count,
      });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset() {
    for (const entry of this.children.values()) {
      entry.counts.fill(0);
      entry.state.sum = 0;
      entry.state.count = 0;
    }
  }
}
