import type { Metadata, Viewport } from 'next';
import { cookies, headers } from 'next/headers';
import type { ReactNode } from 'react';
import 'highlight.js/styles/github.css';
import './globals.css';
import { LOCALE_COOKIE, resolveLocale } from './i18n/locales';
import { Providers } from './providers';

export const metadata: Metadata = { title: 'Enclave', description: 'Private LLM workspace' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

/** Reads the language cookie on the server so <html lang> and the first paint are already right. */
export default async function RootLayout({ children }: { children: ReactNode }) {
  const [cookieStore, headerStore] = await Promise.all([cookies(), headers()]);
  const locale = resolveLocale(cookieStore.get(LOCALE_COOKIE)?.value, headerStore.get('accept-language'));
  return (
    <html lang={locale}>
      <body>
        <Providers initialLocale={locale}>{children}</Providers>
      </body>
    </html>
  );
}
