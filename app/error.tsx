'use client';

import { useI18n } from './i18n/provider';

/** Last line of defence: a render error shows a sentence and a retry, never a blank screen. */
export default function ErrorPage({ reset }: { error: Error; reset: () => void }) {
  const { t } = useI18n();
  return (
    <main className="centered-page">
      <section className="not-found" role="alert">
        <h1>{t('common.unknownError')}</h1>
        <button type="button" className="button button-primary" onClick={reset}>
          {t('common.retry')}
        </button>
      </section>
    </main>
  );
}
