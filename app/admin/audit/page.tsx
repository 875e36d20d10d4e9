'use client';

import { useInfiniteQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { DataTable } from '../../components/data-table';
import { formatDateTime } from '../../components/format';
import { useErrorToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';
import { IntegrityPanel } from './integrity-panel';
import { AuditFilters, filterQuery, type Filter } from './filters';

const PAGE = 50;

/** The audit trail: filtered, newest first, paged by id (deep pages cost what the first does), with names for ids, and export of what the filters select. */
export default function AuditPage() {
  const { t, locale } = useI18n();
  const trpc = useTRPC();
  const [filter, setFilter] = useState<Filter>({});
  // Each page read is itself audited (audit.list): pages load only when asked for.
  const audit = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions({ limit: PAGE, ...filter }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  useErrorToast(audit.error);
  const pages = audit.data?.pages ?? [];
  const rows = audit.data ? pages.flatMap((p) => p.rows) : audit.error ? [] : null;
  const names = Object.assign({}, ...pages.map((p) => p.names)) as Record<string, { kind: string; name: string }>;
  const nameOf = (id: string | null) => (id && names[id] ? names[id].name : null);
  const exportHref = (format: 'csv' | 'jsonl') => `/api/audit/export?${filterQuery({ ...filter, format })}`;

  return (
    <div className="manage-page">
      <h1>{t('audit.title')}</h1>
      <IntegrityPanel />
      <AuditFilters
        value={filter}
        onApply={(f: Filter, e?: FormEvent) => {
          e?.preventDefault();
          setFilter(f);
        }}
      />
      <div className="audit-export" data-testid="audit-export">
        <a className="button" href={exportHref('csv')} download data-testid="audit-export-csv">
          {t('audit.exportCsv')}
        </a>
        <a className="button" href={exportHref('jsonl')} download data-testid="audit-export-jsonl">
          {t('audit.exportJsonl')}
        </a>
        <small className="muted">{t('audit.exportHint')}</small>
        {rows && <small className="muted">{t('audit.shown', { count: rows.length })}</small>}
      </div>
      <DataTable
        testId="audit-table"
        className="table table-dense"
        head={
          <>
            <th>{t('audit.time')}</th>
            <th>{t('audit.actor')}</th>
            <th>{t('audit.action')}</th>
            <th>{t('audit.target')}</th>
            <th>{t('audit.outcome')}</th>
            <th>{t('audit.address')}</th>
            <th>{t('audit.detail')}</th>
          </>
        }
        columns={7}
        loading={rows === null}
        empty={rows?.length === 0 && t('audit.empty')}
      >
        {rows?.map((r) => (
          <tr key={r.id} data-testid="audit-row" data-id={r.id}>
            <td className="nowrap" title={`#${r.id}`}>
              {formatDateTime(r.at, locale)}
            </td>
            <td title={r.actorUserId ?? undefined}>{nameOf(r.actorUserId) ?? r.actorLabel ?? r.actorUserId ?? '–'}</td>
            <td>
              <code>{r.action}</code>
            </td>
            <td className="truncate" title={r.target ?? undefined} data-testid="audit-target">
              {nameOf(r.target) ?? r.target ?? ''}
            </td>
            <td>
              <span className={`badge badge-${r.outcome}`}>{r.outcome}</span>
            </td>
            <td>{r.clientAddress ?? ''}</td>
            <td className="truncate audit-detail" title={JSON.stringify(r.detail)}>
              {Object.keys(r.detail).length ? JSON.stringify(r.detail) : ''}
            </td>
          </tr>
        ))}
      </DataTable>
      {audit.hasNextPage && (
        <button type="button" className="button" onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
          {t('audit.loadMore')}
        </button>
      )}
    </div>
  );
}
