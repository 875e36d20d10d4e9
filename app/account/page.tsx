'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Field } from '../components/field';
import { useSession } from '../components/session';
import { useErrorToast, useToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';
import { SessionsTable } from './sessions-table';

const EMPTY = { current: '', next: '', repeat: '' };

/** One's own password and sessions. A one-time password brings everyone here first (see page-guard.ts). */
export default function AccountPage() {
  const { t } = useI18n();
  const { me } = useSession();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [form, setForm] = useState(EMPTY);
  const [error, setError] = useState<string | null>(null);
  const forced = me.mustChangePassword;
  const change = useMutation(trpc.auth.changePassword.mutationOptions());
  // Refused until a one-time password is changed: not asked for before.
  const sessions = useQuery(trpc.auth.sessions.queryOptions(undefined, { enabled: !forced }));
  const myGroups = useQuery(trpc.groups.mine.queryOptions(undefined, { enabled: !forced }));
  useErrorToast(sessions.error);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.auth.sessions.queryKey() });
  const revokeOthers = useMutation(
    trpc.auth.revokeOtherSessions.mutationOptions({
      onError: (err) => toast.error(err),
      onSuccess: ({ revokedSessions }) => toast.show(t('account.revokedOthers', { count: String(revokedSessions) })),
      onSettled: refresh,
    }),
  );
  const revoke = useMutation(
    trpc.auth.revokeSession.mutationOptions({ onError: (err) => toast.error(err), onSuccess: () => toast.show(t('account.revoked')), onSettled: refresh }),
  );

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (form.next !== form.repeat) return setError(t('account.mismatch'));
    try {
      await change.mutateAsync({ currentPassword: form.current, newPassword: form.next });
      setForm(EMPTY);
      toast.show(t('account.changed'));
      if (forced) {
        // A full load: the server's page guard let only this page through until now.
        window.location.assign('/');
        return;
      }
      void refresh();
    } catch (err) {
      setError(readableError(err, t));
    }
  }

  return (
    <div className="manage-page">
      <h1>{t('account.title')}</h1>
      <h2>{t('account.password')}</h2>
      {forced && (
        <p className="card key-reveal" role="status" data-testid="must-change-password">
          {t('account.mustChange')}
        </p>
      )}
      <form className="card login-card" onSubmit={submit} noValidate data-testid="change-password-form">
        <input type="email" name="username" autoComplete="username" value={me.email} readOnly hidden />
        <Field label={t('account.currentPassword')}>
          <input
            name="current-password"
            type="password"
            autoComplete="current-password"
            required
            value={form.current}
            onChange={(e) => setForm({ ...form, current: e.target.value })}
          />
        </Field>
        <Field label={t('account.newPassword')} hint={t('account.passwordHint')}>
          <input name="new-password" type="password" autoComplete="new-password" required value={form.next} onChange={(e) => setForm({ ...form, next: e.target.value })} />
        </Field>
        <Field label={t('account.confirmPassword')}>
          <input
            name="repeat-password"
            type="password"
            autoComplete="new-password"
            required
            value={form.repeat}
            onChange={(e) => setForm({ ...form, repeat: e.target.value })}
          />
        </Field>
        {error && (
          <p className="form-error" role="alert" data-testid="password-error">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={change.isPending || !form.current || !form.next || !form.repeat} data-testid="change-password">
          {change.isPending ? t('account.changing') : t('account.change')}
        </button>
      </form>

      {!forced && (
        <>
          <h2>{t('account.sessions')}</h2>
          <p className="muted">{t('account.sessionsHint')}</p>
          <p>
            <button
              type="button"
              className="button"
              disabled={revokeOthers.isPending || !sessions.data?.some((x) => !x.current)}
              onClick={() => revokeOthers.mutate()}
              data-testid="revoke-other-sessions"
            >
              {t('account.revokeOthers')}
            </button>
          </p>
          <SessionsTable
            sessions={sessions.data ?? (sessions.error ? [] : null)}
            busy={revoke.isPending}
            onRevoke={(id) => revoke.mutate({ id })}
          />
          <h2>{t('groups.mine')}</h2>
          <p data-testid="my-groups">
            {myGroups.data?.length === 0 && <span className="muted">{t('groups.mineNone')}</span>}
            {myGroups.data?.map((g) => (
              <span key={g.id} className="badge" title={g.sources.map((x) => t(`groups.source.${x as 'local'}`)).join(', ')}>
                {g.name}
              </span>
            ))}
          </p>
        </>
      )}
    </div>
  );
}
