'use client';

import { linear, niceTicks, PALETTE, shortNumber } from './scale';
import './charts.css';

export interface HistogramSeries {
  name: string;
  /** Upper bounds ascending (Prometheus `le`); the last may be Infinity. Counts are per bucket, not cumulative. */
  buckets: { le: number; count: number }[];
  color?: string;
}

export interface HistogramProps {
  series: HistogramSeries[];
  label: string;
  /** Unit of the bucket bounds and percentile values, shown on the axis (e.g. "ms"). */
  unit?: string;
  percentiles?: { label: string; value: number }[];
  height?: number;
  testId?: string;
}

const W = 640;
const PAD = { left: 44, right: 12, top: 16, bottom: 34 };

/**
 * Bars per bucket on a bucket-index axis (bounds like vLLM's are roughly logarithmic, so equal-width
 * slots read better than a linear axis). With several series, bars are shares of each series' total
 * so runs of different sizes compare; percentile lines are placed inside their bucket by interpolation.
 */
export function Histogram({ series, label, unit, percentiles = [], height = 220, testId }: HistogramProps) {
  const bounds = [...new Set(series.flatMap((s) => s.buckets.map((b) => b.le)))].sort((a, b) => a - b);
  const counts = series.map((s) => bounds.map((le) => s.buckets.find((b) => b.le === le)?.count ?? 0));
  // Trim empty buckets at both ends, keeping one of context on each side.
  const used = bounds.map((_, i) => counts.some((c) => c[i]! > 0));
  let first = used.indexOf(true);
  let last = used.lastIndexOf(true);
  if (first < 0) {
    first = 0;
    last = Math.min(bounds.length - 1, 5);
  }
  first = Math.max(0, first - 1);
  last = Math.min(bounds.length - 1, last + 1);
  const shown = bounds.slice(first, last + 1);
  const share = series.length > 1;
  const totals = counts.map((c) => c.reduce((a, b) => a + b, 0) || 1);
  const values = counts.map((c, si) => c.slice(first, last + 1).map((n) => (share ? (n / totals[si]!) * 100 : n)));
  // 8% headroom so the tallest bar and the percentile labels do not touch the frame.
  const top = Math.max(1e-9, ...values.flat()) * 1.08;
  const yTicks = niceTicks(0, top, 4);
  const y = linear([0, Math.max(top, yTicks.at(-1) ?? top)], [height - PAD.bottom, PAD.top]);
  const slot = (W - PAD.left - PAD.right) / Math.max(1, shown.length);
  const barWidth = Math.max(2, (slot * 0.8) / Math.max(1, series.length));
  const lowerOf = (i: number) => (first + i === 0 ? 0 : bounds[first + i - 1]!);
  const fmt = (v: number) => (v === Infinity ? '∞' : shortNumber(v));

  // Where a value falls on the bucket-index axis, interpolating inside its bucket.
  const positionOf = (v: number): number | null => {
    const i = shown.findIndex((le) => v <= le);
    if (i < 0) return null;
    const lo = lowerOf(i);
    const hi = shown[i]!;
    const frac = hi === Infinity || hi === lo ? 0.5 : Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
    return PAD.left + (i + frac) * slot;
  };

  return (
    <figure className="chart" data-testid={testId} data-buckets={shown.length} data-total={counts.flat().reduce((a, b) => a + b, 0)}>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label}>
        {yTicks.map((t) => (
          <g key={`y-${t}`}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} className="chart-grid" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" className="chart-tick">
              {share ? `${shortNumber(t)}%` : shortNumber(t)}
            </text>
          </g>
        ))}
        {shown.map((le, i) => (
          <g key={`b-${le}`}>
            {series.map((s, si) => {
              const v = values[si]![i]!;
              const color = s.color ?? PALETTE[si % PALETTE.length]!;
              const bx = PAD.left + i * slot + slot * 0.1 + si * barWidth;
              return (
                <rect key={s.name} x={bx} y={y(v)} width={barWidth - 1} height={Math.max(0, y(0) - y(v))} fill={color} opacity={0.85} data-testid="histogram-bar" data-count={counts[si]![first + i]}>
                  <title>{`${s.name}: ${counts[si]![first + i]} in (${fmt(lowerOf(i))}, ${fmt(le)}]${unit ? ` ${unit}` : ''}`}</title>
                </rect>
              );
            })}
            {(shown.length <= 12 || i % 2 === 0) && (
              <text x={PAD.left + (i + 0.5) * slot} y={height - PAD.bottom + 13} textAnchor="middle" className="chart-tick">
                ≤{fmt(le)}
              </text>
            )}
          </g>
        ))}
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} className="chart-axis" />
        {unit && (
          <text x={W - PAD.right} y={height - 4} textAnchor="end" className="chart-tick">
            {unit}
          </text>
        )}
        {placeLabels(percentiles.map((p) => ({ ...p, x: positionOf(p.value) }))).map((p) => (
          <g key={p.label} className="chart-marker" data-testid="histogram-percentile">
            <line x1={p.x} x2={p.x} y1={PAD.top} y2={y(0)} />
            <text x={p.x + 3} y={PAD.top + 10 + p.row * 11}>
              {`${p.label} ${shortNumber(p.value)}`}
            </text>
          </g>
        ))}
      </svg>
      {series.length > 1 && (
        <figcaption className="chart-legend">
          {series.map((s, si) => (
            <span key={s.name} className="chart-legend-item">
              <span className="chart-swatch" style={{ background: s.color ?? PALETTE[si % PALETTE.length] }} />
              {s.name}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}

/** Percentile labels left to right, each on the first row where it does not run into the previous label. */
function placeLabels<T extends { label: string; value: number; x: number | null }>(items: T[]): (T & { x: number; row: number })[] {
  const rowEnds: number[] = [];
  return items
    .filter((p): p is T & { x: number } => p.x !== null)
    .sort((a, b) => a.x - b.x)
    .map((p) => {
      const width = (p.label.length + shortNumber(p.value).length + 2) * 5.6;
      let row = rowEnds.findIndex((end) => end < p.x);
      if (row < 0) row = rowEnds.length;
      rowEnds[row] = p.x + width;
      return { ...p, row };
    });
}

/** Counts values into the given upper bounds (an Infinity bucket is added when the last bound is finite). */
export function bucketize(values: number[], bounds: readonly number[]): { le: number; count: number }[] {
  const les = bounds.at(-1) === Infinity ? [...bounds] : [...bounds, Infinity];
  const counts = les.map((le) => ({ le, count: 0 }));
  for (const v of values) {
    const i = les.findIndex((le) => v <= le);
    if (i >= 0) counts[i]!.count++;
  }
  return counts;
}
