'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { ProgressBar } from '../../components/charts/progress-bar';
import { canManageFleet } from '../../components/fleet/roles';
import { ms, num, type RunView } from '../../components/loadtests/views';
import { LiveProgress } from '../../components/loadtests/live-progress';
import { PercentileTable, RunHistograms } from '../../components/loadtests/run-charts';
import { RunStatus } from '../../components/loadtests/run-status';
import { StageTable } from '../../components/loadtests/stage-table';
import { StatTiles } from '../../components/loadtests/stat-tiles';
import { useSession } from '../../components/session';
import { useErrorToast, useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';

const LIVE_MS = 1000;
const DONE = new Set<RunView['status']>(['succeeded', 'failed', 'cancelled']);

export default function LoadTestPage() {
  const { id } = useParams<{ id: string }>();
  const { t } = useI18n();
  const { me } = useSession();
  const toast = useToast();
  const trpc = useTRPC();
  // Polls every second while the run goes; once it has ended, the row no longer changes.
  const { data: run, error, refetch } = useQuery(trpc.loadtests.get.queryOptions({ id }, { refetchInterval: (query) => (query.state.data && DONE.has(query.state.data.status) ? false : LIVE_MS) }));
  const done = run ? DONE.has(run.status) : false;
  // The histograms need every sample: read once, when the run has ended.
  const histogramQuery = useQuery(trpc.loadtests.histograms.queryOptions({ id }, { enabled: done }));
  useErrorToast(histogramQuery.error);
  const histograms = histogramQuery.data ?? null;
  const cancelRun = useMutation(trpc.loadtests.cancel.mutationOptions({ onSuccess: () => refetch(), onError: (err) => toast.error(err) }));
  const cancel = () => cancelRun.mutate({ id });

  if (!run) {
    return <div className="manage-page fleet-page">{error !== null ? <p className="form-error">{readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>}</div>;
  }
  const p = run.progress;
  const total = p.total ?? 0;
  const objectives = run.spec.objectives ?? {};
  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1 data-testid="loadtest-title">{run.name}</h1>
        <RunStatus status={run.status} progress={p} />
        <span className="spacer" />
        {done && (
          <>
            <a className="button" href={`/api/loadtests/${id}/export?format=json`} data-testid="lt-export-json">
              JSON
            </a>
            <a className="button" href={`/api/loadtests/${id}/export?format=csv`} data-testid="lt-export-csv">
              CSV
            </a>
          </>
        )}
        {!done && canManageFleet(me.role) && (
          <button type="button" className="button button-danger" onClick={cancel} data-testid="lt-cancel">
            {t('loadtests.cancel')}
          </button>
        )}
        <Link href="/loadtests">← {t('loadtests.backToList')}</Link>
      </div>
      <p className="lt-note">
        {run.model} · <span className="mono">{run.targetUrl}</span> · {t(`loadtests.mode.${(run.spec.mode ?? 'concurrency') as 'rate'}`)}
        {objectives.ttftMs || objectives.tpotMs || objectives.e2eMs
          ? ` · ${t('loadtests.objectives')}: ${[objectives.ttftMs && `TTFT ≤ ${ms(objectives.ttftMs)}`, objectives.tpotMs && `TPOT ≤ ${ms(objectives.tpotMs)}`, objectives.e2eMs && `E2E ≤ ${ms(objectives.e2eMs)}`].filter(Boolean).join(', ')}`
          : ''}
      </p>
      {run.error && (
        <p className="form-error" data-testid="loadtest-error">
          {run.error}
        </p>
      )}

      {!done && (
        <div className="card lt-live" data-testid="loadtest-live">
          <ProgressBar
            value={total ? (p.done ?? 0) / total : 0}
            label={run.status === 'queued' ? t('loadtests.queued') : t('loadtests.stageN', { stage: t(`loadtests.stage.${(p.stageKind ?? 'run') as 'run'}`) })}
            detail={`${p.done ?? 0} / ${total || '?'} · ${num(p.currentRate, 1)} req/s${p.failed ? ` · ${p.failed} ✗` : ''}`}
            testId="loadtest-progress"
          />
          <LiveProgress progress={p} />
        </div>
      )}

      {run.summary && (
        <>
          <StatTiles summary={run.summary} />
          {run.summary.stages && run.summary.stages.length > 1 && <StageTable stages={run.summary.stages} />}
          <PercentileTable summary={run.summary} />
          {histograms && <RunHistograms runs={[{ name: run.name, histograms, summary: run.summary }]} />}
        </>
      )}
    </div>
  );
}
