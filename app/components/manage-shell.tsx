'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';
import { useI18n } from '../i18n/provider';
import { Brand } from './brand';
import { SessionProvider, useSession } from './session';
import { UserMenu } from './user-menu';

/** The frame around settings and admin pages: a side navigation and the page. */
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
  const link = (href: string, label: string, testId: string) => (
    <Link href={href} className={`nav-link${pathname === href || pathname.startsWith(`${href}/`) ? ' active' : ''}`} data-testid={testId}>
      {label}
    </Link>
  );
  return (
    <div className="app-shell manage-shell">
      <aside className="sidebar">
        <div className="sidebar-top">
          <Brand />
          <a href="/" className="button button-block">
            ← {t('nav.backToChat')}
          </a>
          <nav className="manage-nav">
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
      <main className="manage-main">{children}</main>
    </div>
  );
}
