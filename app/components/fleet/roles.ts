import type { Role } from '../../lib/trpc';

/** Who may change the fleet. The server refuses everyone else anyway; the UI just hides what they cannot use. */
export function canManageFleet(role: Role): boolean {
  return role === 'admin' || role === 'engineer';
}

/** Who sees the fleet pages at all (users only chat). */
export function canSeeFleet(role: Role): boolean {
  return role === 'admin' || role === 'engineer' || role === 'viewer';
}
