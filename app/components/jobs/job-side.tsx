'use client';

import Link from 'next/link';
import { useI18n } from '../../i18n/provider';
import { formatBytes } from '../fleet/format';
import { SpecTable } from './spec-table';
import type { JobView } from './views';

/** Where the job runs and what it claims, its spec, and what it produced so far. */
export function JobSide({ job, names }: { job: JobView; names: Map<string, string> }) {
  const { t } = useI18n();
  const adapter = typeof job.result?.adapterPath === 'string' ? job.result.adapterPath : null;
  const output = typeof job.result?.outputPath === 'string' ? job.result.outputPath : null;
  const nothing = !job.lastCheckpoint && !job.outputVersionId && !adapter && !output;
  return (
    <div className="job-column">
      <section className="card job-card">
        <h2>{t('jobs.form.placement')}</h2>
        <dl className="kv">
          <dt>{t('jobs.placement')}</dt>
          <dd data-testid="job-placement">
            {job.nodeName ? `${job.nodeName} · ${job.gpuIndices?.length ? job.gpuIndices.map((g) => `GPU ${g}`).join(', ') : t('jobs.cpu')}` : '—'}
          </dd>
          <dt>{t('jobs.memory')}</dt>
          <dd>{formatBytes(job.memoryBytes)}</dd>
          <dt>{t('jobs.owner')}</dt>
          <dd>{job.ownerEmail ?? '—'}</dd>
          <dt>{t('jobs.attemptsLabel')}</dt>
          <dd>{job.attempts}</dd>
        </dl>
      </section>
      <section className="card job-card" data-testid="job-artifacts">
        <h2>{t('jobs.artifacts')}</h2>
        {nothing ? (
          <p className="muted" style={{ margin: 0 }}>{t('jobs.noArtifacts')}</p>
        ) : (
          <dl className="kv">
            {job.outputVersionId && (
              <>
                <dt>{t('jobs.outputVersion')}</dt>
                <dd>
                  <Link href={`/models#version-${job.outputVersionId}`} className="chip chip-accent" data-testid="output-version">
                    {names.get(job.outputVersionId) ?? job.outputVersionId.slice(0, 8)}
                  </Link>
                </dd>
              </>
            )}
            {adapter && (
              <>
                <dt>{t('jobs.adapterPath')}</dt>
                <dd className="mono">{adapter}</dd>
              </>
            )}
            {output && (
              <>
                <dt>{t('jobs.outputPath')}</dt>
                <dd className="mono">{output}</dd>
              </>
            )}
            {job.lastCheckpoint && (
              <>
                <dt>{t('jobs.checkpoint')}</dt>
                <dd className="mono">{job.lastCheckpoint}</dd>
              </>
            )}
          </dl>
        )}
      </section>
      <section className="card job-card">
        <h2>{t('jobs.spec')}</h2>
        <SpecTable spec={job.spec} names={names} />
      </section>
    </div>
  );
}
