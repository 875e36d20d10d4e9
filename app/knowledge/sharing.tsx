'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { GroupShareField, type ShareableGroup } from '../components/group-share';
import { useToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

type Base = { id: string; name: string; embeddingModel: string; groupIds: string[] };

/**
 * Who a base is shared with, for its owner: "Shared with …" (or "Only you"), and the ticks to change it
 * (the same field as a preset's). Members of those groups can list and search it; only the owner changes it.
 */
export function KnowledgeSharing({ kb, groups, anyGroup, onSaved }: { kb: Base; groups: ShareableGroup[]; anyGroup: boolean; onSaved(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const [editing, setEditing] = useState(false);
  const [groupIds, setGroupIds] = useState<string[]>(kb.groupIds);
  const [error, setError] = useState<string | null>(null);
  const update = useMutation(trpc.knowledge.update.mutationOptions());
  const name = new Map(groups.map((g) => [g.id, g.name]));
  const summary = kb.groupIds.length ? t('knowledge.sharedWith', { groups: kb.groupIds.map((id) => name.get(id) ?? id).join(', ') }) : t('knowledge.notShared');

  async function save() {
    setError(null);
    try {
      // The name and model stay as they are: only the sharing changes (so nothing is embedded again).
      await update.mutateAsync({ id: kb.id, values: { name: kb.name, embeddingModel: kb.embeddingModel, groupIds } });
      toast.show(t('knowledge.sharingSaved'));
      setEditing(false);
      onSaved();
    } catch (e) {
      setError(readableError(e, t));
    }
  }

  return (
    <>
      <span className="muted" data-testid="knowledge-shared-with">
        {summary}
      </span>
      <button
        type="button"
        className="text-button"
        aria-expanded={editing}
        onClick={() => {
          setGroupIds(kb.groupIds);
          setError(null);
          setEditing(!editing);
        }}
        data-testid="knowledge-sharing"
      >
        {t('knowledge.sharing')}
      </button>
      {editing && (
        <div className="card inline-form" style={{ flex: '1 1 100%', order: 1 }} data-testid="knowledge-sharing-form">
          <GroupShareField
            label={t('knowledge.shareWith')}
            emptyHint={t(anyGroup ? 'knowledge.noGroupsAtAll' : 'knowledge.noGroups')}
            groups={groups}
            value={groupIds}
            onChange={setGroupIds}
            testId="knowledge-groups"
            tickPrefix="knowledge-group"
            disabled={update.isPending}
          />
          {error && (
            <p className="form-error" role="alert" style={{ flex: '1 1 100%' }} data-testid="knowledge-sharing-error">
              {error}
            </p>
          )}
          <div style={{ display: 'flex', gap: 8 }}>
            <button type="button" className="button button-primary" disabled={update.isPending} onClick={() => void save()} data-testid="knowledge-sharing-save">
              {t('knowledge.saveSharing')}
            </button>
            <button type="button" className="button button-quiet" onClick={() => setEditing(false)}>
              {t('common.cancel')}
            </button>
          </div>
        </div>
      )}
    </>
  );
}
