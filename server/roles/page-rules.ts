/**
 * Which roles may open which pages, as paths: the server's page guard (page-guard.ts) enforces it and
 * the settings/admin navigation (app/components/page-access.ts) shows exactly the links it allows. No
 * imports: the UI build reads this file too. Whatever is not listed is open to every signed-in user.
 */
type PageRole = 'admin' | 'engineer' | 'user' | 'viewer';

// Engineering pages (fleet, training, evaluation, alerts): engineers and admins act, viewers read, plain
// users only chat. The arena and its leaderboard are for everyone.
export const FLEET_PAGES = ['/models', '/deployments', '/gpus', '/alerts', '/datasets', '/jobs', '/loadtests', '/latency', '/experiments'] as const;

const RULES: { prefix: string; roles: readonly PageRole[] }[] = [
  { prefix: '/admin', roles: ['admin'] },
  ...FLEET_PAGES.map((prefix) => ({ prefix, roles: ['admin', 'engineer', 'viewer'] as const })),
];

export function under(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

export function pageAllowed(pathname: string, role: PageRole): boolean {
  const rule = RULES.find((r) => under(pathname, r.prefix));
  return !rule || rule.roles.includes(role);
}
