import { z } from 'zod';
import { EXTERNAL_GROUP_SOURCES } from '../../db/schema';
import { addMember, createGroup, groupMembersOf, groupsOfUser, listGroups, removeGroup, removeMember, setGrant, setLink, updateGroup } from '../../security/groups/admin';
import { authedProcedure, roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');
const id = z.uuid();
// Names are what admins and the usage page show; printable, no edge spaces.
const name = z
  .string()
  .trim()
  .min(1, 'a group needs a name')
  .max(64, 'at most 64 characters')
  .regex(/^[^\p{Cc}]+$/u, 'no control characters');
const description = z.string().max(500, 'at most 500 characters');

/**
 * Groups (server/security/groups): members added here ('local') or synced from LDAP / OIDC through
 * links; a deployment granted to groups is usable only by their members; a group's quota is a pool its
 * members share (quotas router). Every change is audited by the mutation guard, in its transaction.
 */
export const groupsRouter = router({
  list: admin.query(({ ctx }) => listGroups(ctx.db)),
  members: admin.input(z.strictObject({ id })).query(({ ctx, input }) => groupMembersOf(ctx.db, input.id)),
  /** The caller's own groups (the account page). */
  mine: authedProcedure.query(({ ctx }) => groupsOfUser(ctx.db, ctx.user.id)),
  create: admin.input(z.strictObject({ name, description: description.optional() })).mutation(({ ctx, input }) => createGroup(ctx.db, input)),
  update: admin.input(z.strictObject({ id, name: name.optional(), description: description.optional() })).mutation(({ ctx, input }) => updateGroup(ctx.db, input)),
  remove: admin.input(z.strictObject({ id })).mutation(({ ctx, input }) => removeGroup(ctx.db, input.id)),
  addMember: admin.input(z.strictObject({ groupId: id, userId: id })).mutation(({ ctx, input }) => addMember(ctx.db, input.groupId, input.userId)),
  removeMember: admin.input(z.strictObject({ groupId: id, userId: id })).mutation(({ ctx, input }) => removeMember(ctx.db, input.groupId, input.userId)),
  /** present: add the link, else remove it. external: an LDAP group DN, or an OIDC group claim value. */
  setLink: admin
    .input(z.strictObject({ groupId: id, source: z.enum(EXTERNAL_GROUP_SOURCES), external: z.string().trim().min(1, 'name the directory group or claim value').max(1000), present: z.boolean() }))
    .mutation(({ ctx, input }) => setLink(ctx.db, input)),
  /** granted: grant the deployment to the group, else take it back. */
  setGrant: admin.input(z.strictObject({ groupId: id, deploymentId: id, granted: z.boolean() })).mutation(({ ctx, input }) => setGrant(ctx.db, input)),
});
