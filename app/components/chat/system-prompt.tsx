'use client';

import { useEffect, useState, type CSSProperties } from 'react';
import { useI18n } from '../../i18n/provider';
import { useToast } from '../toast';

const textareaStyle: CSSProperties = { width: '100%', minHeight: 120, padding: '7px 10px', border: '1px solid var(--border)', borderRadius: 8, background: 'var(--panel)', resize: 'vertical' };

/**
 * The conversation's system prompt, in the chat header: the button says whether one is set, its panel
 * edits it. For a chat not yet sent it is kept here and saved with the conversation's first message
 * (use-chat.ts); `onSave` answers whether it was kept, and the panel stays open with the text otherwise.
 */
export function SystemPromptControl({ value, isNew, onSave }: { value: string; isNew: boolean; onSave(next: string): Promise<boolean> }) {
  const { t } = useI18n();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(value);
  const [busy, setBusy] = useState(false);
  // Opening shows what is saved now (another conversation, or a preset just picked, may have changed it).
  useEffect(() => {
    if (open) setDraft(value);
  }, [open, value]);

  async function save(next: string) {
    setBusy(true);
    const kept = await onSave(next);
    setBusy(false);
    if (!kept) return;
    if (!isNew) toast.show(t(next.trim() ? 'systemPrompt.saved' : 'systemPrompt.cleared'));
    setOpen(false);
  }

  const set = value.trim() !== '';
  return (
    <details className="menu" open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary
        className={`button ${set ? '' : 'button-quiet '}context-button`}
        title={set ? value.slice(0, 300) : undefined}
        data-testid="system-prompt"
        data-set={set ? 'true' : 'false'}
      >
        {t('systemPrompt.button')}: {t(set ? 'systemPrompt.on' : 'systemPrompt.off')}
      </summary>
      <div className="menu-panel card settings-panel" style={{ width: 'min(420px, calc(100vw - 32px))' }} data-testid="system-prompt-panel">
        <strong>{t('systemPrompt.title')}</strong>
        <span className="muted">{t(isNew ? 'systemPrompt.hintNew' : 'systemPrompt.hint')}</span>
        <textarea
          rows={6}
          maxLength={8000}
          style={textareaStyle}
          placeholder={t('systemPrompt.placeholder')}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          aria-label={t('systemPrompt.title')}
          data-testid="system-prompt-input"
        />
        <div style={{ display: 'flex', gap: 8, justifyContent: 'flex-end' }}>
          <button type="button" className="button button-quiet" disabled={busy || (!set && !draft)} onClick={() => void save('')} data-testid="system-prompt-clear">
            {t('systemPrompt.clear')}
          </button>
          <button type="button" className="button button-primary" disabled={busy || draft.trim() === value.trim()} onClick={() => void save(draft)} data-testid="system-prompt-save">
            {t('common.save')}
          </button>
        </div>
      </div>
    </details>
  );
}
