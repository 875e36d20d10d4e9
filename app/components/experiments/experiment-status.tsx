'use client';

import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';

/** Reuses the fleet's status colours: running reads as ready, draft as pending, promoted as healthy. */
const CLASS: Record<string, string> = { draft: 'pending', running: 'ready', stopped: 'stopped', promoted: 'healthy' };

export function ExperimentStatus({ status, testId }: { status: string; testId?: string }) {
  const { t } = useI18n();
  return (
    <span className={`status status-${CLASS[status] ?? 'pending'}`} data-testid={testId} data-status={status}>
      {t(`experiments.status.${status}` as MessageKey)}
    </span>
  );
}
