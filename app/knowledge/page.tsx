'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ClassificationSelect } from '../components/classification-select';
import { ConfirmDialog } from '../components/confirm-dialog';
import { useShareableGroups } from '../components/group-share';
import { useErrorToast, useToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { useTRPC } from '../lib/trpc';
import { KnowledgeDocuments } from './documents';
import { KnowledgeSharing } from './sharing';

/** Knowledge bases (server/knowledge): create one, pick it to upload and watch its documents, delete. */
export default function KnowledgePage() {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.knowledge.list.queryOptions());
  const models = useQuery(trpc.models.list.queryOptions());
  const shareable = useShareableGroups();
  useErrorToast(list.error ?? models.error ?? shareable.error);
  const [name, setName] = useState('');
  const [model, setModel] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.knowledge.list.queryKey() });
  const create = useMutation(trpc.knowledge.create.mutationOptions({ onError: (e) => toast.error(e), onSuccess: () => void refresh() }));
  const remove = useMutation(trpc.knowledge.delete.mutationOptions({ onError: (e) => toast.error(e), onSettled: () => void refresh() }));
  const modelNames = (models.data ?? []).map((m) => m.name);
  const chosenModel = model || modelNames[0] || '';

  async function submit(e: FormEvent) {
    e.preventDefault();
    const created = await create.mutateAsync({ name, embeddingModel: chosenModel, groupIds: [] });
    toast.show(t('knowledge.created'));
    setName('');
    setOpen(created.id);
  }

  return (
    <div className="manage-page">
      <h1>{t('knowledge.title')}</h1>
      <p className="muted">{t('knowledge.subtitle')}</p>
      <form className="inline-form" onSubmit={(e) => void submit(e)} data-testid="knowledge-create">
        <label>
          {t('knowledge.name')}
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} data-testid="knowledge-name" />
        </label>
        <label>
          {t('knowledge.embeddingModel')}
          <select value={chosenModel} onChange={(e) => setModel(e.target.value)} data-testid="knowledge-model">
            {modelNames.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button" disabled={create.isPending || !chosenModel}>
          {t('knowledge.create')}
        </button>
      </form>

      {list.data?.length === 0 && <p className="muted">{t('knowledge.empty')}</p>}
      <ul className="knowledge-list" data-testid="knowledge-list">
        {list.data?.map((kb) => (
          <li key={kb.id} data-testid="knowledge-base" data-kb-id={kb.id}>
            <div style={{ display: 'flex', gap: 12, alignItems: 'center', flexWrap: 'wrap' }}>
              <button type="button" className="text-button" onClick={() => setOpen(open === kb.id ? null : kb.id)} data-testid="knowledge-open">
                <strong>{kb.name}</strong>
              </button>
              <span className="muted">
                {kb.embeddingModel} · {kb.ready}/{kb.documents} {t('knowledge.documents').toLowerCase()}
              </span>
              {!kb.mine && (
                <span className="badge" data-testid="knowledge-shared-by">
                  {kb.sharedVia.length ? t('knowledge.sharedByWith', { name: kb.ownerName, groups: kb.sharedVia.join(', ') }) : t('knowledge.sharedBy', { name: kb.ownerName })}
                </span>
              )}
              {kb.mine && <KnowledgeSharing key={kb.groupIds.join(',')} kb={kb} groups={shareable.groups} anyGroup={shareable.anyGroup} onSaved={() => void refresh()} />}
              <ClassificationSelect kind="knowledge_base" id={kb.id} readOnly={!kb.mine} title={t('knowledge.levelHint')} testId="knowledge-level" />
              {kb.mine && (
                <button type="button" className="text-button danger" onClick={() => setDeleting({ id: kb.id, name: kb.name })}>
                  {t('knowledge.deleteBase')}
                </button>
              )}
            </div>
            {open === kb.id && <KnowledgeDocuments kbId={kb.id} canEdit={kb.mine} onChange={() => void refresh()} />}
          </li>
        ))}
      </ul>
      {deleting && (
        <ConfirmDialog
          message={t('knowledge.confirmDelete', { name: deleting.name })}
          confirmLabel={t('knowledge.delete')}
          onConfirm={() => {
            remove.mutate({ id: deleting.id });
            setDeleting(null);
          }}
          onCancel={() => setDeleting(null)}
        />
      )}
    </div>
  );
}
