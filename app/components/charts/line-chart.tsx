'use client';

import { useMemo, useState, type MouseEvent } from 'react';
import { linear, niceTicks, paddedRange, PALETTE, shortNumber, shortTime } from './scale';
import './charts.css';

export interface LineSeries {
  name: string;
  points: { x: number; y: number }[];
  color?: string;
  dashed?: boolean;
}

export interface LineChartProps {
  series: LineSeries[];
  /** Accessible name of the chart (also its title for screen readers). */
  label: string;
  height?: number;
  /** 'time': x values are epoch milliseconds. */
  xKind?: 'time' | 'number';
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
  yMin?: number;
  yMax?: number;
  xMin?: number;
  xMax?: number;
  /** Shaded x ranges, e.g. which deployment held a GPU. */
  bands?: { from: number; to: number; label: string; color?: string }[];
  /** Horizontal reference lines, e.g. an objective or a limit. */
  markers?: { y: number; label: string }[];
  testId?: string;
}

const W = 640;
const PAD = { left: 48, right: 12, top: 10, bottom: 24 };

/** A line chart in plain SVG: axes with nice ticks, legend, bands, reference lines and a hover read-out. */
export function LineChart(props: LineChartProps) {
  const { series, label, height = 200, xKind = 'number', bands = [], markers = [] } = props;
  const [hoverX, setHoverX] = useState<number | null>(null);
  const all = series.flatMap((s) => s.points);
  const [x0, x1] = paddedRange(all.map((p) => p.x), props.xMin ?? undefined, props.xMax ?? undefined);
  const xDomain: [number, number] = [props.xMin ?? (all.length ? Math.min(...all.map((p) => p.x)) : x0), props.xMax ?? (all.length ? Math.max(...all.map((p) => p.x)) : x1)];
  if (xDomain[0] === xDomain[1]) xDomain[1] = xDomain[0] + 1;
  const yDomain = paddedRange([...all.map((p) => p.y), ...markers.map((m) => m.y)], props.yMin, props.yMax);
  const x = linear(xDomain, [PAD.left, W - PAD.right]);
  const y = linear(yDomain, [height - PAD.bottom, PAD.top]);
  const span = xDomain[1] - xDomain[0];
  const fx = props.formatX ?? (xKind === 'time' ? (v: number) => shortTime(v, span) : shortNumber);
  const fy = props.formatY ?? shortNumber;
  const xTicks = useMemo(() => (xKind === 'time' ? timeTicks(xDomain[0], xDomain[1]) : niceTicks(xDomain[0], xDomain[1], 6)), [xKind, xDomain[0], xDomain[1]]);
  const yTicks = niceTicks(yDomain[0], yDomain[1], 4);
  const colored = series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]!, points: [...s.points].sort((a, b) => a.x - b.x) }));

  const onMove = (e: MouseEvent<SVGSVGElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * W;
    if (px < PAD.left || px > W - PAD.right) return setHoverX(null);
    setHoverX(xDomain[0] + ((px - PAD.left) / (W - PAD.left - PAD.right)) * span);
  };
  const nearest = hoverX === null ? [] : colored.map((s) => ({ s, p: nearestPoint(s.points, hoverX) })).filter((n) => n.p);

  return (
    <figure className="chart" data-testid={props.testId} data-series={series.length} data-points={all.length}>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label} onMouseMove={onMove} onMouseLeave={() => setHoverX(null)}>
        {bands.map((b, i) => {
          const from = Math.max(x(b.from), PAD.left);
          const to = Math.min(x(b.to), W - PAD.right);
          if (to <= from) return null;
          return (
            <g key={`band-${i}`} className="chart-band" data-testid="chart-band">
              <rect x={from} y={PAD.top} width={to - from} height={height - PAD.top - PAD.bottom} fill={b.color ?? 'var(--accent-soft)'} />
              <text x={from + 3} y={PAD.top + 11} className="chart-band-label">
                {b.label}
              </text>
            </g>
          );
        })}
        {yTicks.map((t) => (
          <g key={`y-${t}`}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} className="chart-grid" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" className="chart-tick">
              {fy(t)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x-${t}`} x={x(t)} y={height - 6} textAnchor="middle" className="chart-tick">
            {fx(t)}
          </text>
        ))}
        <line x1={PAD.left} x2={W - PAD.right} y1={height - PAD.bottom} y2={height - PAD.bottom} className="chart-axis" />
        {markers.map((m, i) => (
          <g key={`m-${i}`} className="chart-marker">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(m.y)} y2={y(m.y)} />
            <text x={W - PAD.right - 4} y={y(m.y) - 4} textAnchor="end">
              {m.label}
            </text>
          </g>
        ))}
        {colored.map((s) => (
          <g key={s.name}>
            <path d={pathOf(s.points, x, y)} fill="none" stroke={s.color} strokeWidth={1.8} strokeDasharray={s.dashed ? '5 4' : undefined} vectorEffect="non-scaling-stroke" />
            {s.points.length === 1 && <circle cx={x(s.points[0]!.x)} cy={y(s.points[0]!.y)} r={3} fill={s.color} />}
          </g>
        ))}
        {hoverX !== null && (
          <g className="chart-hover">
            <line x1={x(hoverX)} x2={x(hoverX)} y1={PAD.top} y2={height - PAD.bottom} />
            {nearest.map(({ s, p }) => (
              <circle key={s.name} cx={x(p!.x)} cy={y(p!.y)} r={3.5} fill={s.color} />
            ))}
          </g>
        )}
      </svg>
      <figcaption className="chart-legend">
        {colored.map((s) => (
          <span key={s.name} className="chart-legend-item">
            <span className="chart-swatch" style={{ background: s.color }} />
            {s.name}
          </span>
        ))}
        {nearest.length > 0 && (
          <span className="chart-readout">
            {fx(nearest[0]!.p!.x)}: {nearest.map(({ s, p }) => `${s.name} ${fy(p!.y)}`).join(' · ')}
          </span>
        )}
      </figcaption>
    </figure>
  );
}

function pathOf(points: { x: number; y: number }[], x: (v: number) => number, y: (v: number) => number): string {
  return points
    .filter((p) => Number.isFinite(p.y))
    .map((p, i) => `${i ? 'L' : 'M'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`)
    .join(' ');
}

function nearestPoint(points: { x: number; y: number }[], at: number) {
  let best: { x: number; y: number } | undefined;
  for (const p of points) if (!best || Math.abs(p.x - at) < Math.abs(best.x - at)) best = p;
  return best;
}

/** Ticks on round clock times (every 10 min, hour, 6 h, day) for a time axis. */
function timeTicks(from: number, to: number): number[] {
  const span = to - from;
  const steps = [60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];
  const step = steps.find((s) => span / s <= 7) ?? 86_400_000;
  const offset = new Date(from).getTimezoneOffset() * 60_000;
  const ticks: number[] = [];
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to; t += step) ticks.push(t);
  return ticks;
}
