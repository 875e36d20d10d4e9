'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useState } from 'react';
import { DetailHead } from '../../components/detail-head';
import { ExperimentActions } from '../../components/experiments/experiment-actions';
import { ExperimentStatus } from '../../components/experiments/experiment-status';
import { LatencyHistogram } from '../../components/experiments/latency-histogram';
import { VariantTable } from '../../components/experiments/variant-table';
import { ComparisonCharts, VerdictPanel } from '../../components/experiments/verdict-panel';
import { canManageFleet } from '../../components/fleet/roles';
import { formatDateTime } from '../../components/format';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';
import { errorCode, useTRPC } from '../../lib/trpc';
import { readableError } from '../../lib/errors';

const REFRESH_MS = 5000;
const WINDOWS = [1, 6, 24, 24 * 7, 0] as const;
const METRICS = ['e2e', 'ttft', 'itl', 'overhead'] as const;

export default function ExperimentPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const { id } = useParams<{ id: string }>();
  const [hours, setHours] = useState<number>(0);
  const [metric, setMetric] = useState<(typeof METRICS)[number]>('e2e');
  const trpc = useTRPC();
  // Another window keeps the figures of the one before on screen until its own arrive.
  const { data, error, refetch } = useQuery(trpc.experiments.get.queryOptions({ id, hours: hours || undefined }, { refetchInterval: REFRESH_MS, placeholderData: keepPreviousData }));

  if (!data) {
    const missing = errorCode(error) === 'NOT_FOUND' || errorCode(error) === 'BAD_REQUEST';
    return (
      <div className="manage-page fleet-page">
        <Link href="/experiments">← {t('experiments.backToList')}</Link>
        {error ? <p className="form-error">{missing ? t('experiments.notFound') : readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>}
      </div>
    );
  }
  const e = data.experiment;
  const names = new Map(e.variants.map((v) => [v.id, v.label]));

  return (
    <div className="manage-page fleet-page" data-testid="experiment-detail">
      <Link href="/experiments">← {t('experiments.backToList')}</Link>
      <DetailHead
        title={<>{e.name} <ExperimentStatus status={e.status} testId="experiment-status" /></>}
        actions={canManageFleet(me.role) && <ExperimentActions experiment={e} onChanged={() => void refetch()} />}
      >
        <p className="muted">
          {e.description ? `${e.description} · ` : ''}
          {t(e.stickiness === 'key' ? 'experiments.perKey' : 'experiments.perUser')} · {e.startsAt ? formatDateTime(e.startsAt, locale) : t('experiments.whenStarted')} →{' '}
          {e.endsAt ? formatDateTime(e.endsAt, locale) : t('experiments.untilStopped')}
        </p>
      </DetailHead>

      <div className="latency-controls card">
        <label className="field">
          <span>{t('experiments.window')}</span>
          <select value={hours} onChange={(ev) => setHours(Number(ev.target.value))} data-testid="experiment-window">
            {WINDOWS.map((h) => (
              <option key={h} value={h}>
                {h === 0 ? t('experiments.wholeRun') : t('experiments.lastHours', { n: h })}
              </option>
            ))}
          </select>
        </label>
      </div>

      <VariantTable experiment={e} stats={data.stats} baselineId={data.baselineVariantId} />
      <VerdictPanel experiment={e} comparisons={data.comparisons} baselineId={data.baselineVariantId} />
      <div className="experiment-grid">
        <ComparisonCharts experiment={e} comparisons={data.comparisons} />
      </div>
      <div className="card experiment-panel">
        <div style={{ display: 'flex', alignItems: 'center', gap: 12 }}>
          <h2>{t('experiments.latencyByVariant')}</h2>
          <span className="spacer" />
          <select value={metric} onChange={(ev) => setMetric(ev.target.value as (typeof METRICS)[number])} data-testid="experiment-metric">
            {METRICS.map((m) => (
              <option key={m} value={m}>
                {t(`experiments.metric.${m}`)}
              </option>
            ))}
          </select>
        </div>
        <LatencyHistogram query={{ scope: { kind: 'experiment', id: e.id }, metric, hours: hours || 24 * 366 }} title={t(`experiments.metric.${metric}`)} names={names} testId="experiment-histogram" />
      </div>
    </div>
  );
}
