import type { Metadata, Viewport } from 'next';
import { cookies, headers } from 'next/headers';
import type { ReactNode } from 'react';
import 'highlight.js/styles/github.css';
import './globals.css';
import { LOCALE_COOKIE, resolveLocale } from './i18n/locales';
import { Providers } from './providers';
import { THEME_BOOT_SCRIPT } from './theme/theme';

export const metadata: Metadata = { title: 'Enclave', description: 'Private LLM workspace' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

/** Reads the language cookie on the server so <html lang> and the first paint are already right. */
export default async function RootLayout({ children }: { children: ReactNode }) {
  const [cookieStore, headerStore] = await Promise.all([cookies(), headers()]);
  const locale = resolveLocale(cookieStore.get(LOCALE_COOKIE)?.value, headerStore.get('accept-language'));
  // The theme script runs under the page's CSP like Next.js's own scripts: with the request's nonce.
  const nonce = /'nonce-([^']+)'/.exec(headerStore.get('content-security-policy') ?? '')?.[1];
  return (
    // suppressHydrationWarning: the boot script sets data-theme on <html> before React hydrates.
    <html lang={locale} suppressHydrationWarning>
      <head>
        {/* Before first paint: the stored theme (app/theme/theme.ts), so a dark page never flashes white. */}
        <script nonce={nonce} dangerouslySetInnerHTML={{ __html: THEME_BOOT_SCRIPT }} />
      </head>
      <body>
        <Providers initialLocale={locale}>{children}</Providers>
      </body>
    </html>
  );
}
