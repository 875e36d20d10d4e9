'use client';

import { useQuery } from '@tanstack/react-query';
import { formatDateTime } from '../format';
import { formatBytes } from '../fleet/format';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';
import './start-measurements.css';
import { PairedBars } from './paired-bars';

const GiB = 1024 ** 3;
const REFRESH_MS = 10_000;

/** Per replica start of a deployment: predicted vs measured weights, KV cache and concurrency, as paired bars. */
export function StartMeasurementsPanel({ deploymentId }: { deploymentId: string }) {
  const { t, locale } = useI18n();
  const trpc = useTRPC();
  const { data, error } = useQuery(trpc.deployments.startMeasurements.queryOptions({ id: deploymentId }, { refetchInterval: REFRESH_MS }));
  const legend: [string, string] = [t('measured.predicted'), t('measured.measured')];
  return (
    <section className="card measured-panel" data-testid="start-measurements">
      <h2>{t('measured.title')}</h2>
      <p className="muted">{t('measured.hint')}</p>
      {error && !data && <p className="form-error">{readableError(error, t)}</p>}
      {data?.length === 0 && <p className="muted">{t('measured.empty')}</p>}
      {data?.slice(0, 5).map((m) => (
        <div key={m.id} className="measured-start" data-testid="start-measurement" data-replica={m.replicaId}>
          <p className="muted">{t('measured.start', { node: m.nodeName ?? '—', gpu: m.gpuName ?? '—', tp: m.tp, at: formatDateTime(m.measuredAt, locale) })}</p>
          <PairedBars
            label={t('measured.title')}
            legend={legend}
            format={(v) => `${(v / GiB).toFixed(v >= 10 * GiB ? 1 : 2)} GiB`}
            rows={[
              { label: t('measured.weights'), predicted: m.predictedWeightsBytes, measured: m.measuredWeightsBytes },
              { label: t('measured.kvCache'), predicted: m.predictedKvCacheBytes, measured: m.measuredKvCacheBytes },
            ]}
            testId="measured-memory"
          />
          <PairedBars
            label={t('measured.concurrency')}
            legend={legend}
            format={(v) => `${v.toFixed(2)}×`}
            rows={[{ label: t('measured.concurrency'), predicted: m.predictedMaxConcurrency, measured: m.measuredMaxConcurrency }]}
            testId="measured-concurrency"
          />
          {[m.measuredNonTorchBytes, m.measuredActivationBytes, m.measuredCudaGraphBytes, m.measuredKvCacheTokens].some((v) => v !== null) && (
            <p className="muted">
              {t('measured.other', {
                nonTorch: formatBytes(m.measuredNonTorchBytes),
                activation: formatBytes(m.measuredActivationBytes),
                graphs: formatBytes(m.measuredCudaGraphBytes),
                tokens: m.measuredKvCacheTokens?.toLocaleString(locale) ?? '—',
              })}
            </p>
          )}
          <p className="muted" data-testid="measured-planned-from">{t('measured.plannedFrom', { basis: m.plannedFrom })}</p>
        </div>
      ))}
    </section>
  );
}
