'use client';

import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { hasLocaleCookie, useI18n } from '../i18n/provider';
import { isLocale, type Locale } from '../i18n/locales';
import { trpc, type Me } from '../lib/trpc';
import { useToast } from './toast';

interface SessionValue {
  me: Me | null;
  /** Changes the language and saves it to the account. */
  changeLocale(locale: Locale): void;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

/**
 * Loads the signed-in user for pages behind sign-in. The server already redirected anyone without
 * a session; if the session ends while the page is open, we go to /login.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const { locale, setLocale } = useI18n();
  const toast = useToast();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    let cancelled = false;
    trpc.auth.me
      .query()
      .then((user) => {
        if (cancelled) return;
        if (!user) {
          window.location.assign('/login');
          return;
        }
        setMe(user);
        // The account's saved language wins over this browser's cookie once signed in.
        if (isLocale(user.locale) && user.locale !== locale) setLocale(user.locale);
        else if (!hasLocaleCookie()) setLocale(locale);
      })
      .catch((err) => {
        if (!cancelled) toast.error(err);
      });
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- load once per page load
  }, []);

  const changeLocale = useCallback(
    (next: Locale) => {
      setLocale(next);
      setMe((current) => (current ? { ...current, locale: next } : current));
      trpc.auth.setLocale.mutate({ locale: next }).catch((err) => toast.error(err));
    },
    [setLocale, toast],
  );

  const signOut = useCallback(async () => {
    try {
      await trpc.auth.signOut.mutate();
    } catch (err) {
      toast.error(err);
      return;
    }
    window.location.assign('/login');
  }, [toast]);

  if (me === undefined) return <div className="page-loading" aria-busy="true" />;
  return <SessionContext.Provider value={{ me, changeLocale, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue & { me: Me } {
  const value = useContext(SessionContext);
  if (!value || !value.me) throw new Error('useSession must be used inside <SessionProvider> after sign-in');
  return value as SessionValue & { me: Me };
}
