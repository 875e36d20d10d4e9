'use client';

import Link from 'next/link';
import { useState, type KeyboardEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import type { RouterOutputs } from '../../lib/trpc';
import { Brand } from '../brand';
import { ConfirmDialog } from '../confirm-dialog';
import { IconButton, PencilIcon, TrashIcon } from '../icons';
import { UserMenu } from '../user-menu';

type ConversationSummary = RouterOutputs['conversations']['list'][number];

interface Props {
  conversations: ConversationSummary[] | null;
  activeId: string | null;
  search: string;
  onSearch(value: string): void;
  onNew(): void;
  onRename(id: string, title: string): Promise<void>;
  onDelete(id: string): Promise<void>;
  onNavigate(): void;
}

export function Sidebar({ conversations, activeId, search, onSearch, onNew, onRename, onDelete, onNavigate }: Props) {
  const { t } = useI18n();
  const [editingId, setEditingId] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const [deleting, setDeleting] = useState<ConversationSummary | null>(null);

  const titleOf = (c: ConversationSummary) => c.title?.trim() || t('sidebar.untitled');

  async function commitRename(c: ConversationSummary) {
    const title = draft.trim();
    setEditingId(null);
    if (title && title !== c.title) await onRename(c.id, title);
  }

  function onRenameKey(e: KeyboardEvent<HTMLInputElement>, c: ConversationSummary) {
    if (e.key === 'Enter') void commitRename(c);
    if (e.key === 'Escape') setEditingId(null);
  }

  return (
    <aside className="sidebar">
      <div className="sidebar-top">
        <Brand />
        <button type="button" className="button button-primary button-block" onClick={onNew} data-testid="new-chat">
          + {t('sidebar.newChat')}
        </button>
        <Link href="/arena" className="button button-block" data-testid="arena-link">
          ⚔ {t('nav.arena')}
        </Link>
        <input
          type="search"
          className="sidebar-search"
          placeholder={t('sidebar.search')}
          aria-label={t('sidebar.search')}
          value={search}
          onChange={(e) => onSearch(e.target.value)}
          data-testid="conversation-search"
        />
      </div>
      <ul className="conversation-list" data-testid="conversation-list">
        {conversations === null && <li className="muted list-note">{t('common.loading')}</li>}
        {conversations?.length === 0 && <li className="muted list-note">{search ? t('sidebar.noMatches') : t('sidebar.empty')}</li>}
        {conversations?.map((c) => (
          <li key={c.id} className={`conversation-item${c.id === activeId ? ' active' : ''}`} data-testid="conversation-item">
            {editingId === c.id ? (
              <input
                className="rename-input"
                autoFocus
                value={draft}
                aria-label={t('sidebar.rename')}
                onChange={(e) => setDraft(e.target.value)}
                onKeyDown={(e) => onRenameKey(e, c)}
                onBlur={() => void commitRename(c)}
                data-testid="rename-input"
              />
            ) : (
              <>
                <Link href={`/c/${c.id}`} className="conversation-link" title={titleOf(c)} onClick={onNavigate}>
                  {titleOf(c)}
                </Link>
                <span className="conversation-actions">
                  <IconButton
                    label={t('sidebar.rename')}
                    icon={<PencilIcon />}
                    onClick={() => {
                      setDraft(c.title ?? '');
                      setEditingId(c.id);
                    }}
                    testId="rename-conversation"
                  />
                  <IconButton label={t('sidebar.delete')} icon={<TrashIcon />} onClick={() => setDeleting(c)} testId="delete-conversation" />
                </span>
              </>
            )}
          </li>
        ))}
      </ul>
      <UserMenu />
      {deleting && (
        <ConfirmDialog
          message={t('sidebar.confirmDelete', { title: titleOf(deleting) })}
          confirmLabel={t('common.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const target = deleting;
            setDeleting(null);
            void onDelete(target.id);
          }}
        />
      )}
    </aside>
  );
}
