'use client';

import { useEffect, useRef } from 'react';
import { useI18n } from '../../i18n/provider';

/**
 * The last lines the job printed, following the end like `tail -f` unless the reader scrolled up
 * to read something: then new lines do not pull the view away from them.
 */
export function JobLogs({ lines, live }: { lines: string[]; live: boolean }) {
  const { t } = useI18n();
  const box = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return (
    <section className="card logs">
      <div className="logs-head">
        <strong>{t('jobs.logs')}</strong>
        {live && <span className="status status-running">{t('jobs.live')}</span>}
      </div>
      <pre
        ref={box}
        className="log-lines"
        style={{ height: 260 }}
        data-testid="job-log-lines"
        data-count={lines.length}
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.length ? lines.join('\n') : t('jobs.noLogs')}
      </pre>
    </section>
  );
}
