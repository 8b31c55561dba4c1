/**
 * Counters and histograms for the request path, registered in a prom-client Registry like its
 * own metrics (same `get()` shape, same text output, summed by the cluster aggregator). One event
 * costs a Map lookup by the label values and an addition: prom-client's own `inc`/`observe`
 * validate and hash a labels object on every call (≈ 1 µs per request for the request series).
 */

/** One metric sample in prom-client's `get()` shape. */
interface Sample {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/** What `Registry.registerMetric` and `getMetricsAsJSON` need of a metric. */
interface RegistryLike {
  registerMetric(metric: never): void;
}

interface Options<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
  readonly registers: readonly RegistryLike[];
}

const SEP = '\u0000';

function keyOf(a: string | undefined, b: string | undefined): string {
  return b === undefined ? (a ?? '') : `${a ?? ''}${SEP}${b}`;
}

function labelsOf(names: readonly string[], a: string | undefined, b: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (names.length > 0) labels[names[0]] = a ?? '';
  if (names.length > 1) labels[names[1]] = b ?? '';
  return labels;
}

/** A monotonic counter with up to two labels. */
export class FastCounter<L extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(opts: Options<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.#labelNames = opts.labelNames ?? [];
    if (this.#labelNames.length > 2) throw new RangeError(`${opts.name}: at most two labels`);
    if (this.#labelNames.length === 0) this.reset();
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  /** Add `by` (default 1) to the series of the label values `a`, `b` (in `labelNames` order). */
  inc(a?: string, b?: string, by = 1): void {
    const k = keyOf(a, b);
    const s = this.#series.get(k);
    if (s) s.value += by;
    else this.#series.set(k, { labels: labelsOf(this.#labelNames, a, b), value: by });
  }

  /** The value of one series (0 when it has none yet). */
  value(a?: string, b?: string): number {
    return this.#series.get(keyOf(a, b))?.value ?? 0;
  }

  /** Back to zero (a counter without labels keeps its one series at 0). */
  reset(): void {
    this.#series.clear();
    if (this.#labelNames.length === 0) this.#series.set('', { labels: {}, value: 0 });
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const s of this.#series.values()) values.push({ value: s.value, labels: { ...s.labels } });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A histogram with at most one label and fixed buckets (upper bounds, ascending). */
export class FastHistogram<L extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelName: string | undefined;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, { labels: Record<string, string>; buckets: Float64Array; sum: number; count: number }>();

  constructor(opts: Options<L> & { readonly buckets: readonly number[] }) {
    this.name = opts.name;
    this.help = opts.help;
    const names = opts.labelNames ?? [];
    if (names.length > 1) throw new RangeError(`${opts.name}: at most one label`);
    this.#labelName = names[0];
    this.#bounds = [...opts.buckets].sort((x, y) => x - y);
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  /** Record `value` in the series of the label value `a`. */
  observe(value: number, a?: string): void {
    const k = a ?? '';
    let s = this.#series.get(k);
    if (!s) {
      const labels: Record<string, string> = this.#labelName === undefined ? {} : { [this.#labelName]: k };
      s = { labels, buckets: new Float64Array(this.#bounds.length), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        s.buckets[i]++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  reset(): void {
    this.#series.clear();
  }

  /** Cumulative buckets, `+Inf`, `_sum` and `_count` per series, as prom-client's Histogram. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.buckets[i];
        values.push({ value: cumulative, labels: { le: this.#bounds[i], ...s.labels }, metricName: bucketName });
      }
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: bucketName });
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
