'use client';

import { useI18n } from '../i18n/provider';

export function NotFoundView() {
  const { t } = useI18n();
  return (
    <section className="not-found" data-testid="not-found">
      <p className="not-found-code">404</p>
      <h1>{t('notFound.title')}</h1>
      <p className="muted">{t('notFound.body')}</p>
      {/* A full load: the chat shell needs a signed-in session the server checks. */}
      <a className="button button-primary" href="/">
        {t('notFound.home')}
      </a>
    </section>
  );
}
