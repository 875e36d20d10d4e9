'use client';

import { useState, type FormEvent } from 'react';
import { LanguageSwitch } from '../components/language-switch';
import { hasLocaleCookie, useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { errorCode, trpc } from '../lib/trpc';

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

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = await trpc.auth.signIn.mutate({ email: email.trim(), password });
      // A language picked on this page before signing in becomes the account's choice.
      if (hasLocaleCookie() && user.locale !== locale) await trpc.auth.setLocale.mutate({ locale }).catch(() => undefined);
      // A full load, so the server renders the next page with the new session cookie.
      window.location.assign(nextPath());
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
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden>
            ◆
          </span>
          {t('app.name')}
        </div>
        <h1>{t('login.title')}</h1>
        <p className="muted">{t('login.subtitle')}</p>
        <label className="field">
          <span>{t('login.email')}</span>
          <input
            name="email"
            type="email"
            autoComplete="username"
            required
            autoFocus
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label className="field">
          <span>{t('login.password')}</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="form-error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary button-block" disabled={busy || !email || !password}>
          {busy ? t('login.submitting') : t('login.submit')}
        </button>
      </form>
    </main>
  );
}
