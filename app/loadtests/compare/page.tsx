'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { Suspense } from 'react';
import { ms, num } from '../../components/loadtests/views';
import { distOf, METRICS, RunHistograms } from '../../components/loadtests/run-charts';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';

export default function ComparePage() {
  return (
    <Suspense fallback={<div className="page-loading" aria-busy="true" />}>
      <Compare />
    </Suspense>
  );
}

function Compare() {
  const { t } = useI18n();
  const ids = (useSearchParams().get('ids') ?? '').split(',').filter(Boolean);
  const trpc = useTRPC();
  const compared = useQuery(trpc.loadtests.compare.queryOptions({ ids }));
  const runs = compared.data ?? null;
  const error = compared.error ? readableError(compared.error, t) : null;

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1>{t('loadtests.compareTitle')}</h1>
        <span className="spacer" />
        <Link href="/loadtests">← {t('loadtests.backToList')}</Link>
      </div>
      {error && <p className="form-error">{error}</p>}
      {!runs && !error && <p className="muted">{t('common.loading')}</p>}
      {runs && (
        <>
          <div className="table-wrap">
            <table className="table lt-table" data-testid="loadtest-compare-table">
              <thead>
                <tr>
                  <th>{t('loadtests.name')}</th>
                  <th className="num">{t('loadtests.requestThroughput')}</th>
                  <th className="num">{t('loadtests.outputThroughput')}</th>
                  <th className="num">{t('loadtests.goodput')}</th>
                  <th className="num">{t('loadtests.errorRate')}</th>
                  {METRICS.map((m) => (
                    <th className="num nowrap" key={m} title={t(`loadtests.metric.${m}`)}>
                      {m.toUpperCase()}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id}>
                    <td className="nowrap">
                      <Link href={`/loadtests/${r.id}`}>{r.name}</Link>
                    </td>
                    <td className="num">{num(r.summary?.requestThroughput)} /s</td>
                    <td className="num nowrap">{num(r.summary?.outputTokenThroughput, 1)} tok/s</td>
                    <td className="num nowrap">{r.summary?.goodput == null ? '—' : `${num(r.summary.goodput)} /s`}</td>
                    <td className="num nowrap">{r.summary ? `${num(r.summary.errorRate * 100, 1)} %` : '—'}</td>
                    {METRICS.map((m) => (
                      <td className="num nowrap" key={m}>
                        p50 {ms(distOf(r.summary, m)?.median)}
                        <br />
                        <small className="muted">p99 {ms(distOf(r.summary, m)?.p99)}</small>
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <RunHistograms runs={runs} />
        </>
      )}
    </div>
  );
}
