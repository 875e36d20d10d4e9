'use client';

import { useI18n } from '../../i18n/provider';

/** Plain download links: the server sends the file with its Content-Disposition. */
export function ExportMenu({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const base = `/api/conversations/${encodeURIComponent(conversationId)}/export`;
  return (
    <details className="menu">
      <summary className="button button-quiet" data-testid="export-menu">
        {t('chat.export')}
      </summary>
      <div className="menu-panel card">
        <a href={`${base}?format=json`} download data-testid="export-json">
          {t('chat.exportJson')}
        </a>
        <a href={`${base}?format=md`} download data-testid="export-md">
          {t('chat.exportMarkdown')}
        </a>
      </div>
    </details>
  );
}
