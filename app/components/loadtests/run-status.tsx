'use client';

import { useI18n } from '../../i18n/provider';
import type { ProgressView, RunView } from './views';

const CLASS: Record<RunView['status'], string> = { queued: 'pending', running: 'starting', succeeded: 'ready', failed: 'failed', cancelled: 'stopped' };

/** The fleet's status pill in the run's words, with "done / total" while it runs. */
export function RunStatus({ status, progress }: { status: RunView['status']; progress?: ProgressView }) {
  const { t } = useI18n();
  return (
    <span className={`status status-${CLASS[status] ?? 'pending'}`} data-testid="loadtest-status" data-status={status}>
      {t(`loadtests.status.${status}`)}
      {status === 'running' && progress?.total ? ` · ${progress.done ?? 0}/${progress.total}` : ''}
    </span>
  );
}
