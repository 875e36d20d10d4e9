'use client';

import Link from 'next/link';
import { useI18n } from '../i18n/provider';
import { LanguageSwitch } from './language-switch';
import { useSession } from './session';
import { ThemeSwitch } from './theme-switch';

/**
 * Account links, admin links (only for admins: the server enforces roles anyway), language, theme, sign out.
 * `links={false}` where the page already has its own navigation (settings and admin pages).
 */
export function UserMenu({ links = true }: { links?: boolean }) {
  const { t } = useI18n();
  const { me, changeLocale, signOut } = useSession();
  return (
    <nav className="user-menu" aria-label={t('nav.settings')}>
      <div className="user-menu-who">
        <span className="avatar" aria-hidden>
          {(me.name || me.email).slice(0, 1).toUpperCase()}
        </span>
        <span className="user-menu-name">
          <strong>{me.name || me.email}</strong>
          <small className="muted">{t(`role.${me.role}`)}</small>
        </span>
      </div>
      {links && (
        <Link href="/account" className="nav-link" data-testid="nav-account">
          {t('nav.account')}
        </Link>
      )}
      {links && (
        <Link href="/settings/keys" className="nav-link" data-testid="nav-keys">
          {t('nav.apiKeys')}
        </Link>
      )}
      {links && me.role !== 'user' && (
        <Link href="/deployments" className="nav-link" data-testid="nav-fleet">
          {t('nav.fleet')}
        </Link>
      )}
      {links && me.role === 'admin' && (
        <>
          <Link href="/admin/users" className="nav-link" data-testid="nav-users">
            {t('nav.users')}
          </Link>
          <Link href="/admin/groups" className="nav-link" data-testid="nav-groups">
            {t('nav.groups')}
          </Link>
          <Link href="/admin/audit" className="nav-link" data-testid="nav-audit">
            {t('nav.audit')}
          </Link>
          <Link href="/admin/quotas" className="nav-link" data-testid="nav-quotas">
            {t('nav.quotas')}
          </Link>
        </>
      )}
      <div className="user-menu-row">
        <LanguageSwitch onChange={changeLocale} />
        <ThemeSwitch />
        <button type="button" className="button button-quiet" onClick={() => void signOut()} data-testid="sign-out">
          {t('nav.signOut')}
        </button>
      </div>
    </nav>
  );
}
