'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { ProgressBar } from '../components/charts/progress-bar';
import { DataTable } from '../components/data-table';
import { formatDateTime } from '../components/format';
import { ReadOnlyNote } from '../components/fleet/fleet-gate';
import { canManageFleet } from '../components/fleet/roles';
import { JobStatusBadge } from '../components/jobs/job-status-badge';
import { formatDuration, jobSeconds, progressFraction } from '../components/jobs/progress';
import { JOB_KINDS, JOB_STATUSES, type JobView } from '../components/jobs/views';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import type { MessageKey } from '../i18n/en';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

// Running jobs move every second or two; the list follows them without hammering the server.
const REFRESH_MS = 2000;

export default function JobsPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const manage = canManageFleet(me.role);
  const trpc = useTRPC();
  const { data: jobs, error } = useQuery(trpc.jobs.list.queryOptions(undefined, { refetchInterval: REFRESH_MS }));
  const [kind, setKind] = useState('');
  const [status, setStatus] = useState('');
  const shown = (jobs ?? []).filter((j) => (!kind || j.kind === kind) && (!status || j.status === status));

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('jobs.title')}</h1>
          <p className="muted">{t('jobs.subtitle')}</p>
        </div>
        <span className="spacer" />
        {manage && (
          <>
            <Link href="/jobs/new?kind=finetune" className="button button-primary" data-testid="new-finetune">
              + {t('jobs.newFinetune')}
            </Link>
            <Link href="/jobs/new?kind=quantize" className="button button-primary" data-testid="new-quantize">
              + {t('jobs.newQuantize')}
            </Link>
          </>
        )}
      </div>
      {!manage && <ReadOnlyNote />}
      <div className="job-filters">
        <label>
          {t('jobs.filterKind')}
          <select value={kind} onChange={(e) => setKind(e.target.value)} data-testid="filter-kind">
            <option value="">{t('jobs.all')}</option>
            {JOB_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`jobs.kind.${k}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('jobs.filterStatus')}
          <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="filter-status">
            <option value="">{t('jobs.all')}</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`jobs.status.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error !== null && !jobs && <p className="form-error">{readableError(error, t)}</p>}
      <DataTable
        testId="jobs-table"
        head={
          <>
            <th>{t('jobs.name')}</th>
            <th>{t('jobs.status')}</th>
            <th>{t('jobs.kind')}</th>
            <th>{t('jobs.owner')}</th>
            <th>{t('jobs.placement')}</th>
            <th>{t('jobs.progress')}</th>
            <th>{t('jobs.duration')}</th>
          </>
        }
        columns={7}
        loading={!jobs && error === null}
        empty={jobs && shown.length === 0 && (jobs.length === 0 ? t('jobs.empty') : t('jobs.emptyFiltered'))}
      >
        {shown.map((j) => (
          <JobRow key={j.id} job={j} created={formatDateTime(j.createdAt, locale)} />
        ))}
      </DataTable>
    </div>
  );
}

function JobRow({ job, created }: { job: JobView; created: string }) {
  const { t } = useI18n();
  const { step, totalSteps, stage } = job.progress ?? {};
  return (
    <tr data-testid="job-row" data-status={job.status} data-kind={job.kind}>
      <td className="job-name-cell">
        <Link href={`/jobs/${job.id}`} data-testid="job-link" title={job.name}>
          <strong>{job.name}</strong>
        </Link>
        <small>{created}</small>
      </td>
      <td>
        <JobStatusBadge status={job.status} />
      </td>
      <td>
        <span className="chip">{t(`jobs.kind.${job.kind}` as MessageKey)}</span>
      </td>
      <td className="truncate" style={{ maxWidth: 180 }} title={job.ownerEmail ?? undefined}>
        {job.ownerEmail ?? '—'}
      </td>
      <td className="nowrap">
        {job.nodeName ? (
          <>
            {job.nodeName} · {job.gpuIndices?.length ? job.gpuIndices.map((g) => `GPU ${g}`).join(', ') : t('jobs.cpu')}
          </>
        ) : (
          '—'
        )}
      </td>
      <td className="job-progress-cell">
        {job.status === 'running' ? (
          <ProgressBar
            value={progressFraction(job)}
            label={stage ?? ''}
            detail={typeof step === 'number' && typeof totalSteps === 'number' ? t('jobs.steps', { step, total: totalSteps }) : undefined}
            testId="job-row-progress"
          />
        ) : job.status === 'waiting' && job.waitingReason ? (
          <span className="muted" title={job.waitingReason}>
            {job.waitingReason.length > 60 ? `${job.waitingReason.slice(0, 59)}…` : job.waitingReason}
          </span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td className="nowrap" style={{ fontVariantNumeric: 'tabular-nums' }}>
        {formatDuration(jobSeconds(job))}
      </td>
    </tr>
  );
}
