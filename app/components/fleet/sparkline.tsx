/**
 * A tiny line of values in 0..max over time, drawn in SVG (no chart library: a handful of points).
 * Gaps in time are kept honest by placing points by their timestamps, not their order.
 */
export function Sparkline({ points, max = 100, from, to, label }: { points: { at: number; value: number }[]; max?: number; from: number; to: number; label: string }) {
  const width = 300;
  const height = 36;
  const span = Math.max(1, to - from);
  const xy = points
    .filter((p) => p.at >= from && p.at <= to)
    .sort((a, b) => a.at - b.at)
    .map((p) => [((p.at - from) / span) * width, height - 2 - (Math.min(max, Math.max(0, p.value)) / max) * (height - 4)] as const);
  const line = xy.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const area = xy.length ? `${line} L${xy.at(-1)![0].toFixed(1)},${height} L${xy[0]![0].toFixed(1)},${height} Z` : '';
  return (
    <svg className="sparkline" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label} data-testid="sparkline" data-points={xy.length}>
      <line x1="0" x2={width} y1={height - 0.5} y2={height - 0.5} stroke="var(--border)" />
      {area && <path className="area" d={area} />}
      {line && <path className="line" d={line} vectorEffect="non-scaling-stroke" />}
    </svg>
  );
}
