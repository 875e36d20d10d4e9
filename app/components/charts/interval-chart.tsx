'use client';

import { linear, niceTicks, paddedRange, shortNumber } from './scale';
import './charts.css';

export interface IntervalRow {
  label: string;
  value: number;
  low: number;
  high: number;
  note?: string;
}

/**
 * A forest plot: one row per item, a point at its value and a bar over its interval. `width` is the
 * drawing's width in its own units, which sets how big its text shows: 640 for a full-width chart, less
 * for one in a half-width panel (at 640 there its text shrank to about 6 px).
 */
export function IntervalChart({ rows, label, formatValue = shortNumber, testId, width = 640 }: { rows: IntervalRow[]; label: string; formatValue?: (v: number) => string; testId?: string; width?: number }) {
  const W = width;
  const rowH = 26;
  // Row labels take about a quarter, the figures right of the plot at most 36 %, the plot the rest. The
  // figures are as wide as the longest (about 5.8 units a character): a fixed 110 let "12.3 s [1.2 s,
  // 45.6 s] p = 0.0123" run out of its card at 1366 px. Where even that is too wide the notes (p = …)
  // are left out: the verdict above the charts says them in full.
  const left = Math.min(150, Math.round(W * 0.27));
  const labelChars = Math.floor((left - 10) / 6.2);
  const withNotes = rows.map((r) => `${formatValue(r.value)} [${formatValue(r.low)}, ${formatValue(r.high)}]${r.note ? ` ${r.note}` : ''}`);
  const plain = rows.map((r) => `${formatValue(r.value)} [${formatValue(r.low)}, ${formatValue(r.high)}]`);
  const widthOf = (texts: string[]) => Math.ceil(Math.max(0, ...texts.map((f) => f.length)) * 5.8) + 16;
  const figures = widthOf(withNotes) <= W * 0.36 ? withNotes : plain;
  const right = Math.min(Math.round(W * 0.36), Math.max(90, widthOf(figures)));
  const height = rows.length * rowH + 26;
  // Pad both ends: an interval at the edge of the range must not run into the row labels.
  const [lo0, hi0] = paddedRange(rows.flatMap((r) => [r.low, r.high, r.value]));
  const pad = (hi0 - lo0) * 0.06;
  const [lo, hi] = [lo0 - pad, hi0 + pad];
  const ticks = niceTicks(lo, hi, 5);
  const x = linear([lo, hi], [left, W - right]);
  return (
    <figure className="chart" data-testid={testId} data-rows={rows.length}>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={4} y2={height - 20} className="chart-grid" />
            <text x={x(t)} y={height - 6} textAnchor="middle" className="chart-tick">
              {formatValue(t)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => {
          const cy = 14 + i * rowH;
          return (
            <g key={r.label} data-testid="interval-row">
              <text x={left - 8} y={cy + 4} textAnchor="end" className="chart-row-label">
                <title>{r.label}</title>
                {r.label.length > labelChars ? `${r.label.slice(0, labelChars - 1)}…` : r.label}
              </text>
              <line x1={x(r.low)} x2={x(r.high)} y1={cy} y2={cy} className="chart-interval" />
              <line x1={x(r.low)} x2={x(r.low)} y1={cy - 5} y2={cy + 5} className="chart-interval" />
              <line x1={x(r.high)} x2={x(r.high)} y1={cy - 5} y2={cy + 5} className="chart-interval" />
              <circle cx={x(r.value)} cy={cy} r={4.5} className="chart-point" />
              <text x={W - right + 8} y={cy + 4} className="chart-tick">
                {figures[i]}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
