'use client';

import { useQuery } from '@tanstack/react-query';
import { DataTable } from '../data-table';
import { formatBytes } from '../fleet/format';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';
import './start-measurements.css';

const pct = (v: number | null) => (v === null ? '—' : `${v > 0 ? '+' : ''}${v.toFixed(1)} %`);
const REFRESH_MS = 30_000;

/** The fleet's estimate error: each model, dtype, TP and GPU type's latest measured start, predicted vs measured. */
export function EstimateErrorsTable() {
  const { t } = useI18n();
  const trpc = useTRPC();
  const { data, error } = useQuery(trpc.deployments.estimateErrors.queryOptions(undefined, { refetchInterval: REFRESH_MS }));
  const pair = (predicted: string, measured: string, error: number | null) => (
    <td className="nowrap" style={{ fontVariantNumeric: 'tabular-nums' }}>
      {predicted} / {measured} <span className={error !== null && Math.abs(error) > 10 ? 'error-text' : 'muted'}>{pct(error)}</span>
    </td>
  );
  return (
    <section className="card measured-panel" data-testid="estimate-errors">
      <h2>{t('measured.errorsTitle')}</h2>
      <p className="muted">{t('measured.errorsHint')}</p>
      {error && !data && <p className="form-error">{readableError(error, t)}</p>}
      <DataTable
        testId="estimate-errors-table"
        className="table table-dense"
        columns={8}
        loading={!data && !error}
        empty={data?.length === 0 && t('measured.errorsEmpty')}
        head={
          <>
            <th>{t('measured.model')}</th>
            <th>{t('measured.dtype')}</th>
            <th>{t('measured.tp')}</th>
            <th>{t('measured.gpu')}</th>
            <th>{t('measured.starts')}</th>
            <th>{t('measured.weights')} ({t('measured.predicted')} / {t('measured.measured')}, {t('measured.error')})</th>
            <th>{t('measured.kvCache')}</th>
            <th>{t('measured.concurrency')}</th>
          </>
        }
      >
        {data?.map((r) => (
          <tr key={`${r.modelVersionId}/${r.dtype}/${r.quantization}/${r.tp}/${r.gpuName}`} data-testid="estimate-error-row">
            <td>{r.model ?? '—'}</td>
            <td>{r.quantization ? `${r.dtype} · ${r.quantization}` : r.dtype}</td>
            <td>{r.tp}</td>
            <td>{r.gpuName ?? '—'}</td>
            <td>{r.starts}</td>
            {pair(formatBytes(r.predictedWeightsBytes), formatBytes(r.measuredWeightsBytes), r.weightsErrorPct)}
            {pair(formatBytes(r.predictedKvCacheBytes), formatBytes(r.measuredKvCacheBytes), r.kvCacheErrorPct)}
            {pair(r.predictedMaxConcurrency?.toFixed(2) ?? '—', r.measuredMaxConcurrency?.toFixed(2) ?? '—', r.concurrencyErrorPct)}
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
