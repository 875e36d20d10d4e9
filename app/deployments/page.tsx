'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { DataTable } from '../components/data-table';
import { formatDateTime } from '../components/format';
import { ReadOnlyNote } from '../components/fleet/fleet-gate';
import { canManageFleet } from '../components/fleet/roles';
import { StatusBadge } from '../components/fleet/status-badge';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

const REFRESH_MS = 3000;

export default function DeploymentsPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const manage = canManageFleet(me.role);
  const trpc = useTRPC();
  const { data: deployments, error } = useQuery(trpc.deployments.list.queryOptions(undefined, { refetchInterval: REFRESH_MS }));

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1>{t('deployments.title')}</h1>
        <span className="spacer" />
        {manage && (
          <Link href="/deployments/new" className="button button-primary" data-testid="new-deployment">
            + {t('deployments.new')}
          </Link>
        )}
      </div>
      {!manage && <ReadOnlyNote />}
      {error !== null && !deployments && <p className="form-error">{readableError(error, t)}</p>}
      <DataTable
        testId="deployments-table"
        head={
          <>
            <th>{t('deployments.name')}</th>
            <th>{t('deployments.status')}</th>
            <th>{t('deployments.replicas')}</th>
            <th>{t('deployments.engine')}</th>
            <th>{t('deployments.model')}</th>
            <th>{t('deployments.updated')}</th>
          </>
        }
        columns={6}
        loading={!deployments && error === null}
        empty={deployments?.length === 0 && t('deployments.empty')}
      >
        {deployments?.map((d) => (
          <tr key={d.id} data-testid="deployment-row" data-name={d.name}>
            <td>
              <Link href={`/deployments/${d.id}`} data-testid="deployment-link">
                <strong>{d.name}</strong>
              </Link>
            </td>
            <td>
              <StatusBadge status={d.status} />
            </td>
            <td className="nowrap">
              <ReplicaCount ready={d.readyReplicas} desired={d.desiredReplicas} />
            </td>
            <td>
              <span className="chip">{d.engine}</span>
            </td>
            <td>{d.modelName ?? '—'}</td>
            <td className="nowrap muted">{formatDateTime(d.updatedAt, locale)}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}

/** "1 / 2" with a small bar: how far a deployment is from what was asked. */
function ReplicaCount({ ready, desired }: { ready: number; desired: number }) {
  const pct = desired > 0 ? Math.min(100, (ready / desired) * 100) : 0;
  return (
    <span style={{ display: 'inline-flex', alignItems: 'center', gap: 8 }} data-testid="replica-count">
      <span style={{ fontVariantNumeric: 'tabular-nums' }}>
        {ready} / {desired}
      </span>
      <span className="meter" style={{ width: 48 }}>
        <span style={{ width: `${pct}%`, background: ready >= desired ? 'var(--green)' : 'var(--orange)' }} />
      </span>
    </span>
  );
}
