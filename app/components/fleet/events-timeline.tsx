'use client';

import { useI18n } from '../../i18n/provider';
import { formatDateTime } from '../format';
import type { DeploymentEventView } from './views';

/** A deployment's status history, newest first, as a vertical timeline. */
export function EventsTimeline({ events }: { events: DeploymentEventView[] }) {
  const { t, locale } = useI18n();
  const newestFirst = [...events].sort((a, b) => new Date(b.at).getTime() - new Date(a.at).getTime());
  return (
    <section className="card">
      <div className="logs-head">
        <strong>{t('deployments.history')}</strong>
      </div>
      {newestFirst.length === 0 ? (
        <p className="muted" style={{ padding: '0 14px' }}>{t('deployments.noEvents')}</p>
      ) : (
        <ol className="timeline" data-testid="events">
          {newestFirst.map((e, i) => (
            <li key={`${String(e.at)}-${i}`} data-testid="event" data-kind={e.kind}>
              <div>
                <div className="when">{formatDateTime(e.at, locale)}</div>
                <span className="kind">{e.kind}</span>
                {e.message && <div className="muted" style={{ overflowWrap: 'anywhere' }}>{e.message}</div>}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
