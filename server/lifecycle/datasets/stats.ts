export type TokenStats = { total: number; mean: number; p50: number; p95: number; max: number };

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
}
