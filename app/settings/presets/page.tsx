'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable } from '../../components/data-table';
import { formatDateTime } from '../../components/format';
import { useShareableGroups } from '../../components/group-share';
import { useErrorToast, useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';
import { PresetForm, type Preset, type PresetValues } from './preset-form';

/**
 * Presets (server/chat/presets.ts): the caller's own, which they edit, share and delete, and those
 * shared with a group they are in, which they only use (marked with their owner's name).
 */
export default function PresetsPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<Preset | null>(null);
  const [deleting, setDeleting] = useState<Preset | null>(null);

  const list = useQuery(trpc.presets.list.queryOptions());
  const models = useQuery(trpc.models.list.queryOptions());
  const bases = useQuery(trpc.knowledge.list.queryOptions());
  // A user may share only with groups they are in; an admin with any group.
  const shareable = useShareableGroups();
  useErrorToast(list.error ?? models.error ?? bases.error ?? shareable.error);
  const groups = shareable.groups;
  const groupName = new Map(groups.map((g) => [g.id, g.name]));
  const presets = list.data ?? (list.error ? [] : null);

  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.presets.list.queryKey() });
  const create = useMutation(trpc.presets.create.mutationOptions());
  const update = useMutation(trpc.presets.update.mutationOptions());
  const remove = useMutation(trpc.presets.delete.mutationOptions({ onError: (err) => toast.error(err), onSettled: () => void refresh() }));

  async function submit(values: PresetValues) {
    if (editing) {
      await update.mutateAsync({ id: editing.id, values });
      toast.show(t('presets.saved'));
      setEditing(null);
    } else {
      await create.mutateAsync(values);
      toast.show(t('presets.created'));
    }
    await refresh();
  }

  function confirmDelete(p: Preset) {
    setDeleting(null);
    if (editing?.id === p.id) setEditing(null);
    remove.mutate({ id: p.id }, { onSuccess: () => toast.show(t('presets.deleted')) });
  }

  const contextOf = (p: Preset) =>
    p.contextPolicy === 'turns' ? t('context.policy.turns', { turns: String(p.contextTurns ?? 1) }) : t(p.contextPolicy === 'trim' ? 'context.policy.trim' : 'context.policy.summarize');
  const settingsOf = (p: Preset) =>
    [
      p.temperature !== null && `${t('presets.temperature')} ${p.temperature}`,
      p.topP !== null && `${t('presets.topP')} ${p.topP}`,
      p.maxTokens !== null && `${t('presets.maxTokens')} ${p.maxTokens}`,
      contextOf(p),
      p.knowledge.length > 0 && t('presets.knowledgeList', { names: p.knowledge.map((k) => k.name).join(', ') }),
    ]
      .filter(Boolean)
      .join(' · ');

  return (
    <div className="manage-page">
      <h1>{t('presets.title')}</h1>
      <p className="muted">{t('presets.subtitle')}</p>

      {/* A new key remounts the form with the preset picked for editing (or empty again). */}
      <PresetForm
        key={editing?.id ?? 'new'}
        editing={editing}
        models={models.data ?? []}
        groups={groups}
        anyGroup={shareable.anyGroup}
        bases={bases.data ?? []}
        onSubmit={submit}
        onCancel={() => setEditing(null)}
      />

      <DataTable
        testId="presets-table"
        head={
          <>
            <th>{t('presets.name')}</th>
            <th>{t('presets.model')}</th>
            <th>{t('presets.systemPrompt')}</th>
            <th>{t('presets.settings')}</th>
            <th>{t('presets.sharedWith')}</th>
            <th>{t('presets.updated')}</th>
            <th />
          </>
        }
        columns={7}
        loading={presets === null}
        empty={presets?.length === 0 && t('presets.empty')}
      >
        {presets?.map((p) => (
          <tr key={p.id} data-testid="preset-row" data-preset-id={p.id}>
            <td>
              <strong>{p.name}</strong>
              {!p.mine && (
                <div>
                  <span className="badge" data-testid="preset-shared-by">
                    {t('presets.sharedBy', { name: p.ownerName })}
                  </span>
                </div>
              )}
            </td>
            <td>{p.model ?? <span className="muted">{t('presets.anyModel')}</span>}</td>
            <td style={{ maxWidth: 320 }}>
              <span title={p.systemPrompt} style={{ display: '-webkit-box', WebkitLineClamp: 2, WebkitBoxOrient: 'vertical', overflow: 'hidden', whiteSpace: 'pre-wrap' }}>
                {p.systemPrompt || <span className="muted">{t('common.none')}</span>}
              </span>
            </td>
            <td>{settingsOf(p)}</td>
            <td>
              {p.mine
                ? p.groupIds.length
                  ? p.groupIds.map((id) => groupName.get(id) ?? id).join(', ')
                  : <span className="muted">{t('presets.notShared')}</span>
                : null}
            </td>
            <td>{formatDateTime(p.updatedAt, locale)}</td>
            <td style={{ whiteSpace: 'nowrap' }}>
              {p.mine && (
                <>
                  <button type="button" className="text-button" onClick={() => setEditing(p)} data-testid="preset-edit">
                    {t('presets.edit')}
                  </button>
                  <button type="button" className="text-button danger" onClick={() => setDeleting(p)} data-testid="preset-delete">
                    {t('presets.delete')}
                  </button>
                </>
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      {deleting && (
        <ConfirmDialog
          message={t('presets.confirmDelete', { name: deleting.name })}
          confirmLabel={t('presets.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={() => confirmDelete(deleting)}
        />
      )}
    </div>
  );
}
