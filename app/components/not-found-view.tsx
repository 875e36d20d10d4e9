'use client';

import { usePathname } from 'next/navigation';
import { useI18n } from '../i18n/provider';

/**
 * 404, or 403 for a page the role may not open. A conversation's address (/c/<id>) gets the
 * conversation wording, which never says whether the conversation exists for someone else; any other
 * unknown address gets "page not found" (every 404 and 403 used to say "Conversation not found").
 */
export function NotFoundView({ kind }: { kind?: 'conversation' | 'page' | 'forbidden' }) {
  const { t } = useI18n();
  const pathname = usePathname() ?? '';
  const shown = kind ?? (pathname === '/' || pathname.startsWith('/c/') ? 'conversation' : 'page');
  if (shown === 'forbidden') {
    return (
      <section className="not-found" data-testid="forbidden">
        <p className="not-found-code">403</p>
        <h1>{t('forbidden.title')}</h1>
        <p className="muted">{t('forbidden.body')}</p>
        <a className="button button-primary" href="/">
          {t('forbidden.back')}
        </a>
      </section>
    );
  }
  const conversation = shown === 'conversation';
  return (
    <section className="not-found" data-testid="not-found">
      <p className="not-found-code">404</p>
      <h1>{conversation ? t('notFound.title') : t('notFound.pageTitle')}</h1>
      <p className="muted">{conversation ? t('notFound.body') : t('notFound.pageBody')}</p>
      {/* A full load: the chat shell needs a signed-in session the server checks. */}
      <a className="button button-primary" href="/">
        {t('notFound.home')}
      </a>
    </section>
  );
}
