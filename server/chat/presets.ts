import { and, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { groups, presets, users } from '../db/schema';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';
import { groupIdsOf } from '../security/groups/membership';
import { openText, sealText } from './sealed-text';

export interface PresetValues {
  name: string;
  systemPrompt: string;
  model: string | null;
  temperature: number | null;
  topP: number | null;
  maxTokens: number | null;
  contextPolicy: 'summarize' | 'trim' | 'turns';
  contextTurns: number | null;
  /** Groups whose members may start chats from it. */
  groupIds: string[];
}

export interface Preset extends PresetValues {
  id: string;
  /** The caller owns it (may edit, share and delete it). */
  mine: boolean;
  ownerName: string;
  updatedAt: Date;
}

/**
 * One user's presets: their own and those shared with a group they are in. Someone else's preset that is
 * not shared with them reads exactly like a missing one; a shared one can be used, not changed.
 */
export class Presets {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly user: { id: string; role: string },
  ) {}

  private async visibleWhere() {
    const mine = await groupIdsOf(this.db, this.user.id);
    const shared = mine.length ? sql`${presets.groupIds} && ARRAY[${sql.join(mine.map((g) => sql`${g}::uuid`), sql`, `)}]` : sql`false`;
    return or(eq(presets.ownerId, this.user.id), shared)!;
  }

  private async open(row: typeof presets.$inferSelect & { ownerName: string }): Promise<Preset> {
    const mine = row.ownerId === this.user.id;
    return {
      id: row.id,
      name: row.name,
      systemPrompt: await openText(this.db, this.masterKey, row.systemPromptEnc),
      model: row.model,
      temperature: row.temperature,
      topP: row.topP,
      maxTokens: row.maxTokens,
      contextPolicy: row.contextPolicy,
      contextTurns: row.contextTurns,
      // Who else it is shared with is the owner's business.
      groupIds: mine ? row.groupIds : [],
      mine,
      ownerName: row.ownerName,
      updatedAt: row.updatedAt,
    };
  }

  async list(): Promise<Preset[]> {
    const rows = await this.db
      .select({ p: presets, ownerName: users.name })
      .from(presets)
      .innerJoin(users, eq(users.id, presets.ownerId))
      .where(await this.visibleWhere())
      .orderBy(desc(presets.updatedAt));
    return Promise.all(rows.map((r) => this.open({ ...r.p, ownerName: r.ownerName })));
  }

  /** A preset the caller may use; NOT_FOUND otherwise. */
  async require(id: string): Promise<Preset> {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'Preset not found');
    const [row] = await this.db
      .select({ p: presets, ownerName: users.name })
      .from(presets)
      .innerJoin(users, eq(users.id, presets.ownerId))
      .where(and(eq(presets.id, id), await this.visibleWhere()));
    if (!row) throw new DomainError('NOT_FOUND', 'Preset not found');
    return this.open({ ...row.p, ownerName: row.ownerName });
  }

  /** Only to groups the caller is in (an admin: any group), and only groups that exist. */
  private async checkGroups(groupIds: string[]): Promise<void> {
    if (groupIds.length === 0) return;
    const found = await this.db.select({ id: groups.id }).from(groups).where(inArray(groups.id, groupIds));
    if (found.length !== new Set(groupIds).size) throw new DomainError('BAD_REQUEST', 'groupIds: a group does not exist');
    if (this.user.role === 'admin') return;
    const mine = new Set(await groupIdsOf(this.db, this.user.id));
    if (groupIds.some((g) => !mine.has(g))) throw new DomainError('FORBIDDEN', 'A preset can be shared only with groups you are in');
  }

  private async columns(values: PresetValues) {
    return {
      name: values.name,
      systemPromptEnc: await sealText(this.db, this.masterKey, values.systemPrompt, this.user.id),
      model: values.model,
      temperature: values.temperature,
      topP: values.topP,
      maxTokens: values.maxTokens,
      contextPolicy: values.contextPolicy,
      contextTurns: values.contextPolicy === 'turns' ? values.contextTurns : null,
      groupIds: [...new Set(values.groupIds)],
    };
  }

  async create(values: PresetValues): Promise<{ id: string }> {
    await this.checkGroups(values.groupIds);
    const [row] = await this.db
      .insert(presets)
      .values({ ownerId: this.user.id, ...(await this.columns(values)) })
      .returning({ id: presets.id });
    return row!;
  }

  private async requireOwn(id: string): Promise<void> {
    const preset = await this.require(id);
    if (!preset.mine) throw new DomainError('FORBIDDEN', 'Only its owner can change or delete this preset');
  }

  async update(id: string, values: PresetValues): Promise<void> {
    await this.requireOwn(id);
    await this.checkGroups(values.groupIds);
    await this.db
      .update(presets)
      .set({ ...(await this.columns(values)), updatedAt: new Date() })
      .where(and(eq(presets.id, id), eq(presets.ownerId, this.user.id)));
  }

  async delete(id: string): Promise<void> {
    await this.requireOwn(id);
    await this.db.delete(presets).where(and(eq(presets.id, id), eq(presets.ownerId, this.user.id)));
  }
}
