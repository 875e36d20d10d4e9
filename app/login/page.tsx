'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Brand } from '../components/brand';
import { Field } from '../components/field';
import { LanguageSwitch } from '../components/language-switch';
import { hasLocaleCookie, useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { errorCode, useTRPC } from '../lib/trpc';
import { ssoErrorKey } from './sso-errors';

/** Where the server sent us from (?next=); only a same-site path, so a crafted link cannot send us elsewhere. */
function nextPath(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  return next;
}

export default function LoginPage() {
  const { t, locale } = useI18n();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const trpc = useTRPC();
  const options = useQuery(trpc.auth.signInOptions.queryOptions());
  const signIn = useMutation(trpc.auth.signIn.mutationOptions());

  // A single sign-on that came back refused lands here with ?error=<code>: say why in a sentence.
  useEffect(() => {
    const key = ssoErrorKey(new URLSearchParams(window.location.search).get('error'));
    if (key) setError(t(key));
  }, [t]);
  const saveLocale = useMutation(trpc.auth.setLocale.mutationOptions());

  const providers = options.data?.providers ?? [];
  const passwordMode = options.data?.password ?? 'on';

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = await signIn.mutateAsync({ email: email.trim(), password });
      // A language picked on this page before signing in becomes the account's choice.
      if (hasLocaleCookie() && user.locale !== locale && !user.mustChangePassword) await saveLocale.mutateAsync({ locale }).catch(() => undefined);
      // A full load, so the server renders the next page with the new session cookie. A one-time
      // password is changed first (the server would send us there anyway).
      window.location.assign(user.mustChangePassword ? '/account' : nextPath());
    } catch (err) {
      const code = errorCode(err);
      setError(code === 'UNAUTHORIZED' ? t('login.failed') : readableError(err, t));
      setBusy(false);
    }
  }

  return (
    <main className="centered-page login-page">
      <div className="login-language">
        <LanguageSwitch />
      </div>
      <form className="card login-card" onSubmit={submit} noValidate>
        <Brand large />
        <h1>{t('login.title')}</h1>
        <p className="muted">{t('login.subtitle')}</p>
        {providers.map((p) => (
          // A plain link: the sign-in leaves for the provider and comes back as full page loads.
          <a key={p.id} className="button button-primary button-block" href={`/api/auth/oidc/${encodeURIComponent(p.id)}/start?next=${encodeURIComponent(nextPath())}`} data-testid={`sso-${p.id}`}>
            {t('login.sso', { name: p.name })}
          </a>
        ))}
        {providers.length > 0 && passwordMode !== 'off' && (
          <p className="muted" style={{ textAlign: 'center' }}>
            {t('login.or')}
          </p>
        )}
        {passwordMode === 'off' ? (
          error === null && providers.length === 0 && <p className="muted">{t('login.passwordOff')}</p>
        ) : (
          <>
            {passwordMode === 'admins' && <p className="muted">{t('login.passwordAdminsOnly')}</p>}
            <Field label={t('login.email')}>
              <input name="email" type="email" autoComplete="username" required autoFocus={providers.length === 0} value={email} onChange={(e) => setEmail(e.target.value)} />
            </Field>
            <Field label={t('login.password')}>
              <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
            </Field>
          </>
        )}
        {error && (
          <p className="form-error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        {passwordMode !== 'off' && (
          <button type="submit" className={`button ${providers.length ? '' : 'button-primary '}button-block`} disabled={busy || !email || !password}>
            {busy ? t('login.submitting') : t('login.submit')}
          </button>
        )}
      </form>
    </main>
  );
}
