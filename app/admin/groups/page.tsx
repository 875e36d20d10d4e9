'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable } from '../../components/data-table';
import { useErrorToast, useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC, type RouterOutputs } from '../../lib/trpc';
import { GroupDetail } from './group-detail';

type Group = RouterOutputs['groups']['list'][number];

/** Admins create groups, then manage each one's members, links and granted deployments (group-detail.tsx). */
export default function GroupsPage() {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.groups.list.queryOptions());
  useErrorToast(list.error);
  const groups = list.data ?? (list.error ? [] : null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.groups.pathKey() });
  const create = useMutation(trpc.groups.create.mutationOptions({ onError: (err) => toast.error(err), onSettled: refresh }));
  const remove = useMutation(trpc.groups.remove.mutationOptions({ onError: (err) => toast.error(err), onSettled: refresh }));
  const [form, setForm] = useState({ name: '', description: '' });
  const [open, setOpen] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const made = await create.mutateAsync({ name: form.name, description: form.description || undefined }).catch(() => null);
    if (!made) return;
    toast.show(t('groups.created', { name: made.name }));
    setForm({ name: '', description: '' });
    setOpen(made.id);
  }

  return (
    <div className="manage-page">
      <h1>{t('groups.title')}</h1>
      <p className="muted">{t('groups.hint')}</p>
      <form className="card inline-form" onSubmit={(e) => void submit(e)} data-testid="create-group-form">
        <label className="field">
          <span>{t('groups.name')}</span>
          <input required maxLength={64} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} data-testid="new-group-name" />
        </label>
        <label className="field field-wide">
          <span>{t('groups.description')}</span>
          <input maxLength={500} value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
        </label>
        <button type="submit" className="button button-primary" disabled={create.isPending || !form.name.trim()} data-testid="create-group">
          {t('groups.create')}
        </button>
      </form>

      <DataTable
        testId="groups-table"
        head={
          <>
            <th>{t('groups.name')}</th>
            <th>{t('groups.members')}</th>
            <th>{t('groups.links')}</th>
            <th>{t('groups.deployments')}</th>
            <th />
          </>
        }
        columns={5}
        loading={groups === null}
        empty={groups?.length === 0 ? t('groups.none') : undefined}
      >
        {groups?.map((g) => (
          <Fragment key={g.id}>
            <tr data-testid="group-row">
              <td>
                <strong>{g.name}</strong>
                {g.description && <div className="muted">{g.description}</div>}
              </td>
              <td>{g.members}</td>
              <td>
                {g.links.map((l) => (
                  <span key={`${l.source}:${l.external}`} className="badge" title={t(`groups.linkSource.${l.source}`)}>
                    {l.source}: {l.external}
                  </span>
                ))}
              </td>
              <td>
                {g.deployments.map((d) => (
                  <span key={d.id} className="badge">
                    {d.name}
                  </span>
                ))}
              </td>
              <td>
                <button type="button" className="text-button" onClick={() => setOpen(open === g.id ? null : g.id)} data-testid="manage-group">
                  {t('groups.manage')}
                </button>{' '}
                <button type="button" className="text-button danger" onClick={() => setDeleting(g)}>
                  {t('groups.delete')}
                </button>
              </td>
            </tr>
            {open === g.id && (
              <tr>
                <td colSpan={5}>
                  <GroupDetail group={g} onChanged={refresh} />
                </td>
              </tr>
            )}
          </Fragment>
        ))}
      </DataTable>
      {deleting && (
        <ConfirmDialog
          message={t('groups.confirmDelete', { name: deleting.name })}
          confirmLabel={t('groups.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const id = deleting.id;
            setDeleting(null);
            remove.mutate({ id }, { onSuccess: () => toast.show(t('groups.deleted')) });
          }}
        />
      )}
    </div>
  );
}
