'use client';

import type { ReactNode } from 'react';
import { useI18n } from '../i18n/provider';

/**
 * A table as the pages draw one: scrolling sideways in its own wrapper (never widening the page: on a
 * 390 px phone the page stays put and the table scrolls; the wrapper takes keyboard focus so it can be
 * scrolled without a pointer), the header cells, then a muted
 * note across all columns while the rows load (`loading`) or when there are none (`empty`, the text
 * to show; nothing when falsy), then the rows. `columns` is what the notes span.
 */
export function DataTable({
  testId,
  className = 'table',
  head,
  columns = 1,
  loading = false,
  empty,
  children,
}: {
  testId: string;
  className?: string;
  head: ReactNode;
  columns?: number;
  loading?: boolean;
  empty?: ReactNode;
  children: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <div className="table-wrap" tabIndex={0}>
      <table className={className} data-testid={testId}>
        <thead>
          <tr>{head}</tr>
        </thead>
        <tbody>
          {loading && <NoteRow columns={columns}>{t('common.loading')}</NoteRow>}
          {empty && <NoteRow columns={columns}>{empty}</NoteRow>}
          {children}
        </tbody>
      </table>
    </div>
  );
}

function NoteRow({ columns, children }: { columns: number; children: ReactNode }) {
  return (
    <tr>
      <td colSpan={columns} className="muted">
        {children}
      </td>
    </tr>
  );
}
