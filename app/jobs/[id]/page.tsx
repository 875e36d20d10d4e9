'use client';

import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useEffect, useMemo, useState } from 'react';
import { formatDateTime } from '../../components/format';
import { fleetApi } from '../../components/fleet/fleet-api';
import { canManageFleet } from '../../components/fleet/roles';
import type { ModelView } from '../../components/fleet/types';
import { JobActions } from '../../components/jobs/job-actions';
import { JobLogs } from '../../components/jobs/job-logs';
import { JobSide } from '../../components/jobs/job-side';
import { GateBadge, JobStatusBadge } from '../../components/jobs/job-status-badge';
import { jobsApi } from '../../components/jobs/jobs-api';
import { ProgressCard } from '../../components/jobs/progress-card';
import { QualityPanel } from '../../components/jobs/quality-panel';
import { TrainingCharts } from '../../components/jobs/training-charts';
import type { DatasetOption, LineageView } from '../../components/jobs/types';
import { useJobLive } from '../../components/jobs/use-job-live';
import { LineageGraph } from '../../components/lineage/lineage-graph';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { errorCode } from '../../lib/trpc';
import { readableError } from '../../lib/errors';

export default function JobPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const { id } = useParams<{ id: string }>();
  const { job, metrics, logs, error, reload } = useJobLive(id);
  const [models, setModels] = useState<ModelView[]>([]);
  const [lineage, setLineage] = useState<LineageView | null>(null);
  const [changes, setChanges] = useState(0);

  const [datasets, setDatasets] = useState<DatasetOption[]>([]);
  useEffect(() => {
    fleetApi.models().then(setModels, () => undefined);
  }, [job?.outputVersionId]);
  useEffect(() => {
    jobsApi.datasets().then(setDatasets, () => undefined);
  }, []);
  // The spec holds ids; people read the version and dataset names.
  const names = useMemo(
    () => new Map([...models.flatMap((m) => m.versions.map((v) => [v.id, `${m.name} · ${v.version}`] as const)), ...datasets.map((d) => [d.id, d.name] as const)]),
    [models, datasets],
  );

  const output = job?.outputVersionId ?? null;
  useEffect(() => {
    if (!output) return;
    let current = true;
    jobsApi.lineage(output).then((v) => current && setLineage(v), () => undefined);
    return () => {
      current = false;
    };
  }, [output, changes]);
  const outputStage = lineage?.nodes.find((n) => n.id === output)?.stage ?? null;
  const changed = () => {
    reload();
    setChanges((n) => n + 1);
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
      <div className="page-head">
        <div>
          <h1 style={{ display: 'flex', alignItems: 'center', gap: 10, flexWrap: 'wrap' }}>
            {job.name} <JobStatusBadge status={job.status} testId="job-status" />
            <GateBadge gate={job.gateStatus} />
          </h1>
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
        </div>
        <span className="spacer" />
        {manage && <JobActions job={job} outputStage={outputStage} onChanged={changed} />}
      </div>

      {job.status === 'waiting' && job.waitingReason && (
        <p className="job-waiting" data-testid="job-waiting">
          {t('jobs.waitingFor', { reason: job.waitingReason })}
        </p>
      )}
      {job.error && (
        <p className="job-error" data-testid="job-error-text">
          <strong>{t('jobs.error')}:</strong> {job.error}
        </p>
      )}

      <div className="job-detail">
        <div className="job-column">
          <ProgressCard job={job} metrics={metrics} />
          {job.kind === 'finetune' ? <TrainingCharts metrics={metrics} /> : <QualityPanel job={job} canManage={manage} onChanged={changed} />}
          {lineage && lineage.nodes.length > 1 && (
            <section className="card job-card" data-testid="job-lineage">
              <h2>{t('jobs.lineage')}</h2>
              <LineageGraph view={lineage} focusId={output} />
            </section>
          )}
          <JobLogs lines={logs} live={job.status === 'running'} />
        </div>
        <JobSide job={job} names={names} />
      </div>
    </div>
  );
}
