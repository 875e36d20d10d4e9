'use client';

import { keepPreviousData, skipToken, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';
import type { ReplicaView } from './views';

const LOG_POLL_MS = 1500;
const TAIL_LINES = 300;

/** The last lines of a chosen replica's engine log, polled, following the end unless the reader scrolled up. */
export function ReplicaLogs({ replicas }: { replicas: ReplicaView[] }) {
  const { t } = useI18n();
  // A running replica's log is what a person opens this for; stopped ones (kept a day as history) come after.
  const [chosen, setChosen] = useState<string>((replicas.find((r) => r.status !== 'stopped') ?? replicas[0])?.id ?? '');
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);
  const replicaId = replicas.some((r) => r.id === chosen) ? chosen : (replicas[0]?.id ?? '');
  const trpc = useTRPC();
  const { data, error } = useQuery({
    ...trpc.deployments.logs.queryOptions(replicaId ? { replicaId, tail: TAIL_LINES } : skipToken, { refetchInterval: LOG_POLL_MS }),
    placeholderData: keepPreviousData,
  });
  const lines = (replicaId && data?.lines) || [];

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  // Scrolling up to read stops following; scrolling back to the end resumes it.
  function onScroll() {
    const el = box.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atEnd !== follow) setFollow(atEnd);
  }

  return (
    <section className="card logs">
      <div className="logs-head">
        <strong>{t('deployments.logs')}</strong>
        {replicas.length > 0 && (
          <label style={{ display: 'inline-flex', gap: 6, alignItems: 'center' }}>
            <span className="muted">{t('deployments.logsOf')}</span>
            <select value={replicaId} onChange={(e) => setChosen(e.target.value)} data-testid="log-replica">
              {replicas.map((r, i) => (
                <option key={r.id} value={r.id}>
                  #{i + 1} {r.nodeName ?? ''} {r.pid ? `pid ${r.pid}` : ''}
                </option>
              ))}
            </select>
          </label>
        )}
        <span className="spacer" />
        <label style={{ display: 'inline-flex', gap: 6, alignItems: 'center' }}>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          {t('deployments.follow')}
        </label>
      </div>
      {error !== null && <p className="form-error" style={{ padding: '6px 12px' }}>{readableError(error, t)}</p>}
      <pre ref={box} className="log-lines" onScroll={onScroll} data-testid="log-lines" data-count={lines.length}>
        {lines.length === 0 ? t('deployments.noLogs') : lines.join('\n')}
      </pre>
    </section>
  );
}
