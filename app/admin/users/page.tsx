'use client';

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { formatDateTime } from '../../components/format';
import { useSession } from '../../components/session';
import { useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { trpc, type Role } from '../../lib/trpc';

const ROLES: Role[] = ['admin', 'engineer', 'user', 'viewer'];

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  createdAt: string | Date;
}

export default function UsersPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const { me } = useSession();
  const [users, setUsers] = useState<UserRow[] | null>(null);
  const [form, setForm] = useState({ email: '', name: '', password: '', role: 'user' as Role });
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(() => {
    trpc.users.list
      .query()
      .then((list) => setUsers(list as UserRow[]))
      .catch((err) => {
        setUsers((u) => u ?? []);
        toast.error(err);
      });
  }, [toast]);
  useEffect(refresh, [refresh]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await trpc.users.create.mutate({
        email: form.email.trim(),
        password: form.password,
        role: form.role,
        name: form.name.trim() || undefined,
      });
      toast.show(t('users.created', { email: form.email.trim() }));
      setForm({ email: '', name: '', password: '', role: 'user' });
      refresh();
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
    }
  }

  async function change(action: () => Promise<unknown>) {
    try {
      await action();
    } catch (err) {
      toast.error(err);
    }
    refresh();
  }

  return (
    <div className="manage-page">
      <h1>{t('users.title')}</h1>
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

      <div className="table-wrap">
        <table className="table" data-testid="users-table">
          <thead>
            <tr>
              <th>{t('users.email')}</th>
              <th>{t('users.name')}</th>
              <th>{t('users.role')}</th>
              <th>{t('users.status')}</th>
              <th>{t('users.createdAt')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users === null && (
              <tr>
                <td colSpan={6} className="muted">{t('common.loading')}</td>
              </tr>
            )}
            {users?.map((u) => {
              const self = u.id === me.id;
              return (
                <tr key={u.id} data-testid="user-row">
                  <td>{u.email}</td>
                  <td>{u.name ?? ''}</td>
                  <td>
                    <select
                      aria-label={t('users.role')}
                      value={u.role}
                      disabled={self}
                      onChange={(e) => void change(() => trpc.users.setRole.mutate({ id: u.id, role: e.target.value as Role }))}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {t(`role.${r}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{u.disabled ? <span className="badge">{t('users.disabled')}</span> : t('users.active')}</td>
                  <td>{formatDateTime(u.createdAt, locale)}</td>
                  <td>
                    {!self && (
                      <button type="button" className={`text-button${u.disabled ? '' : ' danger'}`} onClick={() => void change(() => trpc.users.setDisabled.mutate({ id: u.id, disabled: !u.disabled }))}>
                        {u.disabled ? t('users.enable') : t('users.disable')}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
