'use client';

import { useEffect, useState } from 'react';
import { useI18n } from '../../i18n/provider';

/**
 * Deleting or erasing a person cannot be undone: the admin types the person's email again (the server
 * checks it too) before the button does anything. Escape or the backdrop cancels, except while it runs.
 */
export function EraseDialog({
  email,
  mode,
  busy,
  onConfirm,
  onCancel,
}: {
  email: string;
  mode: 'delete' | 'erase';
  busy: boolean;
  onConfirm(confirmationText: string): void;
  onCancel(): void;
}) {
  const { t } = useI18n();
  const [typed, setTyped] = useState('');
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && !busy && onCancel();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel, busy]);
  const matches = typed.trim().toLowerCase() === email.toLowerCase();
  return (
    <div className="modal-backdrop" onClick={() => !busy && onCancel()}>
      <div className="card modal" role="alertdialog" aria-modal="true" onClick={(e) => e.stopPropagation()} data-testid="erase-dialog">
        <h2>{t(mode === 'erase' ? 'erasure.eraseTitle' : 'erasure.deleteTitle', { email })}</h2>
        <p>{t(mode === 'erase' ? 'erasure.eraseHint' : 'erasure.deleteHint')}</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (matches && !busy) onConfirm(typed);
          }}
        >
          <label className="field field-full">
            <span>{t('erasure.typeEmail', { email })}</span>
            <input autoFocus autoComplete="off" spellCheck={false} value={typed} onChange={(e) => setTyped(e.target.value)} disabled={busy} data-testid="erase-confirm-email" />
          </label>
          {busy && <p className="muted" role="status">{t('erasure.running')}</p>}
          <div className="modal-actions">
            <button type="button" className="button" onClick={onCancel} disabled={busy}>
              {t('common.cancel')}
            </button>
            <button type="submit" className="button button-danger" disabled={!matches || busy} data-testid="erase-confirm">
              {t(mode === 'erase' ? 'erasure.confirmErase' : 'erasure.confirmDelete')}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
