'use client';

import type { ReactNode } from 'react';
import { ToastProvider } from './components/toast';
import type { Locale } from './i18n/locales';
import { I18nProvider } from './i18n/provider';

export function Providers({ initialLocale, children }: { initialLocale: Locale; children: ReactNode }) {
  return (
    <I18nProvider initialLocale={initialLocale}>
      <ToastProvider>{children}</ToastProvider>
    </I18nProvider>
  );
}
