'use client';

import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { IntervalChart } from '../charts/interval-chart';
import { formatMs, formatPercent, type ComparisonView, type ExperimentView } from './views';

const pValue = (p: number) => (p < 0.0001 ? p.toExponential(1) : p.toFixed(4));

/** The call for each variant against the baseline, with the numbers behind it. */
export function VerdictPanel({ experiment, comparisons, baselineId }: { experiment: ExperimentView; comparisons: ComparisonView[]; baselineId: string | null }) {
  const { t } = useI18n();
  const labelOf = new Map(experiment.variants.map((v) => [v.id, v.label]));
  const baseline = (baselineId && labelOf.get(baselineId)) || '';
  const finding = (f: string) => t(`experiments.finding.${f}` as MessageKey);
  return (
    <>
      {comparisons.map((c) => {
        const more = Math.max(0, ...c.latency.map((l) => l.moreNeeded), c.errors?.moreNeeded ?? 0, c.thumbs?.moreNeeded ?? 0);
        return (
          <div key={c.variantId} className="card verdict" data-overall={c.overall} data-testid="verdict">
            <strong>
              {t('experiments.versus', { label: labelOf.get(c.variantId) ?? '?', baseline })}: {finding(c.overall)}
              {c.overall === 'too_early' && more > 0 && ` — ${t('experiments.moreNeeded', { n: more })}`}
            </strong>
            <ul>
              {c.latency.map((l) => (
                <li key={l.metric} data-testid={`verdict-${l.metric}`}>
                  {l.metric === 'e2e' ? t('experiments.e2e') : 'TTFT'}: {t('experiments.medianDiff')} {formatMs(l.medianDiff)} [{formatMs(l.low)}, {formatMs(l.high)}] · Mann-Whitney U = {l.u}, p = {pValue(l.p)} ({l.method === 'exact' ? t('experiments.exact') : t('experiments.normalApprox')}) · n = {l.n[0]} / {l.n[1]} → {finding(l.finding)}
                </li>
              ))}
              {[c.errors, c.thumbs].map(
                (p) =>
                  p && (
                    <li key={p.metric} data-testid={`verdict-${p.metric}`}>
                      {p.metric === 'errors' ? t('experiments.errorRate') : t('experiments.thumbsUpRate')}: {formatPercent(p.rates[0])} → {formatPercent(p.rates[1])} ({(p.diff * 100).toFixed(1)} pp [{(p.low * 100).toFixed(1)}, {(p.high * 100).toFixed(1)}]) · z = {p.z.toFixed(2)}, p = {pValue(p.p)} · n = {p.n[0]} / {p.n[1]} → {finding(p.finding)}
                    </li>
                  ),
              )}
              {c.latency.length === 0 && !c.errors && <li className="muted">{t('experiments.needBoth')}</li>}
            </ul>
          </div>
        );
      })}
    </>
  );
}

/** Forest plots: each variant's median latency difference and rate differences against the baseline, with intervals. */
export function ComparisonCharts({ experiment, comparisons }: { experiment: ExperimentView; comparisons: ComparisonView[] }) {
  const { t } = useI18n();
  const labelOf = new Map(experiment.variants.map((v) => [v.id, v.label]));
  const latencyRows = comparisons.flatMap((c) =>
    c.latency.map((l) => ({ label: `${labelOf.get(c.variantId)} · ${l.metric === 'e2e' ? 'E2E' : 'TTFT'}`, value: l.medianDiff, low: l.low, high: l.high, note: `p = ${pValue(l.p)}` })),
  );
  const rateRows = comparisons.flatMap((c) =>
    [c.errors, c.thumbs]
      .filter((p): p is NonNullable<typeof p> => p !== null)
      .map((p) => ({
        label: `${labelOf.get(c.variantId)} · ${p.metric === 'errors' ? t('experiments.errors') : t('experiments.thumbsUpShort')}`,
        value: p.diff * 100,
        low: p.low * 100,
        high: p.high * 100,
        note: `p = ${pValue(p.p)}`,
      })),
  );
  return (
    <>
      <div className="card experiment-panel">
        <h2>{t('experiments.latencyDiffTitle')}</h2>
        {latencyRows.length ? <IntervalChart rows={latencyRows} label={t('experiments.latencyDiffTitle')} formatValue={formatMs} testId="latency-diff-chart" width={440} /> : <p className="muted">{t('experiments.needBoth')}</p>}
      </div>
      <div className="card experiment-panel">
        <h2>{t('experiments.rateDiffTitle')}</h2>
        {rateRows.length ? <IntervalChart rows={rateRows} label={t('experiments.rateDiffTitle')} formatValue={(v) => `${v.toFixed(1)} pp`} testId="rate-diff-chart" width={440} /> : <p className="muted">{t('experiments.needBoth')}</p>}
      </div>
    </>
  );
}
