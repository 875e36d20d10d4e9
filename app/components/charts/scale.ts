/**
 * Axis arithmetic shared by the charts: "nice" tick values (1, 2, 5 × 10^k) so axes read like a
 * person would label them, and linear mapping from data to pixels.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Pads a data range so a flat series still has height and the top point does not touch the frame. */
export function paddedRange(values: number[], floor?: number, ceiling?: number): [number, number] {
  const finite = values.filter(Number.isFinite);
  let lo = floor ?? (finite.length ? Math.min(...finite) : 0);
  let hi = ceiling ?? (finite.length ? Math.max(...finite) : 1);
  if (hi === lo) {
    hi = lo + (Math.abs(lo) || 1);
    if (floor === undefined) lo = lo - (Math.abs(lo) || 1) * 0.1;
  } else if (ceiling === undefined) hi += (hi - lo) * 0.05;
  return [lo, hi];
}

export function linear(domain: [number, number], range: [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** A short number for axes and tooltips: 1234 → 1.23k, 0.000123 → 0.000123. */
export function shortNumber(v: number): string {
  if (!Number.isFinite(v)) return '∞';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return Number(v.toPrecision(3)).toString();
  if (a === 0) return '0';
  return Number(v.toPrecision(2)).toString();
}

export function shortTime(ms: number, spanMs: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  if (spanMs > 2 * 86_400_000) return `${d.getMonth() + 1}/${d.getDate()} ${two(d.getHours())}:00`;
  return `${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** Distinct colours for series, readable on white and for common colour-vision deficiencies. */
export const PALETTE = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `var(--series-${n})`);
