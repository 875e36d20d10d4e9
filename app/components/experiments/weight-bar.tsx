'use client';

import { PALETTE } from '../charts/scale';

/** Each variant's share of traffic, drawn, so 1:3 reads as a quarter at a glance. */
export function WeightBar({ variants }: { variants: { label: string; weight: number }[] }) {
  const total = variants.reduce((s, v) => s + v.weight, 0) || 1;
  return (
    <div>
      <div className="weight-bar" aria-hidden>
        {variants.map((v, i) => (
          <span key={v.label} style={{ width: `${(v.weight / total) * 100}%`, background: PALETTE[i % PALETTE.length] }} />
        ))}
      </div>
      <small className="muted">{variants.map((v) => `${v.label} ${Math.round((v.weight / total) * 100)}%`).join(' · ')}</small>
    </div>
  );
}
