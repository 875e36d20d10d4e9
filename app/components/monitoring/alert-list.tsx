'use client';

import { formatDateTime } from '../format';
import { formatAge } from '../fleet/format';
import { useI18n } from '../../i18n/provider';
import type { AlertView } from './views';

export function SeverityBadge({ severity }: { severity: 'warning' | 'critical' }) {
  const { t } = useI18n();
  return <span className={`sev sev-${severity}`}>{t(`alerts.severity.${severity}`)}</span>;
}

/** Firing and pending alerts as cards: severity, rule, subject, what happened and since when. */
export function OpenAlerts({ alerts, durations }: { alerts: AlertView[]; durations: Map<string, string> }) {
  const { t, locale } = useI18n();
  return (
    <div className="alert-list">
      {alerts.map((a) => (
        <article
          key={a.id}
          className={`card alert-item alert-${a.severity}${a.status === 'pending' ? ' alert-pending' : ''}`}
          data-testid={a.status === 'firing' ? 'firing-alert' : 'pending-alert'}
          data-kind={a.kind}
          data-subject={a.subject}
        >
          <SeverityBadge severity={a.severity} />
          <span>
            <span className="alert-title">{a.ruleName}</span> <span className="chip mono">{a.subject}</span>
          </span>
          <span className="alert-when" title={formatDateTime(a.firedAt ?? a.pendingSince, locale)}>
            {a.status === 'firing'
              ? t('alerts.since', { age: formatAge(a.firedAt, locale) })
              : t('alerts.pendingFor', { age: formatAge(a.pendingSince, locale), duration: durations.get(a.ruleId) ?? '' })}
          </span>
          <span className="alert-message">{a.message}</span>
        </article>
      ))}
    </div>
  );
}

/** Resolved alerts, newest first. */
export function RecentAlerts({ alerts }: { alerts: AlertView[] }) {
  const { t, locale } = useI18n();
  if (alerts.length === 0) return <p className="muted">{t('alerts.noneRecent')}</p>;
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="recent-alerts">
        <thead>
          <tr>
            <th>{t('alerts.rules.severity')}</th>
            <th>{t('alerts.rule')}</th>
            <th>{t('alerts.subject')}</th>
            <th>{t('alerts.message')}</th>
            <th>{t('alerts.firedAt')}</th>
            <th>{t('alerts.resolvedAt', { when: '' }).trim()}</th>
            <th>{t('alerts.notified')}</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id} data-testid="recent-alert">
              <td>
                <SeverityBadge severity={a.severity} />
              </td>
              <td>{a.ruleName}</td>
              <td className="mono">{a.subject}</td>
              <td>{a.message}</td>
              <td className="nowrap muted">{formatDateTime(a.firedAt, locale)}</td>
              <td className="nowrap muted">{formatDateTime(a.resolvedAt, locale)}</td>
              <td className="nowrap muted">{a.notifiedAt ? formatDateTime(a.notifiedAt, locale) : t('alerts.notNotified')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
