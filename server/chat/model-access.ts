import type { Role } from '../db/schema';

/** Who is asking: a role, and the groups a deployment's grants are checked against. */
export interface ModelUser {
  role: Role;
  groups: readonly string[];
}

/** The gateway's rule (gateway/routing-table.ts mayUse), for the lists the UI shows: role allowed, and a member of a granted group when there are grants. */
export function userMayUse(allowedRoles: string[] | null, grantedTo: readonly string[] | undefined, user: ModelUser): boolean {
  if (allowedRoles !== null && !allowedRoles.includes(user.role)) return false;
  return !grantedTo || grantedTo.length === 0 || grantedTo.some((g) => user.groups.includes(g));
}
