'use client';

import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { canManageFleet } from '../components/fleet/roles';
import { OpenAlerts, RecentAlerts } from '../components/monitoring/alert-list';
import { formatDuration } from '../components/monitoring/kinds';
import { RulesTable } from '../components/monitoring/rules-table';
import { WebhooksPanel } from '../components/monitoring/webhooks-panel';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

// Alerts are evaluated every 15 s; polling a little faster shows a change within one evaluation.
const ALERTS_REFRESH_MS = 10_000;

export default function AlertsPage() {
  const { t } = useI18n();
  const { me } = useSession();
  const seesRules = canManageFleet(me.role);
  const isAdmin = me.role === 'admin';
  const trpc = useTRPC();
  const { data: alerts, error } = useQuery(trpc.monitoring.alerts.queryOptions(undefined, { refetchInterval: ALERTS_REFRESH_MS }));
  // Rules and webhooks are engineers' and admins' to read: nobody else asks for them.
  const rules = useQuery(trpc.monitoring.rules.queryOptions(undefined, { enabled: seesRules }));
  const webhooks = useQuery(trpc.monitoring.webhooks.queryOptions(undefined, { enabled: seesRules }));
  const durations = useMemo(() => new Map((rules.data ?? []).map((r) => [r.id, formatDuration(r.durationSeconds)])), [rules.data]);

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('alerts.title')}</h1>
          <p className="muted">{t('alerts.subtitle')}</p>
        </div>
      </div>
      {error !== null && !alerts && <p className="form-error">{readableError(error, t)}</p>}
      {!alerts && error === null && <p className="muted">{t('common.loading')}</p>}
      {alerts && (
        <>
          <h2 className="section-title">
            {t('alerts.firing')} ({alerts.firing.length})
          </h2>
          {alerts.firing.length === 0 ? <p className="muted" data-testid="no-firing">{t('alerts.noneFiring')}</p> : <OpenAlerts alerts={alerts.firing} durations={durations} />}
          {alerts.pending.length > 0 && (
            <>
              <h2 className="section-title">{t('alerts.pending')}</h2>
              <OpenAlerts alerts={alerts.pending} durations={durations} />
            </>
          )}
          <h2 className="section-title">{t('alerts.recent')}</h2>
          <RecentAlerts alerts={alerts.recent} />
        </>
      )}
      <h2 className="section-title">{t('alerts.rules')}</h2>
      {!seesRules && <p className="read-only-note">{t('alerts.rules.hidden')}</p>}
      {seesRules && !isAdmin && <p className="read-only-note">{t('alerts.rules.readOnly')}</p>}
      {seesRules && rules.data && <RulesTable rules={rules.data} canEdit={isAdmin} />}
      {seesRules && (
        <>
          <h2 className="section-title">{t('alerts.webhooks')}</h2>
          {webhooks.data && <WebhooksPanel webhooks={webhooks.data} canEdit={isAdmin} />}
        </>
      )}
    </div>
  );
}
