'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useEffect, useState, type ReactNode } from 'react';
import { useI18n } from '../i18n/provider';
import { Brand } from './brand';
import { ForbiddenView } from './forbidden-view';
import { pageAllowed } from './page-access';
import { SessionProvider, useSession } from './session';
import { UserMenu } from './user-menu';

/**
 * The frame around settings and admin pages: a side navigation and the page. A page the role may not
 * open (page-access.ts) says so instead of drawing an empty page of refused requests. Below 768 px the
 * navigation folds behind a menu button, so the page itself starts at the top of the screen.
 */
export function ManageShell({ children }: { children: ReactNode }) {
  return (
    <SessionProvider>
      <ManageFrame>{children}</ManageFrame>
    </SessionProvider>
  );
}

function ManageFrame({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const { me } = useSession();
  const pathname = usePathname();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [pathname]);
  const link = (href: string, label: string, testId: string) =>
    pageAllowed(href, me.role) && (
      <Link href={href} className={`nav-link${pathname === href || pathname.startsWith(`${href}/`) ? ' active' : ''}`} data-testid={testId}>
        {label}
      </Link>
    );
  return (
    <div className={`app-shell manage-shell${menuOpen ? ' manage-menu-open' : ''}`}>
      <aside className="sidebar">
        <div className="sidebar-top">
          <div className="manage-top">
            <Brand />
            <button type="button" className="button manage-menu-toggle" aria-expanded={menuOpen} aria-controls="manage-nav" onClick={() => setMenuOpen(!menuOpen)} data-testid="manage-menu-toggle">
              ☰ {t('nav.menu')}
            </button>
          </div>
          <a href="/" className="button button-block">
            ← {t('nav.backToChat')}
          </a>
          <nav className="manage-nav" id="manage-nav">
            <div className="nav-heading">{t('nav.settings')}</div>
            {link('/account', t('nav.account'), 'manage-account')}
            {link('/settings/keys', t('nav.apiKeys'), 'manage-keys')}
            {link('/settings/presets', t('nav.presets'), 'manage-presets')}
            {link('/usage', t('nav.usage'), 'manage-usage')}
            {me.role !== 'user' && (
              <>
                <div className="nav-heading">{t('nav.fleet')}</div>
                {link('/models', t('nav.models'), 'manage-models')}
                {link('/deployments', t('nav.deployments'), 'manage-deployments')}
                {link('/gpus', t('nav.gpus'), 'manage-gpus')}
                {link('/alerts', t('nav.alerts'), 'manage-alerts')}
                <div className="nav-heading">{t('nav.training')}</div>
                {link('/datasets', t('nav.datasets'), 'manage-datasets')}
                {link('/jobs', t('nav.jobs'), 'manage-jobs')}
                <div className="nav-heading">{t('nav.evaluation')}</div>
                {link('/loadtests', t('nav.loadtests'), 'manage-loadtests')}
                {link('/latency', t('nav.latency'), 'manage-latency')}
                {link('/experiments', t('nav.experiments'), 'manage-experiments')}
              </>
            )}
            {link('/leaderboard', t('nav.leaderboard'), 'manage-leaderboard')}
            {me.role === 'admin' && (
              <>
                <div className="nav-heading">{t('nav.admin')}</div>
                {link('/admin/users', t('nav.users'), 'manage-users')}
                {link('/admin/groups', t('nav.groups'), 'manage-groups')}
                {link('/admin/audit', t('nav.audit'), 'manage-audit')}
                {link('/admin/quotas', t('nav.quotas'), 'manage-quotas')}
                {link('/admin/retention', t('nav.retention'), 'manage-retention')}
                {link('/admin/data-protection', t('nav.dataProtection'), 'manage-data-protection')}
                {link('/admin/backups', t('nav.backups'), 'manage-backups')}
                {link('/admin/tools', t('nav.tools'), 'manage-tools')}
              </>
            )}
          </nav>
        </div>
        <span className="spacer" />
        <UserMenu links={false} />
      </aside>
      <main className="manage-main">{pageAllowed(pathname, me.role) ? children : <ForbiddenView />}</main>
    </div>
  );
}
