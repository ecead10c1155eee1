const SUB_BUCKETS = 32;
const MAX_EXPONENT = 34;
const BUCKETS = MAX_EXPONENT * SUB_BUCKETS + 1;

/** A histogram's counts as plain data, to send between processes and merge. */
export interface HistogramData {
  readonly counts: readonly number[];
  readonly total: number;
  readonly max: number;
}

/**
 * A fixed-size latency histogram (microseconds): 32 linear sub-buckets per power of two, about
 * 3% resolution, bounded memory whatever the sample count; histograms of several processes merge.
 */
export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;
  #max = 0;

  get total(): number {
    return this.#total;
  }

  record(valueMicros: number): void {
    const value = valueMicros > 0 ? valueMicros : 0;
    const bucket = bucketOf(value);
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
    this.#total++;
    if (value > this.#max) this.#max = value;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
    this.#max = 0;
  }

  merge(data: HistogramData): void {
    data.counts.forEach((count, index) => {
      if (count > 0) this.#counts[index] = (this.#counts[index] ?? 0) + count;
    });
    this.#total += data.total;
    if (data.max > this.#max) this.#max = data.max;
  }

  /** The value at percentile `p` (0–100): the upper edge of its bucket, capped at the max seen. */
  percentile(p: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.#counts[index] ?? 0;
      if (seen >= rank) return Math.min(upperEdgeOf(index), this.#max);
    }
    return this.#max;
  }

  toData(): HistogramData {
    return { counts: Array.from(this.#counts), total: this.#total, max: this.#max };
  }

  static from(data: HistogramData): Histogram {
    const histogram = new Histogram();
    histogram.merge(data);
    return histogram;
  }
}

function bucketOf(value: number): number {
  if (value < 1) return 0;
  const exponent = Math.min(MAX_EXPONENT - 1, Math.floor(Math.log2(value)));
  const base = 2 ** exponent;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(((value - base) / base) * SUB_BUCKETS));
  return 1 + exponent * SUB_BUCKETS + sub;
}

function upperEdgeOf(index: number): number {
  if (index === 0) return 1;
  const exponent = Math.floor((index - 1) / SUB_BUCKETS);
  const sub = (index - 1) % SUB_BUCKETS;
  const base = 2 ** exponent;
  return base + ((sub + 1) * base) / SUB_BUCKETS;
}
