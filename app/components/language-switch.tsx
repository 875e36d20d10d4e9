'use client';

import { useI18n } from '../i18n/provider';
import { LOCALE_NAMES, LOCALES, isLocale, type Locale } from '../i18n/locales';

/** A select of the UI languages; onChange defaults to switching locally (the login page). */
export function LanguageSwitch({ onChange }: { onChange?: (locale: Locale) => void }) {
  const { locale, setLocale, t } = useI18n();
  return (
    <label className="language-switch">
      <span className="visually-hidden">{t('common.language')}</span>
      <select
        aria-label={t('common.language')}
        data-testid="language-switch"
        value={locale}
        onChange={(e) => {
          if (isLocale(e.target.value)) (onChange ?? setLocale)(e.target.value);
        }}
      >
        {LOCALES.map((l) => (
          <option key={l} value={l}>
            {LOCALE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
