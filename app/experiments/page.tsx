'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { DataTable } from '../components/data-table';
import { ExperimentStatus } from '../components/experiments/experiment-status';
import { WeightBar } from '../components/experiments/weight-bar';
import { ReadOnlyNote } from '../components/fleet/fleet-gate';
import { canManageFleet } from '../components/fleet/roles';
import { formatDateTime } from '../components/format';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

const REFRESH_MS = 5000;

export default function ExperimentsPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const manage = canManageFleet(me.role);
  const trpc = useTRPC();
  const { data: list, error } = useQuery(trpc.experiments.list.queryOptions(undefined, { refetchInterval: REFRESH_MS }));

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('experiments.title')}</h1>
          <p className="muted">{t('experiments.subtitle')}</p>
        </div>
        <span className="spacer" />
        {manage && (
          <Link href="/experiments/new" className="button button-primary" data-testid="new-experiment">
            + {t('experiments.new')}
          </Link>
        )}
      </div>
      {!manage && <ReadOnlyNote />}
      {error !== null && !list && <p className="form-error">{readableError(error, t)}</p>}
      <DataTable
        testId="experiments-table"
        head={
          <>
            <th>{t('experiments.name')}</th>
            <th>{t('experiments.statusLabel')}</th>
            <th>{t('experiments.variants')}</th>
            <th>{t('experiments.stickiness')}</th>
            <th>{t('experiments.window')}</th>
            <th>{t('experiments.created')}</th>
          </>
        }
        columns={6}
        loading={!list && error === null}
        empty={list?.length === 0 && t('experiments.empty')}
      >
        {list?.map((e) => (
          <tr key={e.id} data-testid="experiment-row" data-name={e.name}>
            <td>
              <Link href={`/experiments/${e.id}`} data-testid="experiment-link">
                <strong>{e.name}</strong>
              </Link>
              {e.description && <div className="muted">{e.description}</div>}
            </td>
            <td>
              <ExperimentStatus status={e.status} />
            </td>
            <td>
              <WeightBar variants={e.variants} />
            </td>
            <td>{t(e.stickiness === 'key' ? 'experiments.perKey' : 'experiments.perUser')}</td>
            <td className="nowrap muted">
              {e.startsAt ? formatDateTime(e.startsAt, locale) : t('experiments.whenStarted')} → {e.endsAt ? formatDateTime(e.endsAt, locale) : t('experiments.untilStopped')}
            </td>
            <td className="nowrap muted">{formatDateTime(e.createdAt, locale)}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}
