'use client';

import { useCallback, useEffect, useState } from 'react';
import { formatDateTime } from '../../components/format';
import { useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { trpc } from '../../lib/trpc';

const PAGE = 50;

interface AuditRow {
  id: number;
  at: string | Date;
  actorLabel: string | null;
  actorUserId: string | null;
  action: string;
  target: string | null;
  clientAddress: string | null;
  outcome: string;
}

export default function AuditPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const [rows, setRows] = useState<AuditRow[] | null>(null);
  const [hasMore, setHasMore] = useState(false);

  const loadPage = useCallback(
    async (beforeId?: number) => {
      try {
        const result = (await trpc.audit.list.query({ limit: PAGE, beforeId })) as unknown;
        // Accept a bare list or a { items } page, whichever the router returns.
        const page = (Array.isArray(result) ? result : ((result as { items?: AuditRow[] }).items ?? [])) as AuditRow[];
        setRows((current) => (beforeId === undefined ? page : [...(current ?? []), ...page]));
        setHasMore(page.length === PAGE);
      } catch (err) {
        setRows((current) => current ?? []);
        toast.error(err);
      }
    },
    [toast],
  );
  useEffect(() => void loadPage(), [loadPage]);

  return (
    <div className="manage-page">
      <h1>{t('audit.title')}</h1>
      <div className="table-wrap">
        <table className="table table-dense" data-testid="audit-table">
          <thead>
            <tr>
              <th>{t('audit.time')}</th>
              <th>{t('audit.actor')}</th>
              <th>{t('audit.action')}</th>
              <th>{t('audit.target')}</th>
              <th>{t('audit.outcome')}</th>
              <th>{t('audit.address')}</th>
            </tr>
          </thead>
          <tbody>
            {rows === null && (
              <tr>
                <td colSpan={6} className="muted">{t('common.loading')}</td>
              </tr>
            )}
            {rows?.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">{t('audit.empty')}</td>
              </tr>
            )}
            {rows?.map((r) => (
              <tr key={r.id} data-testid="audit-row">
                <td className="nowrap">{formatDateTime(r.at, locale)}</td>
                <td>{r.actorLabel ?? r.actorUserId ?? '–'}</td>
                <td>
                  <code>{r.action}</code>
                </td>
                <td className="truncate">{r.target ?? ''}</td>
                <td>
                  <span className={`badge badge-${r.outcome}`}>{r.outcome}</span>
                </td>
                <td>{r.clientAddress ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {hasMore && rows && (
        <button type="button" className="button" onClick={() => void loadPage(rows[rows.length - 1]?.id)}>
          {t('audit.loadMore')}
        </button>
      )}
    </div>
  );
}
