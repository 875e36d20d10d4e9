import { and, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { groups, presetKnowledge, presets, users } from '../db/schema';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';
import { groupIdsOf } from '../security/groups/membership';
import { KnowledgeBases, type QueueDocument } from '../knowledge/bases';
import { openText, sealText } from './sealed-text';

/** The most knowledge bases one preset attaches (a chat's retrieval searches each of them on every turn). */
export const MAX_PRESET_KNOWLEDGE = 20;

/** Presets only read knowledge bases (who may read which): nothing is ever queued through them. */
const readOnly: QueueDocument = async () => {
  throw new Error('presets do not queue knowledge documents');
};

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
  /** Knowledge bases attached to each conversation started from it (those its starter can read). */
  kbIds: string[];
}

export interface Preset extends PresetValues {
  id: string;
  /** The caller owns it (may edit, share and delete it). */
  mine: boolean;
  ownerName: string;
  updatedAt: Date;
  /** Its knowledge bases the caller can read, with their names (kbIds holds the same ids). */
  knowledge: { id: string; name: string }[];
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

  private get bases() {
    return new KnowledgeBases(this.db, this.masterKey, this.user, readOnly);
  }

  /**
   * Each preset's knowledge bases that the caller can read. A base of a shared preset that a member cannot
   * read is left out for them (in what they see, and in what a chat they start attaches) as if it were not there.
   */
  private async knowledgeOf(presetIds: string[]): Promise<Map<string, { id: string; name: string }[]>> {
    const out = new Map<string, { id: string; name: string }[]>(presetIds.map((id) => [id, []]));
    if (presetIds.length === 0) return out;
    const rows = await this.db
      .select({ presetId: presetKnowledge.presetId, kbId: presetKnowledge.kbId })
      .from(presetKnowledge)
      .where(inArray(presetKnowledge.presetId, presetIds))
      .orderBy(presetKnowledge.createdAt, presetKnowledge.kbId);
    const readable = new Map((await this.bases.readable(rows.map((r) => r.kbId))).map((kb) => [kb.id, kb]));
    for (const r of rows) {
      const kb = readable.get(r.kbId);
      if (kb) out.get(r.presetId)!.push(kb);
    }
    return out;
  }

  private async open(row: typeof presets.$inferSelect & { ownerName: string }, knowledge: { id: string; name: string }[]): Promise<Preset> {
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
      kbIds: knowledge.map((k) => k.id),
      knowledge,
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
    const knowledge = await this.knowledgeOf(rows.map((r) => r.p.id));
    return Promise.all(rows.map((r) => this.open({ ...r.p, ownerName: r.ownerName }, knowledge.get(r.p.id)!)));
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
    return this.open({ ...row.p, ownerName: row.ownerName }, (await this.knowledgeOf([row.p.id])).get(row.p.id)!);
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

  /** Only knowledge bases the owner can read (their own, or shared with a group they are in); the ids, deduplicated, in order. */
  private async checkKnowledge(kbIds: string[]): Promise<string[]> {
    const wanted = [...new Set(kbIds)];
    if (wanted.length > MAX_PRESET_KNOWLEDGE) throw new DomainError('BAD_REQUEST', `kbIds: at most ${MAX_PRESET_KNOWLEDGE} knowledge bases`);
    const readable = new Set(await this.bases.visibleIds(wanted));
    // A base that does not exist and one the caller may not read answer alike (as knowledge.get does).
    if (wanted.some((id) => !readable.has(id))) throw new DomainError('BAD_REQUEST', 'kbIds: a knowledge base does not exist or you cannot read it');
    return wanted;
  }

  /** The preset's knowledge bases become exactly `kbIds` (checked already). */
  private async setKnowledge(presetId: string, kbIds: string[]): Promise<void> {
    await this.db.delete(presetKnowledge).where(eq(presetKnowledge.presetId, presetId));
    // created_at keeps the order they were given in (one statement's now() is the same for every row).
    const start = Date.now();
    if (kbIds.length) await this.db.insert(presetKnowledge).values(kbIds.map((kbId, i) => ({ presetId, kbId, createdAt: new Date(start + i) })));
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
    const kbIds = await this.checkKnowledge(values.kbIds);
    const columns = await this.columns(values);
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(presets)
        .values({ ownerId: this.user.id, ...columns })
        .returning({ id: presets.id });
      await new Presets(tx as unknown as Db, this.masterKey, this.user).setKnowledge(row!.id, kbIds);
      return row!;
    });
  }

  private async requireOwn(id: string): Promise<void> {
    const preset = await this.require(id);
    if (!preset.mine) throw new DomainError('FORBIDDEN', 'Only its owner can change or delete this preset');
  }

  async update(id: string, values: PresetValues): Promise<void> {
    await this.requireOwn(id);
    await this.checkGroups(values.groupIds);
    const kbIds = await this.checkKnowledge(values.kbIds);
    const columns = await this.columns(values);
    await this.db.transaction(async (tx) => {
      await tx
        .update(presets)
        .set({ ...columns, updatedAt: new Date() })
        .where(and(eq(presets.id, id), eq(presets.ownerId, this.user.id)));
      await new Presets(tx as unknown as Db, this.masterKey, this.user).setKnowledge(id, kbIds);
    });
  }

  async delete(id: string): Promise<void> {
    await this.requireOwn(id);
    await this.db.delete(presets).where(and(eq(presets.id, id), eq(presets.ownerId, this.user.id)));
  }
}
