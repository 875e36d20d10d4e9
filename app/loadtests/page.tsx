'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { formatDateTime } from '../components/format';
import { ReadOnlyNote } from '../components/fleet/fleet-gate';
import { canManageFleet } from '../components/fleet/roles';
import { usePoll } from '../components/fleet/use-poll';
import { loadtestsApi, ms, num } from '../components/loadtests/api';
import { NewLoadTestForm } from '../components/loadtests/new-form';
import { RunStatus } from '../components/loadtests/run-status';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';

const REFRESH_MS = 2000;

export default function LoadTestsPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const router = useRouter();
  const manage = canManageFleet(me.role);
  const [creating, setCreating] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);
  const { data: runs, error } = usePoll(loadtestsApi.list, REFRESH_MS);
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
      <div className="table-wrap">
        <table className="table lt-table" data-testid="loadtests-table">
          <thead>
            <tr>
              <th aria-label={t('loadtests.compare')} />
              <th>{t('loadtests.name')}</th>
              <th>{t('loadtests.status')}</th>
              <th>{t('loadtests.mode')}</th>
              <th>{t('loadtests.model')}</th>
              <th className="num">{t('loadtests.completed')}</th>
              <th className="num">{t('loadtests.requestThroughput')}</th>
              <th className="num">{t('loadtests.ttftMedian')}</th>
              <th>{t('loadtests.created')}</th>
            </tr>
          </thead>
          <tbody>
            {!runs && error === null && (
              <tr>
                <td colSpan={9} className="muted">{t('common.loading')}</td>
              </tr>
            )}
            {runs?.length === 0 && (
              <tr>
                <td colSpan={9} className="muted">{t('loadtests.empty')}</td>
              </tr>
            )}
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
          </tbody>
        </table>
      </div>
    </div>
  );
}
