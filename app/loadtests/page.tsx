'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { DataTable } from '../components/data-table';
import { formatDateTime } from '../components/format';
import { ReadOnlyNote } from '../components/fleet/fleet-gate';
import { canManageFleet } from '../components/fleet/roles';
import { ms, num } from '../components/loadtests/views';
import { NewLoadTestForm } from '../components/loadtests/new-form';
import { RunStatus } from '../components/loadtests/run-status';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

const REFRESH_MS = 2000;

export default function LoadTestsPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const router = useRouter();
  const manage = canManageFleet(me.role);
  const [creating, setCreating] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);
  const trpc = useTRPC();
  const { data: runs, error } = useQuery(trpc.loadtests.list.queryOptions(undefined, { refetchInterval: REFRESH_MS }));
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-8)));

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1>{t('loadtests.title')}</h1>
        <span className="spacer" />
        <button type="button" className="button" disabled={picked.length < 2} onClick={() => router.push(`/loadtests/compare?ids=${picked.join(',')}`)} data-testid="lt-compare">
          {t('loadtests.compareN', { n: picked.length })}
        </button>
        {manage && !creating && (
          <button type="button" className="button button-primary" onClick={() => setCreating(true)} data-testid="new-loadtest">
            + {t('loadtests.new')}
          </button>
        )}
      </div>
      <p className="lt-note">{t('loadtests.subtitle')}</p>
      {!manage && <ReadOnlyNote />}
      {creating && <NewLoadTestForm onCancel={() => setCreating(false)} />}
      {error !== null && !runs && <p className="form-error">{readableError(error, t)}</p>}
      <DataTable
        testId="loadtests-table"
        className="table lt-table"
        head={
          <>
            <th aria-label={t('loadtests.compare')} />
            <th>{t('loadtests.name')}</th>
            <th>{t('loadtests.status')}</th>
            <th>{t('loadtests.mode')}</th>
            <th>{t('loadtests.model')}</th>
            <th className="num">{t('loadtests.completed')}</th>
            <th className="num">{t('loadtests.requestThroughput')}</th>
            <th className="num">{t('loadtests.ttftMedian')}</th>
            <th>{t('loadtests.created')}</th>
          </>
        }
        columns={9}
        loading={!runs && error === null}
        empty={runs?.length === 0 && t('loadtests.empty')}
      >
        {runs?.map((r) => (
          <tr key={r.id} data-testid="loadtest-row" data-name={r.name} data-status={r.status}>
            <td>
              <input type="checkbox" checked={picked.includes(r.id)} onChange={() => toggle(r.id)} aria-label={t('loadtests.compare')} data-testid="lt-pick" />
            </td>
            <td className="nowrap">
              <Link href={`/loadtests/${r.id}`} data-testid="loadtest-link">
                <strong>{r.name}</strong>
              </Link>
            </td>
            <td>
              <RunStatus status={r.status} progress={r.progress} />
            </td>
            <td>
              <span className="chip">{t(`loadtests.mode.${r.mode as 'rate'}`)}</span>
            </td>
            <td>{r.model}</td>
            <td className="num">{r.headline ? `${r.headline.completed}${r.headline.failed ? ` (+${r.headline.failed} ✗)` : ''}` : (r.progress.done ?? '—')}</td>
            <td className="num">{r.headline ? `${num(r.headline.requestThroughput)} /s` : '—'}</td>
            <td className="num">{ms(r.headline?.ttftMedianMs)}</td>
            <td className="nowrap muted">{formatDateTime(r.createdAt, locale)}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}
