'use client';

import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';

const KNOWN = new Set(['pending', 'starting', 'ready', 'degraded', 'failed', 'stopped', 'unhealthy', 'healthy', 'draining']);

/** A coloured status pill; an unknown status (a newer server) shows as its own word, uncoloured. */
export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  const { t } = useI18n();
  const known = KNOWN.has(status);
  return (
    <span className={`status${known ? ` status-${status}` : ''}`} data-testid={testId} data-status={status}>
      {known ? t(`fleet.status.${status}` as MessageKey) : status}
    </span>
  );
}
