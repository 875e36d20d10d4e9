export type TokenStats = { total: number; mean: number; p50: number; p95: number; max: number };
/** Rows per token-length bucket: `le` is the bucket's inclusive upper bound, doubling from 8 up to the longest row. */
export type TokenHistogram = { le: number; count: number }[];

/** Per-row token counts, kept as a packed array so that a million rows cost 4 MB, not 30. */
export class TokenCounts {
  private counts = new Uint32Array(1024);
  private length = 0;
  private total = 0;

  add(count: number): void {
    if (this.length === this.counts.length) {
      const grown = new Uint32Array(this.counts.length * 2);
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[this.length++] = count;
    this.total += count;
  }

  /** Nearest-rank percentiles; null when no row was counted. */
  summary(): TokenStats | null {
    if (this.length === 0) return null;
    const sorted = this.counts.slice(0, this.length).sort();
    const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
    return { total: this.total, mean: this.total / this.length, p50: rank(0.5), p95: rank(0.95), max: sorted[sorted.length - 1] };
  }

  /**
   * Quarter-octave buckets (4, 5, 6, 7, 8, 10, 11, 13, 16, ...: each about 19% above the last) up to the first
   * bound that holds the longest row. Token lengths span orders of magnitude, so a geometric scale keeps both a
   * chat turn and a long document readable; finite bounds survive JSON (Infinity would not).
   */
  histogram(): TokenHistogram {
    if (this.length === 0) return [];
    let max = 0;
    for (let i = 0; i < this.length; i++) if (this.counts[i]! > max) max = this.counts[i]!;
    const bounds: number[] = [];
    for (let k = 8; bounds.length === 0 || bounds[bounds.length - 1]! < max; k++) {
      const le = Math.round(2 ** (k / 4));
      if (le !== bounds[bounds.length - 1]) bounds.push(le);
    }
    const counts = new Array<number>(bounds.length).fill(0);
    for (let i = 0; i < this.length; i++) {
      const n = this.counts[i]!;
      // The first bound at or above n (binary search: a million rows, a few dozen bounds).
      let lo = 0;
      let hi = bounds.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (bounds[mid]! >= n) hi = mid;
        else lo = mid + 1;
      }
      counts[lo]!++;
    }
    return bounds.map((le, i) => ({ le, count: counts[i]! }));
  }
}
