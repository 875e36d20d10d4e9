'use client';

import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { ToastProvider } from './components/toast';
import type { Locale } from './i18n/locales';
import { I18nProvider } from './i18n/provider';
import { TRPCProvider, trpcClient } from './lib/trpc';

/**
 * Every page reads the server through TanStack Query. A failed load shows its error at once (no
 * retries) and keeps the last good answer; pages that poll say so (refetchInterval), and polling
 * pauses while the tab is hidden.
 */
function newQueryClient() {
  return new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false }, mutations: { retry: false } } });
}

export function Providers({ initialLocale, children }: { initialLocale: Locale; children: ReactNode }) {
  const [queryClient] = useState(newQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <I18nProvider initialLocale={initialLocale}>
          <ToastProvider>{children}</ToastProvider>
        </I18nProvider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}
