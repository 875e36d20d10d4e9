'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { DetailHead } from '../../components/detail-head';
import { formatDateTime } from '../../components/format';
import { DeploymentActions } from '../../components/fleet/deployment-actions';
import { EventsTimeline } from '../../components/fleet/events-timeline';
import { BreakerState, GatewayPanel } from '../../components/fleet/gateway-panel';
import { ReplicaLogs } from '../../components/fleet/replica-logs';
import { canManageFleet } from '../../components/fleet/roles';
import { StatusBadge } from '../../components/fleet/status-badge';
import { StartMeasurementsPanel } from '../../components/start-measurements/start-measurements-panel';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';
import { errorCode, useTRPC } from '../../lib/trpc';
import { readableError } from '../../lib/errors';

const REFRESH_MS = 2000;

export default function DeploymentPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  const { data: d, error, refetch } = useQuery(trpc.deployments.get.queryOptions({ id }, { refetchInterval: REFRESH_MS }));
  // Settings and each replica's breaker state (set aside by a gateway, probing), refreshed with the rest.
  const gateway = useQuery(trpc.deployments.gateway.queryOptions({ id }, { refetchInterval: REFRESH_MS }));

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
      <DetailHead
        title={<>{d.name} <StatusBadge status={d.status} testId="deployment-status" /></>}
        actions={canManageFleet(me.role) && <DeploymentActions key={`${d.id}-${d.desiredReplicas}`} deployment={d} onChanged={() => void refetch()} />}
      >
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
      </DetailHead>

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
                  <th>{t('gatewayPanel.breaker')}</th>
                </tr>
              </thead>
              <tbody>
                {d.replicas.length === 0 && (
                  <tr>
                    <td colSpan={9} className="muted">{t('deployments.noReplicas')}</td>
                  </tr>
                )}
                {d.replicas.map((r) => (
                  <tr key={r.id} data-testid="replica-row" data-status={r.status}>
                    <td>
                      {r.nodeName ?? '—'}
                      {/* A vLLM replica across hosts: the head above, each other host (rank 1..) below it. */}
                      {r.members.map((m) => (
                        <div key={m.rank} data-testid="replica-member">{`+ ${m.nodeName}`}</div>
                      ))}
                    </td>
                    <td>
                      {r.gpuIndices?.length ? r.gpuIndices.map((g) => <span key={g} className="tile tile-chosen" style={{ display: 'inline-flex', width: 22, height: 22, marginRight: 3 }}>{g}</span>) : <span className="chip">{t('deployments.cpu')}</span>}
                      {r.members.map((m) => (
                        <div key={m.rank}>
                          {m.gpuIndices.map((g) => <span key={g} className="tile tile-chosen" style={{ display: 'inline-flex', width: 22, height: 22, marginRight: 3 }}>{g}</span>)}
                        </div>
                      ))}
                    </td>
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
                    <td className="nowrap" data-testid="replica-breaker">
                      {gateway.data && r.status === 'ready' ? <BreakerState view={gateway.data.breakers[r.id]} known={gateway.data.breakersKnown} locale={locale} /> : '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {gateway.data && <GatewayPanel deploymentId={d.id} settings={gateway.data} canEdit={canManageFleet(me.role)} onChanged={() => void gateway.refetch()} />}
          <ReplicaLogs replicas={d.replicas} />
          {d.engine === 'vllm' && <StartMeasurementsPanel deploymentId={d.id} />}
        </div>
        <EventsTimeline events={d.events} />
      </div>
    </div>
  );
}
