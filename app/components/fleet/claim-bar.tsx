'use client';

import { useI18n } from '../../i18n/provider';
import { formatBytes } from './format';
import type { PerGpuClaim } from './views';

const PARTS = [
  { key: 'weightsBytes', label: 'dryRun.weights', className: 'part-weights' },
  { key: 'kvCacheBytes', label: 'dryRun.kvCache', className: 'part-kv' },
  { key: 'activationBytes', label: 'dryRun.activations', className: 'part-activations' },
  { key: 'overheadBytes', label: 'dryRun.overhead', className: 'part-overhead' },
] as const;

/**
 * What one GPU would hold, drawn as stacked parts against the GPU: the black line is the budget
 * (total x gpu_memory_utilization), so "does it fit" is visible before any number is read.
 */
export function ClaimBar({ claim, gpuTotalBytes, utilization }: { claim: PerGpuClaim; gpuTotalBytes: number | null; utilization: number }) {
  const { t } = useI18n();
  const total = PARTS.reduce((sum, p) => sum + Math.max(0, claim[p.key] ?? 0), 0);
  const budget = gpuTotalBytes ? gpuTotalBytes * utilization : null;
  const scale = Math.max(total, gpuTotalBytes ?? 0, 1);
  const over = budget !== null && total > budget;
  return (
    <div data-testid="claim-bar">
      <div className={`claim-bar${over ? ' claim-over' : ''}`} role="img" aria-label={`${t('dryRun.total')} ${formatBytes(total)}`}>
        {PARTS.map((p) => (
          <span key={p.key} className={p.className} style={{ width: `${(Math.max(0, claim[p.key] ?? 0) / scale) * 100}%` }} title={`${t(p.label)} ${formatBytes(claim[p.key])}`} />
        ))}
        {budget !== null && <span className="claim-budget" style={{ left: `calc(${(budget / scale) * 100}% - 1px)` }} />}
      </div>
      <div className="legend">
        {PARTS.map((p) => (
          <Row key={p.key} swatch={p.className} label={t(p.label)} value={formatBytes(claim[p.key])} />
        ))}
        <Row label={t('dryRun.total')} value={formatBytes(total)} strong />
      </div>
      <p className="muted" style={{ margin: '6px 0 0', fontSize: 12 }} data-testid="claim-budget">
        {budget !== null && gpuTotalBytes
          ? t('dryRun.budget', { size: formatBytes(budget), pct: Math.round(utilization * 100), total: formatBytes(gpuTotalBytes) })
          : t('dryRun.noBudget')}
      </p>
    </div>
  );
}

function Row({ swatch, label, value, strong }: { swatch?: string; label: string; value: string; strong?: boolean }) {
  return (
    <>
      <i className={swatch} style={swatch ? undefined : { background: 'transparent' }} />
      <span style={strong ? { fontWeight: 600 } : undefined}>{label}</span>
      <b style={strong ? { fontWeight: 600 } : undefined}>{value}</b>
    </>
  );
}
