'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useState, type FormEvent } from 'react';
import { SessionsTable } from '../../account/sessions-table';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable } from '../../components/data-table';
import { formatDateTime } from '../../components/format';
import { useSession } from '../../components/session';
import { useErrorToast, useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC, type Role, type RouterOutputs } from '../../lib/trpc';
import { EraseDialog } from './erase-dialog';
import { ErasureReportView } from './erasure-report';

type User = RouterOutputs['users']['list'][number];

const ROLES: Role[] = ['admin', 'engineer', 'user', 'viewer'];

export default function UsersPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const { me } = useSession();
  const [form, setForm] = useState({ email: '', name: '', password: '', role: 'user' as Role });
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.users.list.queryOptions());
  useErrorToast(list.error);
  const users = list.data ?? (list.error ? [] : null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const createUser = useMutation(trpc.users.create.mutationOptions());
  // A change refused or not, the list shows what the server now holds.
  const changed = { onError: (err: unknown) => toast.error(err), onSettled: refresh };
  const setRole = useMutation(trpc.users.setRole.mutationOptions(changed));
  const setDisabled = useMutation(trpc.users.setDisabled.mutationOptions(changed));
  const busy = createUser.isPending;
  const [resetting, setResetting] = useState<User | null>(null);
  const [revealed, setRevealed] = useState<{ email: string; password: string } | null>(null);
  const resetPassword = useMutation(trpc.users.resetPassword.mutationOptions(changed));
  const [sessionsOf, setSessionsOf] = useState<User | null>(null);
  const sessions = useQuery(trpc.users.sessions.queryOptions({ id: sessionsOf?.id ?? '' }, { enabled: !!sessionsOf }));
  useErrorToast(sessions.error);
  const refreshSessions = () => queryClient.invalidateQueries({ queryKey: trpc.users.sessions.queryKey() });
  const revokeSession = useMutation(trpc.users.revokeSession.mutationOptions({ onError: (err) => toast.error(err), onSettled: refreshSessions }));

  // Delete or erase: typed confirmation, then the verification report the server answers.
  const [erasing, setErasing] = useState<{ user: User; mode: 'delete' | 'erase' } | null>(null);
  const [report, setReport] = useState<RouterOutputs['users']['erase'] | null>(null);
  const reports = useQuery(trpc.users.erasureReports.queryOptions());
  useErrorToast(reports.error);
  const afterErasure = { onError: (err: unknown) => toast.error(err), onSettled: () => void Promise.all([refresh(), queryClient.invalidateQueries({ queryKey: trpc.users.erasureReports.queryKey() })]) };
  const deleteUser = useMutation(trpc.users.delete.mutationOptions(afterErasure));
  const eraseUser = useMutation(trpc.users.erase.mutationOptions(afterErasure));
  async function erase(target: { user: User; mode: 'delete' | 'erase' }, confirmationText: string) {
    const run = target.mode === 'erase' ? eraseUser : deleteUser;
    const answer = await run.mutateAsync({ id: target.user.id, confirmationText });
    setErasing(null);
    setReport(answer);
  }

  async function reset(user: User) {
    setResetting(null);
    const { oneTimePassword } = await resetPassword.mutateAsync({ id: user.id });
    setRevealed({ email: user.email, password: oneTimePassword });
    void refreshSessions();
  }

  async function create(event: FormEvent) {
    event.preventDefault();
    try {
      await createUser.mutateAsync({
        email: form.email.trim(),
        password: form.password,
        role: form.role,
        name: form.name.trim() || undefined,
      });
      toast.show(t('users.created', { email: form.email.trim() }));
      setForm({ email: '', name: '', password: '', role: 'user' });
      void refresh();
    } catch (err) {
      toast.error(err);
    }
  }

  return (
    <div className="manage-page">
      <h1>{t('users.title')}</h1>
      {revealed && (
        <div className="card key-reveal" role="status" data-testid="reset-password">
          <strong>{t('users.resetTitle', { email: revealed.email })}</strong>
          <p className="muted">{t('users.resetHint')}</p>
          <div className="key-reveal-row">
            <code data-testid="reset-password-value">{revealed.password}</code>
            <button type="button" className="button" onClick={() => void navigator.clipboard?.writeText(revealed.password).then(() => toast.show(t('common.copied')))}>
              {t('common.copy')}
            </button>
            <button type="button" className="button button-quiet" onClick={() => setRevealed(null)}>
              {t('common.close')}
            </button>
          </div>
        </div>
      )}
      {report && <ErasureReportView report={report} onClose={() => setReport(null)} />}
      <form className="card inline-form" onSubmit={create} data-testid="create-user-form">
        <label className="field">
          <span>{t('users.email')}</span>
          <input type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} data-testid="new-user-email" />
        </label>
        <label className="field">
          <span>{t('users.name')}</span>
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </label>
        <label className="field">
          <span>{t('users.password')}</span>
          <input type="password" required autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} data-testid="new-user-password" />
        </label>
        <label className="field field-narrow">
          <span>{t('users.role')}</span>
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })} data-testid="new-user-role">
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={busy || !form.email || !form.password} data-testid="create-user">
          {t('users.create')}
        </button>
      </form>

      <DataTable
        testId="users-table"
        head={
          <>
            <th>{t('users.email')}</th>
            <th>{t('users.name')}</th>
            <th>{t('users.role')}</th>
            <th>{t('users.status')}</th>
            <th>{t('users.createdAt')}</th>
            <th />
          </>
        }
        columns={6}
        loading={users === null}
      >
        {users?.map((u) => {
          const self = u.id === me.id;
          return (
            <Fragment key={u.id}>
              <tr data-testid="user-row">
                <td>{u.email}</td>
                <td>{u.name ?? ''}</td>
                <td>
                  <select
                    aria-label={t('users.role')}
                    value={u.role}
                    disabled={self}
                    onChange={(e) => setRole.mutate({ id: u.id, role: e.target.value as Role })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {t(`role.${r}`)}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  {u.disabled ? <span className="badge">{t('users.disabled')}</span> : t('users.active')}{' '}
                  {u.mustChangePassword && !u.disabled && <span className="badge">{t('users.mustChange')}</span>}
                </td>
                <td>{formatDateTime(u.createdAt, locale)}</td>
                <td>
                  <button type="button" className="text-button" onClick={() => setSessionsOf(sessionsOf?.id === u.id ? null : u)} data-testid="user-sessions">
                    {t('users.sessions')}
                  </button>{' '}
                  {!self && (
                    <>
                      <button type="button" className="text-button" disabled={resetPassword.isPending} onClick={() => setResetting(u)} data-testid="reset-user-password">
                        {t('users.resetPassword')}
                      </button>{' '}
                      <button type="button" className={`text-button${u.disabled ? '' : ' danger'}`} onClick={() => setDisabled.mutate({ id: u.id, disabled: !u.disabled })}>
                        {u.disabled ? t('users.enable') : t('users.disable')}
                      </button>{' '}
                      <button type="button" className="text-button danger" onClick={() => setErasing({ user: u, mode: 'delete' })} data-testid="delete-user">
                        {t('erasure.delete')}
                      </button>{' '}
                      <button type="button" className="text-button danger" onClick={() => setErasing({ user: u, mode: 'erase' })} data-testid="erase-user">
                        {t('erasure.erase')}
                      </button>
                    </>
                  )}
                </td>
              </tr>
              {sessionsOf?.id === u.id && (
                <tr>
                  <td colSpan={6}>
                    <strong>{t('users.sessionsOf', { email: u.email })}</strong>
                    <SessionsTable
                      testId="user-sessions-table"
                      sessions={sessions.data ?? (sessions.error ? [] : null)}
                      busy={revokeSession.isPending}
                      onRevoke={(id) => revokeSession.mutate({ id })}
                    />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </DataTable>
      <h2>{t('erasure.reports')}</h2>
      <DataTable
        testId="erasure-reports"
        head={
          <>
            <th>{t('erasure.at')}</th>
            <th>{t('erasure.action')}</th>
            <th>{t('erasure.target')}</th>
            <th>{t('erasure.by')}</th>
            <th>{t('erasure.outcome')}</th>
            <th>{t('erasure.summary')}</th>
          </>
        }
        columns={6}
        loading={!reports.data && !reports.error}
        empty={reports.data?.length === 0 && t('erasure.noReports')}
      >
        {reports.data?.map((r) => {
          const detail = r.detail as { deleted?: Record<string, number>; keys?: { destroyed?: number[] } };
          return (
            <tr key={r.id} data-testid="erasure-report-row">
              <td>{formatDateTime(r.at, locale)}</td>
              <td>{t(r.action === 'users.erase.report' ? 'erasure.action.users.erase.report' : 'erasure.action.users.delete.report')}</td>
              <td>
                <code>{r.target}</code>
              </td>
              <td>{r.actor_label ?? '—'}</td>
              <td>
                <span className={`badge badge-${r.outcome}`}>{r.outcome}</span>
              </td>
              <td>
                {Object.entries(detail.deleted ?? {})
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', ')}
                {detail.keys?.destroyed && ` · ${t('erasure.keysDestroyed', { ids: detail.keys.destroyed.join(', ') || '—' })}`}
              </td>
            </tr>
          );
        })}
      </DataTable>
      {erasing && (
        <EraseDialog
          email={erasing.user.email}
          mode={erasing.mode}
          busy={deleteUser.isPending || eraseUser.isPending}
          onCancel={() => setErasing(null)}
          onConfirm={(text) => void erase(erasing, text).catch(() => undefined)}
        />
      )}
      {resetting && (
        <ConfirmDialog
          message={t('users.confirmReset', { email: resetting.email })}
          confirmLabel={t('users.resetPassword')}
          onCancel={() => setResetting(null)}
          onConfirm={() => void reset(resetting).catch(() => undefined)}
        />
      )}
    </div>
  );
}
