'use client';

import { useEffect, useState } from 'react';
import { useI18n } from '../i18n/provider';
import { THEMES, isTheme, readTheme, saveTheme, type Theme } from '../theme/theme';

/** System, light or dark; stored in this browser (app/theme/theme.ts) and applied at once. */
export function ThemeSwitch() {
  const { t } = useI18n();
  // "system" on the server and the first client render (no localStorage there), the stored choice after.
  const [theme, setTheme] = useState<Theme>('system');
  useEffect(() => setTheme(readTheme()), []);
  return (
    <label className="theme-switch">
      <span className="visually-hidden">{t('theme.label')}</span>
      <select
        aria-label={t('theme.label')}
        data-testid="theme-switch"
        value={theme}
        onChange={(e) => {
          if (!isTheme(e.target.value)) return;
          setTheme(e.target.value);
          saveTheme(e.target.value);
        }}
      >
        {THEMES.map((v) => (
          <option key={v} value={v}>
            {t(`theme.${v}`)}
          </option>
        ))}
      </select>
    </label>
  );
}
