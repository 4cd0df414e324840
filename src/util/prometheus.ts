/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * in the text exposition format 0.0.4. Not `prom-client`: bcn adds an npm
 * dependency only when it must, and what a node exports fits in this file.
 * Every metric keeps at most {@link MAX_SERIES} label sets, so a scrape costs
 * the same whatever the requests before it were.
 *
 * @module
 */

/** The `Content-Type` of {@link Registry.render}'s output. */
export const EXPOSITION_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** Label sets one metric keeps at most; further ones are counted in `other`. */
export const MAX_SERIES = 1000;

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** One metric of a {@link Registry}. */
interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  lines(out: string[]): void;
}

/** A metric with a value per label set. */
abstract class LabelledMetric<V> implements Metric {
  abstract readonly type: "counter" | "gauge" | "histogram";
  readonly name: string;
  readonly help: string;
  /** The label names every series has. */
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, V>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    checkName(name);
    for (const l of labelNames) checkName(l);
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series key of `labels`, or of `other` past {@link MAX_SERIES}. */
  protected key(labels: Labels): string {
    const names = Object.keys(labels);
    if (
      names.length !== this.labelNames.length ||
      this.labelNames.some((n) => !(n in labels))
    ) {
      throw new TypeError(
        `${this.name}: expected labels ${this.labelNames.join(",")}, got ${
          names.join(",")
        }`,
      );
    }
    const key = this.labelNames.map((n) => `${n}="${escapeLabel(labels[n])}"`)
      .join(",");
    if (this.series.has(key) || this.series.size < MAX_SERIES - 1) return key;
    return this.labelNames.map((n) => `${n}="other"`).join(",");
  }

  abstract lines(out: string[]): void;
}

/**
 * A counter: a total that only goes up.
 *
 * @example
 * ```ts
 * import { Registry } from "./prometheus.ts";
 *
 * const r = new Registry();
 * const c = r.counter("bcn_blocks_total", "Blocks confirmed.");
 * c.inc();
 * console.log(r.render().includes("bcn_blocks_total 1")); // true
 * ```
 */
export class Counter extends LabelledMetric<number> {
  /** The metric type. */
  readonly type = "counter" as const;

  /**
   * A counter whose series of `known` label sets exist at 0 from the
   * start: a rate over them reads 0, not "no data", before the first event.
   */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    known: readonly Labels[] = [],
  ) {
    super(name, help, labelNames);
    for (const labels of known) this.series.set(this.key(labels), 0);
  }

  /** Adds `by` (default 1, never negative) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name}: cannot add ${by}`);
    const key = this.key(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + by);
  }

  /** The value of the series of `labels` (0 if none). */
  get(labels: Labels = {}): number {
    return this.series.get(this.key(labels)) ?? 0;
  }

  /** Writes the samples. */
  lines(out: string[]): void {
    // An unlabelled counter exists from the start; labelled ones from
    // their known label sets, or else from their first increment.
    writeSeries(
      out,
      this.name,
      this.series,
      this.series.size === 0 && this.labelNames.length === 0,
    );
  }
}

/**
 * A gauge: a value that goes up and down, set when it changes or just
 * before a scrape.
 *
 * @example
 * ```ts
 * import { Registry } from "./prometheus.ts";
 *
 * const r = new Registry();
 * const g = r.gauge("bcn_peers", "Peers that answered.");
 * g.set(2);
 * console.log(r.render().includes("bcn_peers 2")); // true
 * ```
 */
export class Gauge extends LabelledMetric<number> {
  /** The metric type. */
  readonly type = "gauge" as const;

  /** Sets the series of `labels` to `value`. */
  set(value: number, labels: Labels = {}): void {
    this.series.set(this.key(labels), value);
  }

  /** The value of the series of `labels`, if set. */
  get(labels: Labels = {}): number | undefined {
    return this.series.get(this.key(labels));
  }

  /** Writes the samples. */
  lines(out: string[]): void {
    writeSeries(out, this.name, this.series, false);
  }
}

