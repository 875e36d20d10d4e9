'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, type ReactNode } from 'react';
import { hasLocaleCookie, useI18n } from '../i18n/provider';
import { isLocale, type Locale } from '../i18n/locales';
import { useTRPC, type Me } from '../lib/trpc';
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
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Once per page load: a role change shows at the next one, as the server's page guard does.
  const session = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: Infinity }));
  const me = session.data;

  useEffect(() => {
    if (me === null) window.location.assign('/login');
    // The account's saved language wins over this browser's cookie once signed in.
    else if (me && isLocale(me.locale) && me.locale !== locale) setLocale(me.locale);
    else if (me && !hasLocaleCookie()) setLocale(locale);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once, when the user is known
  }, [me]);
  useEffect(() => {
    if (session.error) toast.error(session.error);
  }, [session.error, toast]);

  const { mutate: saveLocale } = useMutation(trpc.auth.setLocale.mutationOptions({ onError: (err) => toast.error(err) }));
  const changeLocale = useCallback(
    (next: Locale) => {
      setLocale(next);
      queryClient.setQueryData(trpc.auth.me.queryKey(), (current) => (current ? { ...current, locale: next } : current));
      saveLocale({ locale: next });
    },
    [setLocale, queryClient, trpc, saveLocale],
  );

  const { mutateAsync: endSession } = useMutation(trpc.auth.signOut.mutationOptions());
  const signOut = useCallback(async () => {
    try {
      await endSession();
    } catch (err) {
      toast.error(err);
      return;
    }
    window.location.assign('/login');
  }, [endSession, toast]);

  if (!me) return <div className="page-loading" aria-busy="true" />;
  return <SessionContext.Provider value={{ me, changeLocale, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue & { me: Me } {
  const value = useContext(SessionContext);
  if (!value || !value.me) throw new Error('useSession must be used inside <SessionProvider> after sign-in');
  return value as SessionValue & { me: Me };
}
