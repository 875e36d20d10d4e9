'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { KnowledgeChecklist } from '../knowledge-checklist';
import { useErrorToast, useToast } from '../toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';

/** The header's knowledge menu: which bases this conversation answers from (attach and detach). */
export function KnowledgePicker({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const bases = useQuery(trpc.knowledge.list.queryOptions(undefined, { enabled: open }));
  const attached = useQuery(trpc.knowledge.attached.queryOptions({ conversationId }));
  useErrorToast(bases.error ?? attached.error);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.knowledge.attached.queryKey({ conversationId }) });
  const attach = useMutation(trpc.knowledge.attach.mutationOptions({ onError: (e) => toast.error(e), onSettled: () => void refresh() }));
  const detach = useMutation(trpc.knowledge.detach.mutationOptions({ onError: (e) => toast.error(e), onSettled: () => void refresh() }));
  const on = new Set((attached.data ?? []).map((a) => a.id));

  return (
    <div className="knowledge-picker menu">
      <button type="button" className="text-button" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="knowledge-picker">
        {t('knowledge.picker', { count: String(on.size) })}
      </button>
      {open && (
        <div className="menu-panel card settings-panel" role="dialog" aria-label={t('knowledge.pickerHint')}>
          <p className="muted">{t('knowledge.pickerHint')}</p>
          {bases.data?.length === 0 && <p className="muted">{t('knowledge.noBases')}</p>}
          <KnowledgeChecklist bases={bases.data ?? []} checked={on} tickTestId="knowledge-attach" onToggle={(kbId, checked) => (checked ? attach : detach).mutate({ conversationId, kbId })} />
          <Link href="/knowledge" className="text-button">
            {t('knowledge.manage')}
          </Link>
        </div>
      )}
    </div>
  );
}