/** The buckets and totals of one histogram series. */
interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram: observations counted in cumulative buckets, with their sum
 * and count.
 *
 * @example
 * ```ts
 * import { Registry } from "./prometheus.ts";
 *
 * const r = new Registry();
 * const h = r.histogram("bcn_block_apply_seconds", "Apply time.", {
 *   buckets: [0.001, 0.01, 0.1],
 * });
 * h.observe(0.004);
 * console.log(r.render().includes('bcn_block_apply_seconds_bucket{le="0.01"} 1')); // true
 * ```
 */
export class Histogram extends LabelledMetric<HistogramSeries> {
  /** The metric type. */
  readonly type = "histogram" as const;
  /** The upper bounds of the buckets, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];

  /** A histogram with `buckets` (ascending, finite). */
  constructor(
    name: string,
    help: string,
    options: { buckets: readonly number[]; labelNames?: readonly string[] },
  ) {
    super(name, help, options.labelNames ?? []);
    const b = options.buckets;
    if (
      b.length === 0 || b.some((x, i) => !Number.isFinite(x) || b[i - 1] >= x)
    ) {
      throw new RangeError(`${name}: buckets must be finite and ascending`);
    }
    this.buckets = [...b];
  }

  /** Counts `value` in the series of `labels`. */
  observe(value: number, labels: Labels = {}): void {
    const key = this.key(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Writes the samples. */
  lines(out: string[]): void {
    const series = this.series.size === 0 && this.labelNames.length === 0
      ? new Map([["", {
        counts: this.buckets.map(() => 0),
        sum: 0,
        count: 0,
      }]])
      : this.series;
    for (const [key, s] of series) {
      let cumulative = 0;
      const sep = key === "" ? "" : ",";
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i];
        out.push(
          `${this.name}_bucket{${key}${sep}le="${
            formatNumber(b)
          }"} ${cumulative}`,
        );
      });
      out.push(`${this.name}_bucket{${key}${sep}le="+Inf"} ${s.count}`);
      const braces = key === "" ? "" : `{${key}}`;
      out.push(`${this.name}_sum${braces} ${formatNumber(s.sum)}`);
      out.push(`${this.name}_count${braces} ${s.count}`);
    }
  }
}

/**
 * A set of metrics written together. Collectors run first, so gauges that
 * read the node's state are fresh in every scrape.
 *
 * @example
 * ```ts
 * import { Registry } from "./prometheus.ts";
 *
 * const r = new Registry();
 * const height = r.gauge("bcn_block_height", "Last confirmed block.");
 * r.onCollect(() => height.set(7));
 * console.log(r.render());
 * // # HELP bcn_block_height Last confirmed block.
 * // # TYPE bcn_block_height gauge
 * // bcn_block_height 7
 * ```
 */
export class Registry {
  readonly #metrics = new Map<string, Metric>();
  readonly #collectors: (() => void)[] = [];

  /**
   * Adds a counter; the series of its `known` label sets start at 0 (an
   * unlabelled counter always does).
   */
  counter(
    name: string,
    help: string,
    labelNames: string[] = [],
    known: readonly Labels[] = [],
  ): Counter {
    return this.#add(new Counter(name, help, labelNames, known));
  }

  /** Adds a gauge. */
  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  /** Adds a histogram. */
  histogram(
    name: string,
    help: string,
    options: { buckets: readonly number[]; labelNames?: string[] },
  ): Histogram {
    return this.#add(new Histogram(name, help, options));
  }

  /** Runs `collect` before every {@link render}. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** Every metric in the text exposition format, ending in a newline. */
  render(): string {
    for (const collect of this.#collectors) collect();
    const out: string[] = [];
    for (const m of this.#metrics.values()) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`);
      out.push(`# TYPE ${m.name} ${m.type}`);
      m.lines(out);
    }
    return out.join("\n") + "\n";
  }

  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new TypeError(`metric ${metric.name} is registered twice`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}

function writeSeries(
  out: string[],
  name: string,
  series: Map<string, number>,
  zeroIfEmpty: boolean,
): void {
  if (zeroIfEmpty) out.push(`${name} 0`);
  for (const [key, v] of series) {
    out.push(`${name}${key === "" ? "" : `{${key}}`} ${formatNumber(v)}`);
  }
}

function checkName(name: string): void {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) {
    throw new TypeError(`invalid metric or label name ${JSON.stringify(name)}`);
  }
}

/** A sample value as the format writes it. */
function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
