'use client';

import { useState, useSyncExternalStore, type CSSProperties } from 'react';
import { useI18n } from '../../i18n/provider';
import { useToast } from '../toast';

const textareaStyle: CSSProperties = { width: '100%', minHeight: 120, padding: '7px 10px', border: '1px solid var(--border)', borderRadius: 8, background: 'var(--panel)', resize: 'vertical' };

// The layout's phone width (globals.css): there the header has room for a short label only.
const NARROW = '(max-width: 768px)';
const subscribeNarrow = (onChange: () => void) => {
  const query = window.matchMedia(NARROW);
  query.addEventListener('change', onChange);
  return () => query.removeEventListener('change', onChange);
};
const useNarrow = () => useSyncExternalStore(subscribeNarrow, () => window.matchMedia(NARROW).matches, () => false);

/**
 * The conversation's system prompt, in the chat header: the button says whether one is set, its panel
 * edits it. For a chat not yet sent it is kept here and saved with the conversation's first message
 * (use-chat.ts); `onSave` answers whether it was kept, and the panel stays open with the text otherwise.
 */
export function SystemPromptControl({ value, isNew, onSave }: { value: string; isNew: boolean; onSave(next: string): Promise<boolean> }) {
  const { t } = useI18n();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  // null until typed in: the panel shows what is saved now (another conversation, or a preset just picked, may have changed it).
  const [edited, setEdited] = useState<string | null>(null);
  const draft = edited ?? value;
  const [busy, setBusy] = useState(false);
  const toggle = (next: boolean) => {
    setOpen(next);
    if (!next) setEdited(null);
  };

  async function save(next: string) {
    setBusy(true);
    const kept = await onSave(next);
    setBusy(false);
    if (!kept) return;
    if (!isNew) toast.show(t(next.trim() ? 'systemPrompt.saved' : 'systemPrompt.cleared'));
    toggle(false);
  }

  const set = value.trim() !== '';
  const narrow = useNarrow();
  const label = `${t('systemPrompt.button')}: ${t(set ? 'systemPrompt.on' : 'systemPrompt.off')}`;
  return (
    <details className="menu" open={open} onToggle={(e) => toggle((e.currentTarget as HTMLDetailsElement).open)}>
      <summary
        className={`button ${set ? '' : 'button-quiet '}context-button`}
        title={set ? value.slice(0, 300) : label}
        aria-label={label}
        data-testid="system-prompt"
        data-set={set ? 'true' : 'false'}
      >
        {narrow ? `✎ ${set ? '●' : '○'}` : label}
      </summary>
      <div className="menu-panel card settings-panel" style={narrow ? { position: 'fixed', left: 12, right: 12, top: 56 } : { width: 420 }} data-testid="system-prompt-panel">
        <strong>{t('systemPrompt.title')}</strong>
        <span className="muted">{t(isNew ? 'systemPrompt.hintNew' : 'systemPrompt.hint')}</span>
        <textarea
          rows={6}
          maxLength={8000}
          style={textareaStyle}
          placeholder={t('systemPrompt.placeholder')}
          value={draft}
          onChange={(e) => setEdited(e.target.value)}
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
