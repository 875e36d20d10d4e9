'use client';

import { useMutation } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { ConfirmDialog } from '../confirm-dialog';
import { useToast } from '../toast';
import { useBusyAction } from '../use-busy-action';
import { useTRPC } from '../../lib/trpc';
import { FINISHED, type JobView } from './views';

/**
 * Cancel while it can still change; once it produced a version: promote it (refused while the gate
 * blocks) and deploy it through the deployment form, pre-filled.
 */
export function JobActions({ job, outputStage, onChanged }: { job: JobView; outputStage: string | null; onChanged(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [confirming, setConfirming] = useState(false);
  const { busy, act } = useBusyAction();
  const trpc = useTRPC();
  const promote = useMutation(trpc.jobs.promoteVersion.mutationOptions()).mutateAsync;
  const cancel = useMutation(trpc.jobs.cancel.mutationOptions()).mutateAsync;

  // Only a change that went through is announced and reloaded.
  const run = (work: () => Promise<unknown>, done: string) =>
    act(work, () => {
      toast.show(done);
      onChanged();
    });

  const blocked = job.gateStatus === 'blocked';
  const version = job.outputVersionId;
  return (
    <div className="actions-row" data-testid="job-actions">
      {!FINISHED.has(job.status) && (
        <button type="button" className="button" disabled={busy} onClick={() => setConfirming(true)} data-testid="job-cancel">
          {t('jobs.cancel')}
        </button>
      )}
      {version && outputStage === 'candidate' && (
        <button
          type="button"
          className="button"
          disabled={busy || blocked}
          title={blocked ? t('jobs.promoteBlocked') : t('jobs.versionCandidate')}
          onClick={() => run(() => promote({ versionId: version }), t('jobs.promoted'))}
          data-testid="job-promote"
        >
          {t('jobs.promote')}
        </button>
      )}
      {version && outputStage === 'promoted' && <span className="chip" data-testid="job-promoted">✓ {t('jobs.alreadyPromoted')}</span>}
      {version && !blocked && (
        <Link href={`/deployments/new?modelVersionId=${encodeURIComponent(version)}`} className="button button-primary" data-testid="job-deploy">
          {t('jobs.deployThis')}
        </Link>
      )}
      {confirming && (
        <ConfirmDialog
          message={t('jobs.cancelConfirm', { name: job.name })}
          confirmLabel={t('jobs.cancel')}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            void run(() => cancel({ id: job.id }), t('jobs.cancelled', { name: job.name }));
          }}
        />
      )}
    </div>
  );
}
