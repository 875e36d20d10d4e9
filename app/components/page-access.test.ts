import { describe, expect, it } from 'vitest';
import { pageAllowed } from './page-access';

describe('pageAllowed', () => {
  it('keeps admin pages to admins, at any depth', () => {
    for (const path of ['/admin', '/admin/users', '/admin/audit', '/admin/backups/x']) {
      expect(pageAllowed(path, 'admin'), path).toBe(true);
      for (const role of ['engineer', 'user', 'viewer'] as const) expect(pageAllowed(path, role), `${role} ${path}`).toBe(false);
    }
  });
  it('keeps fleet, training and evaluation pages from plain users only', () => {
    for (const path of ['/deployments', '/deployments/abc', '/gpus', '/jobs/new', '/experiments/1']) {
      expect(pageAllowed(path, 'user'), path).toBe(false);
      for (const role of ['admin', 'engineer', 'viewer'] as const) expect(pageAllowed(path, role), `${role} ${path}`).toBe(true);
    }
  });
  it('opens settings to everyone, and does not mistake a longer name for a prefix', () => {
    for (const path of ['/account', '/settings/keys', '/usage', '/leaderboard', '/administrators', '/jobsite']) {
      expect(pageAllowed(path, 'user'), path).toBe(true);
    }
  });
});
