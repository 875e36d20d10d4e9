'use client';

import { linear, niceTicks, PALETTE, shortNumber } from '../components/charts/scale';
import '../components/charts/charts.css';

export interface DayBar {
  day: string;
  promptTokens: number;
  completionTokens: number;
}

const W = 640;
const PAD = { left: 48, right: 12, top: 12, bottom: 26 };

/** Prompt and completion tokens per day, stacked bars on the charts kit's scales; every day of the range has a slot. */
export function DayBars({ days, label, names, height = 220, testId }: { days: DayBar[]; label: string; names: [string, string]; height?: number; testId?: string }) {
  const top = Math.max(1, ...days.map((d) => d.promptTokens + d.completionTokens)) * 1.08;
  const ticks = niceTicks(0, top, 4);
  const y = linear([0, Math.max(top, ticks.at(-1) ?? top)], [height - PAD.bottom, PAD.top]);
  const slot = (W - PAD.left - PAD.right) / Math.max(1, days.length);
  const every = Math.ceil(days.length / 10);
  return (
    <figure className="chart" data-testid={testId} data-days={days.length}>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label}>
        {ticks.map((t) => (
          <g key={`y-${t}`}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} className="chart-grid" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" className="chart-tick">
              {shortNumber(t)}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          const x = PAD.left + i * slot + slot * 0.1;
          const w = Math.max(1, slot * 0.8);
          const total = d.promptTokens + d.completionTokens;
          return (
            <g key={d.day} data-testid="usage-bar" data-day={d.day} data-tokens={total}>
              <title>{`${d.day}: ${names[0]} ${d.promptTokens}, ${names[1]} ${d.completionTokens}`}</title>
              <rect x={x} y={y(d.promptTokens)} width={w} height={Math.max(0, y(0) - y(d.promptTokens))} fill={PALETTE[0]} opacity={0.85} />
              <rect x={x} y={y(total)} width={w} height={Math.max(0, y(d.promptTokens) - y(total))} fill={PALETTE[1]} opacity={0.85} />
              {i % every === 0 && (
                <text x={PAD.left + (i + 0.5) * slot} y={height - PAD.bottom + 14} textAnchor="middle" className="chart-tick">
                  {d.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} className="chart-axis" />
      </svg>
      <figcaption className="chart-legend">
        {names.map((n, i) => (
          <span key={n} className="chart-legend-item">
            <span className="chart-swatch" style={{ background: PALETTE[i] }} />
            {n}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** Every day from `from` to `to` (YYYY-MM-DD, UTC), with the given totals or zeros. */
export function fillDays(from: string, to: string, days: DayBar[]): DayBar[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const out: DayBar[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); t <= end && out.length < 400; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push(byDay.get(day) ?? { day, promptTokens: 0, completionTokens: 0 });
  }
  return out;
}
