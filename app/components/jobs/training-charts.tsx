'use client';

import { LineChart } from '../charts/line-chart';
import { useI18n } from '../../i18n/provider';
import type { MetricView } from './views';

function series(metrics: MetricView[], kind: MetricView['kind'], field: string) {
  return metrics.flatMap((m) => {
    const y = m.values?.[field];
    return m.kind === kind && typeof y === 'number' && Number.isFinite(y) ? [{ x: m.step, y }] : [];
  });
}

const lr = (y: number) => (y === 0 ? '0' : y.toExponential(1));

/** Loss (train, and eval as a dashed second line) and the learning-rate schedule, by step. */
export function TrainingCharts({ metrics }: { metrics: MetricView[] }) {
  const { t } = useI18n();
  const train = series(metrics, 'step', 'loss');
  const evalLoss = series(metrics, 'eval', 'eval_loss');
  const rate = series(metrics, 'step', 'learning_rate');
  if (train.length === 0 && evalLoss.length === 0) {
    return (
      <section className="card job-card">
        <h2>{t('jobs.lossChart')}</h2>
        <p className="muted" style={{ margin: 0 }}>{t('jobs.noMetrics')}</p>
      </section>
    );
  }
  return (
    <div className="job-charts">
      <section className="card job-card">
        <h2>{t('jobs.lossChart')}</h2>
        <LineChart
          label={t('jobs.lossChart')}
          testId="loss-chart"
          xMin={0}
          series={[
            { name: t('jobs.trainLoss'), points: train, color: 'var(--series-1)' },
            ...(evalLoss.length ? [{ name: t('jobs.evalLoss'), points: evalLoss, color: 'var(--series-2)', dashed: true }] : []),
          ]}
        />
      </section>
      <section className="card job-card">
        <h2>{t('jobs.lrChart')}</h2>
        <LineChart label={t('jobs.lrChart')} testId="lr-chart" xMin={0} yMin={0} formatY={lr} series={[{ name: t('jobs.learningRate'), points: rate, color: 'var(--green)' }]} />
      </section>
    </div>
  );
}
