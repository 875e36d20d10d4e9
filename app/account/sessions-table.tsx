'use client';

import { useState } from 'react';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable } from '../components/data-table';
import { formatDateTime } from '../components/format';
import { useI18n } from '../i18n/provider';
import type { RouterOutputs } from '../lib/trpc';
import { describeDevice } from './device';

type Session = RouterOutputs['auth']['sessions'][number];

/** A person's sessions with a Revoke button each (but the current one): the account page's and the admin's. */
export function SessionsTable({ sessions, onRevoke, busy, testId = 'sessions-table' }: { sessions: Session[] | null; onRevoke(id: string): void; busy?: boolean; testId?: string }) {
  const { t, locale } = useI18n();
  const [revoking, setRevoking] = useState<Session | null>(null);
  return (
    <>
      <DataTable
        testId={testId}
        head={
          <>
            <th>{t('account.device')}</th>
            <th>{t('account.address')}</th>
            <th>{t('account.signedIn')}</th>
            <th>{t('account.lastSeen')}</th>
            <th />
          </>
        }
        columns={5}
        loading={sessions === null}
        empty={sessions?.length === 0 && t('users.noSessions')}
      >
        {sessions?.map((s) => (
          <tr key={s.id} data-testid="session-row" data-current={s.current}>
            <td title={s.userAgent ?? ''}>{describeDevice(s.userAgent) ?? t('account.unknownDevice')}</td>
            <td>{s.clientAddress ?? ''}</td>
            <td>{formatDateTime(s.createdAt, locale)}</td>
            <td>{formatDateTime(s.lastSeenAt, locale)}</td>
            <td>
              {s.current ? (
                <span className="badge">{t('account.current')}</span>
              ) : (
                <button type="button" className="text-button danger" disabled={busy} onClick={() => setRevoking(s)} data-testid="revoke-session">
                  {t('account.revoke')}
                </button>
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      {revoking && (
        <ConfirmDialog
          message={t('account.confirmRevoke')}
          confirmLabel={t('account.revoke')}
          onCancel={() => setRevoking(null)}
          onConfirm={() => {
            setRevoking(null);
            onRevoke(revoking.id);
          }}
        />
      )}
    </>
  );
}
