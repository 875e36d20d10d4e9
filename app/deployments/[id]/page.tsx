'use client';

import Link from 'next/link';
import { useParams } from 'next/navigation';
import { formatDateTime } from '../../components/format';
import { DeploymentActions } from '../../components/fleet/deployment-actions';
import { EventsTimeline } from '../../components/fleet/events-timeline';
import { fleetApi } from '../../components/fleet/fleet-api';
import { ReplicaLogs } from '../../components/fleet/replica-logs';
import { canManageFleet } from '../../components/fleet/roles';
import { StatusBadge } from '../../components/fleet/status-badge';
import { usePoll } from '../../components/fleet/use-poll';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';
import { errorCode } from '../../lib/trpc';
import { readableError } from '../../lib/errors';

const REFRESH_MS = 2000;

export default function DeploymentPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const { id } = useParams<{ id: string }>();
  const { data: d, error, reload } = usePoll(() => fleetApi.deployment(id), REFRESH_MS, id);

  if (!d) {
    const missing = errorCode(error) === 'NOT_FOUND' || errorCode(error) === 'BAD_REQUEST';
    return (
      <div className="manage-page fleet-page">
        <Link href="/deployments">← {t('deployments.backToList')}</Link>
        {error ? <p className="form-error" data-testid="deployment-error">{missing ? t('deployments.notFound') : readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>}
      </div>
    );
  }

  return (
    <div className="manage-page fleet-page" data-testid="deployment-detail">
      <Link href="/deployments">← {t('deployments.backToList')}</Link>
      <div className="page-head">
        <div>
          <h1 style={{ display: 'flex', alignItems: 'center', gap: 10 }}>
            {d.name} <StatusBadge status={d.status} testId="deployment-status" />
          </h1>
          <p className="muted" style={{ display: 'flex', gap: 10, alignItems: 'center', flexWrap: 'wrap' }}>
            <span className="chip">{d.engine}</span>
            <span data-testid="deployment-ready">
              {d.readyReplicas} / {d.desiredReplicas} {t('deployments.replicas')}
            </span>
            {d.modelVersionId ? (
              <>
                <Link href={`/models#version-${d.modelVersionId}`} className="chip chip-accent" data-testid="lineage-link">
                  {t('deployments.modelVersion', { version: d.modelName ?? d.modelVersionId.slice(0, 8) })}
                </Link>
                {/* The drawing of where this version came from (base → adapter → merged → quantized), on /models. */}
                <Link href={`/models#lineage-${d.modelVersionId}`} data-testid="deployment-lineage">
                  {t('jobs.lineage')} →
                </Link>
              </>
            ) : (
              <span>{t('deployments.noModelVersion')}</span>
            )}
          </p>
        </div>
        <span className="spacer" />
        {canManageFleet(me.role) && <DeploymentActions key={`${d.id}-${d.desiredReplicas}`} deployment={d} onChanged={reload} />}
      </div>

      <div className="detail-grid">
        <div style={{ display: 'flex', flexDirection: 'column', gap: 16, minWidth: 0 }}>
          <div className="table-wrap">
            <table className="table table-dense" data-testid="replicas-table">
              <thead>
                <tr>
                  <th>{t('deployments.node')}</th>
                  <th>{t('deployments.gpus')}</th>
                  <th>{t('deployments.status')}</th>
                  <th>{t('deployments.load')}</th>
                  <th>{t('deployments.restarts')}</th>
                  <th>{t('deployments.pid')}</th>
                  <th>{t('deployments.started')}</th>
                  <th>{t('deployments.lastError')}</th>
                </tr>
              </thead>
              <tbody>
                {d.replicas.length === 0 && (
                  <tr>
                    <td colSpan={8} className="muted">{t('deployments.noReplicas')}</td>
                  </tr>
                )}
                {d.replicas.map((r) => (
                  <tr key={r.id} data-testid="replica-row" data-status={r.status}>
                    <td>{r.nodeName ?? '—'}</td>
                    <td>{r.gpuIndices?.length ? r.gpuIndices.map((g) => <span key={g} className="tile tile-chosen" style={{ display: 'inline-flex', width: 22, height: 22, marginRight: 3 }}>{g}</span>) : <span className="chip">{t('deployments.cpu')}</span>}</td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td className="nowrap" style={{ fontVariantNumeric: 'tabular-nums' }} data-testid="replica-load">
                      {r.load
                        ? t('deployments.loadValue', { running: r.load.running, waiting: r.load.waiting }) +
                          (r.load.kvCacheUsage !== undefined ? ` · KV ${Math.round(r.load.kvCacheUsage * 100)}%` : '')
                        : '—'}
                    </td>
                    <td style={{ fontVariantNumeric: 'tabular-nums' }}>{r.restarts}</td>
                    <td className="mono">{r.pid ?? '—'}</td>
                    <td className="nowrap muted">{formatDateTime(r.startedAt, locale)}</td>
                    <td>{r.lastError ? <span className="error-text">{r.lastError}</span> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ReplicaLogs replicas={d.replicas} />
        </div>
        <EventsTimeline events={d.events} />
      </div>
    </div>
  );
}
