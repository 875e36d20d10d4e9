'use client';

import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { JOB_STATUSES } from './views';

const KNOWN = new Set<string>(JOB_STATUSES);

/** A job's status pill; an unknown status (a newer server) shows as its own word, uncoloured. */
export function JobStatusBadge({ status, testId }: { status: string; testId?: string }) {
  const { t } = useI18n();
  const known = KNOWN.has(status);
  return (
    <span className={`status${known ? ` status-${status}` : ''}`} data-testid={testId} data-status={status}>
      {known ? t(`jobs.status.${status}` as MessageKey) : status}
    </span>
  );
}

/** The quality gate of a quantization: passed, blocked (promotion refused) or overridden by an engineer. */
export function GateBadge({ gate }: { gate: string | null }) {
  const { t } = useI18n();
  if (!gate) return null;
  return (
    <span className={`gate gate-${gate}`} data-testid="gate-status" data-gate={gate}>
      {['passed', 'blocked', 'overridden'].includes(gate) ? t(`jobs.gate.${gate}` as MessageKey) : gate}
    </span>
  );
}
