'use client';

import { useI18n } from '../../i18n/provider';
import { PALETTE } from '../charts/scale';
import { DataTable } from '../data-table';
import { ThumbIcon } from './thumb-icon';
import { formatMs, formatPercent, type ExperimentView, type VariantStatsView } from './views';

/** One row per variant: traffic, errors, latency percentiles, speed and thumbs. */
export function VariantTable({ experiment, stats, baselineId }: { experiment: ExperimentView; stats: VariantStatsView[]; baselineId: string | null }) {
  const { t } = useI18n();
  const byId = new Map(stats.map((s) => [s.variantId, s]));
  const total = experiment.variants.reduce((s, v) => s + v.weight, 0) || 1;
  return (
    <DataTable
      testId="variant-table"
      className="table table-dense"
      head={
        <>
          <th>{t('experiments.variant')}</th>
          <th>{t('experiments.deployment')}</th>
          <th className="num">{t('experiments.share')}</th>
          <th className="num">{t('experiments.requests')}</th>
          <th className="num">{t('experiments.errorRate')}</th>
          <th className="num">TTFT p50 / p95 / p99</th>
          <th className="num">E2E p50 / p95 / p99</th>
          <th className="num">{t('experiments.tokensPerSecond')}</th>
          <th className="num">{t('experiments.thumbs')}</th>
        </>
      }
    >
      {experiment.variants.map((v, i) => {
        const s = byId.get(v.id);
        const winner = experiment.winnerVariantId === v.id;
        return (
          <tr key={v.id} data-testid="variant-stats-row" data-label={v.label} data-requests={s?.requests ?? 0} data-up={s?.thumbsUp ?? 0} data-down={s?.thumbsDown ?? 0}>
            <td className="nowrap">
              <span style={{ display: 'inline-block', width: 10, height: 10, borderRadius: 2, background: PALETTE[i % PALETTE.length], marginRight: 6 }} aria-hidden />
              <strong>{v.label}</strong>
              {v.id === baselineId && <span className="chip" style={{ marginLeft: 6 }}>{t('experiments.baseline')}</span>}
              {winner && <span className="chip chip-accent" style={{ marginLeft: 6 }}>{t('experiments.winner')}</span>}
            </td>
            <td>{v.deploymentName}</td>
            <td className="num">{formatPercent(v.weight / total, 0)}</td>
            <td className="num">{s?.requests ?? 0}</td>
            <td className="num">{s && s.requests ? formatPercent(s.errorRate) : '—'}</td>
            <td className="num">{s ? `${formatMs(s.ttft.p50)} / ${formatMs(s.ttft.p95)} / ${formatMs(s.ttft.p99)}` : '—'}</td>
            <td className="num">{s ? `${formatMs(s.e2e.p50)} / ${formatMs(s.e2e.p95)} / ${formatMs(s.e2e.p99)}` : '—'}</td>
            <td className="num">{s?.tokensPerSecond ? s.tokensPerSecond.toFixed(1) : '—'}</td>
            <td className="num nowrap" data-testid="variant-thumbs">
              <span className="thumb-count" title={t('experiments.thumbsUp')}>
                <ThumbIcon up /> {s?.thumbsUp ?? 0}
              </span>{' '}
              <span className="thumb-count" title={t('experiments.thumbsDown')}>
                <ThumbIcon up={false} /> {s?.thumbsDown ?? 0}
              </span>
            </td>
          </tr>
        );
      })}
    </DataTable>
  );
}
