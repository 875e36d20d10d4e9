'use client';

import { Histogram } from '../charts/histogram';
import { useI18n } from '../../i18n/provider';
import { ms, type Dist, type HistogramSet, type Metric, type SummaryView } from './views';

export const METRICS: Metric[] = ['ttft', 'itl', 'tpot', 'e2e'];
const KEY = { ttft: 'ttftMs', itl: 'itlMs', tpot: 'tpotMs', e2e: 'e2eMs' } as const;
export const distOf = (s: SummaryView | null, m: Metric): Dist | null => s?.[KEY[m]] ?? null;

/** The four latency histograms over vLLM's buckets; one series per run (overlaid when comparing). */
export function RunHistograms({ runs }: { runs: { name: string; histograms: HistogramSet; summary: SummaryView | null }[] }) {
  const { t } = useI18n();
  return (
    <div className="lt-grid">
      {METRICS.map((m) => {
        const single = runs.length === 1 ? distOf(runs[0]!.summary, m) : null;
        return (
          <div className="card" key={m}>
            <div className="section-title">{t(`loadtests.metric.${m}`)}</div>
            <Histogram
              label={t(`loadtests.metric.${m}`)}
              unit="ms"
              testId={`loadtest-histogram-${m}`}
              series={runs.map((r) => ({ name: r.name, buckets: r.histograms[m] }))}
              percentiles={single ? [{ label: 'p50', value: single.median }, { label: 'p99', value: single.p99 }] : []}
            />
          </div>
        );
      })}
    </div>
  );
}

/** Mean, median, p90, p95, p99 of each metric: the table people copy into their notes. */
export function PercentileTable({ summary }: { summary: SummaryView }) {
  const { t } = useI18n();
  return (
    <div className="table-wrap">
      <table className="table lt-table" data-testid="loadtest-percentiles">
        <thead>
          <tr>
            <th>{t('loadtests.metric')}</th>
            {(['mean', 'median', 'p90', 'p95', 'p99'] as const).map((k) => (
              <th className="num" key={k}>
                {t(`loadtests.stat.${k}`)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {METRICS.map((m) => {
            const d = distOf(summary, m);
            return (
              <tr key={m} data-metric={m}>
                <td>{t(`loadtests.metric.${m}`)}</td>
                {(['mean', 'median', 'p90', 'p95', 'p99'] as const).map((k) => (
                  <td className="num" key={k}>
                    {ms(d?.[k])}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
