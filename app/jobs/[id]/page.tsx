'use client';

import { skipToken, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useEffect, useMemo } from 'react';
import { DetailHead } from '../../components/detail-head';
import { formatDateTime } from '../../components/format';
import { canManageFleet } from '../../components/fleet/roles';
import { JobActions } from '../../components/jobs/job-actions';
import { JobLogs } from '../../components/jobs/job-logs';
import { JobSide } from '../../components/jobs/job-side';
import { GateBadge, JobStatusBadge } from '../../components/jobs/job-status-badge';
import { ProgressCard } from '../../components/jobs/progress-card';
import { QualityPanel } from '../../components/jobs/quality-panel';
import { TrainingCharts } from '../../components/jobs/training-charts';
import { useJobLive } from '../../components/jobs/use-job-live';
import { LineageGraph } from '../../components/lineage/lineage-graph';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { errorCode, useTRPC } from '../../lib/trpc';
import { readableError } from '../../lib/errors';
import { WaitingNote } from '../../components/jobs/job-help';

export default function JobPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const { id } = useParams<{ id: string }>();
  const { job, metrics, logs, error, reload } = useJobLive(id);
  const trpc = useTRPC();
  // Names only: without them (a failure, a viewer who may not list datasets) the spec shows ids.
  const models = useQuery(trpc.catalog.list.queryOptions());
  const datasets = useQuery(trpc.datasets.list.queryOptions());
  const output = job?.outputVersionId ?? null;
  // A version the job just produced is in the catalog from now on.
  const { refetch: refetchModels } = models;
  useEffect(() => void (output && refetchModels()), [output, refetchModels]);
  // The spec holds ids; people read the version and dataset names.
  const names = useMemo(
    () => new Map([...(models.data ?? []).flatMap((m) => m.versions.map((v) => [v.id, `${m.name} · ${v.version}`] as const)), ...(datasets.data ?? []).map((d) => [d.id, d.name] as const)]),
    [models.data, datasets.data],
  );

  const lineage = useQuery(trpc.jobs.lineage.queryOptions(output ? { versionId: output } : skipToken));
  const outputStage = lineage.data?.nodes.find((n) => n.id === output)?.stage ?? null;
  const changed = () => {
    reload();
    void lineage.refetch();
  };

  if (!job) {
    const missing = errorCode(error) === 'NOT_FOUND' || errorCode(error) === 'BAD_REQUEST';
    return (
      <div className="manage-page fleet-page">
        <Link href="/jobs">← {t('jobs.backToList')}</Link>
        {error ? <p className="form-error" data-testid="job-error">{missing ? t('jobs.notFound') : readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>}
      </div>
    );
  }

  const manage = canManageFleet(me.role);
  return (
    <div className="manage-page fleet-page" data-testid="job-detail" data-status={job.status}>
      <Link href="/jobs">← {t('jobs.backToList')}</Link>
      <DetailHead
        title={
          <>
            {job.name} <JobStatusBadge status={job.status} testId="job-status" />
            <GateBadge gate={job.gateStatus} />
          </>
        }
        wrap
        actions={manage && <JobActions job={job} outputStage={outputStage} onChanged={changed} />}
      >
        <p className="muted" style={{ display: 'flex', gap: 10, alignItems: 'center', flexWrap: 'wrap' }}>
          <span className="chip">{t(`jobs.kind.${job.kind}` as MessageKey)}</span>
          <span>
            {t('jobs.created')} {formatDateTime(job.createdAt, locale)}
          </span>
          {job.startedAt && (
            <span>
              · {t('jobs.started')} {formatDateTime(job.startedAt, locale)}
            </span>
          )}
          {job.finishedAt && (
            <span>
              · {t('jobs.finished')} {formatDateTime(job.finishedAt, locale)}
            </span>
          )}
          {job.attempts > 1 && <span>· {t('jobs.attempts', { n: job.attempts })}</span>}
        </p>
      </DetailHead>

      <WaitingNote status={job.status} reason={job.waitingReason} />
      {job.error && (
        <p className="job-error" data-testid="job-error-text">
          <strong>{t('jobs.error')}:</strong> {job.error}
        </p>
      )}

      <div className="job-detail">
        <div className="job-column">
          <ProgressCard job={job} metrics={metrics} />
          {job.kind === 'finetune' ? <TrainingCharts metrics={metrics} /> : <QualityPanel job={job} canManage={manage} onChanged={changed} />}
          {lineage.data && lineage.data.nodes.length > 1 && (
            <section className="card job-card" data-testid="job-lineage">
              <h2>{t('jobs.lineage')}</h2>
              <LineageGraph view={lineage.data} focusId={output} />
            </section>
          )}
          <JobLogs lines={logs} live={job.status === 'running'} />
        </div>
        <JobSide job={job} names={names} />
      </div>
    </div>
  );
}
