'use client';

import { linear, niceTicks, PALETTE } from '../charts/scale';
import '../charts/charts.css';

export interface PairedBarRow {
  label: string;
  predicted: number | null;
  measured: number | null;
}

/**
 * Hand-drawn paired bars: per row, the prediction above the measurement on one shared axis (from 0),
 * so a gap reads as a length; a missing figure draws no bar and says "—". Uses the chart kit's scale.
 */
export function PairedBars({ rows, label, legend, format, testId }: { rows: PairedBarRow[]; label: string; legend: [predicted: string, measured: string]; format: (v: number) => string; testId?: string }) {
  const W = 640;
  const left = 150;
  const right = 90;
  const rowH = 34;
  const height = rows.length * rowH + 40;
  const max = Math.max(1e-9, ...rows.flatMap((r) => [r.predicted ?? 0, r.measured ?? 0]));
  const ticks = niceTicks(0, max, 4);
  const x = linear([0, Math.max(max, ticks.at(-1) ?? max)], [left, W - right]);
  const bar = (value: number | null, y: number, color: string, kind: string) =>
    value === null || !Number.isFinite(value) ? (
      <text x={left + 4} y={y + 9} className="chart-tick">—</text>
    ) : (
      <g data-testid={`bar-${kind}`} data-value={value}>
        <rect x={left} y={y} width={Math.max(1, x(Math.max(0, value)) - left)} height={11} fill={color} rx={2} />
        <text x={x(Math.max(0, value)) + 6} y={y + 9} className="chart-tick">
          {format(value)}
        </text>
      </g>
    );
  return (
    <figure className="chart" data-testid={testId} data-rows={rows.length}>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={4} y2={height - 34} className="chart-grid" />
            <text x={x(t)} y={height - 22} textAnchor="middle" className="chart-tick">
              {format(t)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => {
          const y = 6 + i * rowH;
          return (
            <g key={r.label} data-testid="paired-row">
              <text x={left - 8} y={y + 15} textAnchor="end" className="chart-row-label">
                {r.label}
              </text>
              {bar(r.predicted, y, PALETTE[0]!, 'predicted')}
              {bar(r.measured, y + 13, PALETTE[1]!, 'measured')}
            </g>
          );
        })}
        {legend.map((name, i) => (
          <g key={name}>
            <rect x={left + i * 120} y={height - 12} width={10} height={10} fill={PALETTE[i]!} rx={2} />
            <text x={left + i * 120 + 14} y={height - 3} className="chart-tick">
              {name}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
