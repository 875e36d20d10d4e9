'use client';

import { useI18n } from '../i18n/provider';

/** The app's mark and name: at the top of both sidebars, and larger on the sign-in card. */
export function Brand({ large = false }: { large?: boolean }) {
  const { t } = useI18n();
  return (
    <div className={large ? 'brand brand-large' : 'brand'}>
      <span className="brand-mark" aria-hidden>
        ◆
      </span>
      {t('app.name')}
    </div>
  );
}
