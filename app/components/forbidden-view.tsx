'use client';

import { useI18n } from '../i18n/provider';

/**
 * A page the signed-in role may not open. Said plainly, unlike someone else's conversation or
 * resource, which stays "not found": that it exists is itself private.
 */
export function ForbiddenView() {
  const { t } = useI18n();
  return (
    <section className="manage-page forbidden" data-testid="forbidden">
      <p className="not-found-code">403</p>
      <h1>{t('forbidden.title')}</h1>
      <p className="muted">{t('forbidden.body')}</p>
      <p>
        <a className="button" href="/">
          {t('forbidden.back')}
        </a>
      </p>
    </section>
  );
}
