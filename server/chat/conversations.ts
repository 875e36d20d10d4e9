import { and, desc, eq, inArray, isNull, or } from 'drizzle-orm';
import type { Db } from '../db/client';
import { conversationKnowledge, conversations, legalHolds, messages } from '../db/schema';
import { decryptText } from '../security/encryption';
import type { Preset } from './presets';
import { openText, sealText } from './sealed-text';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';

/** A conversation's title until it has one: the UI shows its own localized "New conversation". */
export const DEFAULT_TITLE = '';
export const MAX_TITLE_LENGTH = 200;

export interface ConversationSummary {
  id: string;
  title: string;
  model: string | null;
  updatedAt: Date;
}

/** True when the conversation exists and belongs to the user; needs no key (used by the page guard). */
export async function conversationBelongsTo(db: Db, userId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const [row] = await db.select({ id: conversations.id }).from(conversations).where(and(eq(conversations.id, id), eq(conversations.userId, userId)));
  return Boolean(row);
}

/** The active legal hold on a user or on one of their conversations, if any (the conversation's own first). */
export async function activeHoldOn(db: Db, subject: { userId: string; conversationId?: string }): Promise<{ kind: string; reason: string } | undefined> {
  const rows = await db
    .select({ kind: legalHolds.subjectKind, reason: legalHolds.reason })
    .from(legalHolds)
    .where(
      and(
        isNull(legalHolds.liftedAt),
        subject.conversationId
          ? or(and(eq(legalHolds.subjectKind, 'conversation'), eq(legalHolds.subjectId, subject.conversationId)), and(eq(legalHolds.subjectKind, 'user'), eq(legalHolds.subjectId, subject.userId)))
          : and(eq(legalHolds.subjectKind, 'user'), eq(legalHolds.subjectId, subject.userId)),
      ),
    );
  return rows.find((r) => r.kind === 'conversation') ?? rows[0];
}

/** The title a conversation takes from its first message until the model (or its owner) names it. */
export function titleFromMessage(content: string): string {
  return cleanTitle(content).slice(0, 80);
}

function cleanTitle(title: string): string {
  const t = title.replace(/\s+/g, ' ').trim();
  return t.length > MAX_TITLE_LENGTH ? t.slice(0, MAX_TITLE_LENGTH - 1) + '…' : t;
}

/**
 * One user's conversations. The owner is fixed at construction and every query carries it, so no
 * method can reach another user's rows: someone else's id reads exactly like a missing one.
 */
export class Conversations {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly userId: string,
  ) {}

  private owned(id: string) {
    return and(eq(conversations.id, id), eq(conversations.userId, this.userId));
  }

  /** The row, or NOT_FOUND for a malformed, missing or someone else's id. */
  async require(id: string) {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'Conversation not found');
    const [row] = await this.db.select().from(conversations).where(this.owned(id));
    if (!row) throw new DomainError('NOT_FOUND', 'Conversation not found');
    return row;
  }

  /**
   * A new conversation; from a preset, its system prompt, model, top_p and context policy are copied in, and
   * its knowledge bases the caller can read are attached (later edits to the preset change nothing here).
   */
  async create({ title, model, preset }: { title?: string; model?: string | null; preset?: Preset }): Promise<{ id: string }> {
    const sealed = await this.seal(cleanTitle(title ?? DEFAULT_TITLE));
    const prompt = preset?.systemPrompt.trim();
    const [row] = await this.db
      .insert(conversations)
      .values({
        userId: this.userId,
        titleEnc: sealed,
        model: model ?? preset?.model ?? null,
        ...(preset
          ? {
              systemPromptEnc: prompt ? await this.seal(prompt) : null,
              topP: preset.topP,
              contextPolicy: preset.contextPolicy,
              contextTurns: preset.contextPolicy === 'turns' ? preset.contextTurns : null,
            }
          : {}),
      })
      .returning({ id: conversations.id });
    // The preset's knowledge bases, as the caller reads it: only those they can read (Presets.require filtered them).
    if (preset?.kbIds.length) await this.db.insert(conversationKnowledge).values(preset.kbIds.map((kbId) => ({ conversationId: row!.id, kbId }))).onConflictDoNothing();
    return row!;
  }

  /** The title column has no key id of its own: sealed as key id ‖ sealed text (sealed-text.ts). */
  private seal(title: string): Promise<Buffer> {
    return sealText(this.db, this.masterKey, title, this.userId);
  }

  async title(row: { titleEnc: Buffer }): Promise<string> {
    return openText(this.db, this.masterKey, row.titleEnc);
  }

  /** The conversation's system prompt, or '' when it has none. */
  async systemPrompt(row: { systemPromptEnc: Buffer | null }): Promise<string> {
    return row.systemPromptEnc ? openText(this.db, this.masterKey, row.systemPromptEnc) : '';
  }

  async setSystemPrompt(id: string, prompt: string): Promise<void> {
    await this.require(id);
    const clean = prompt.trim();
    await this.db
      .update(conversations)
      .set({ systemPromptEnc: clean ? await this.seal(clean) : null })
      .where(this.owned(id));
  }

  async rename(id: string, title: string): Promise<void> {
    await this.require(id);
    const clean = cleanTitle(title);
    if (!clean) throw new DomainError('BAD_REQUEST', 'The title cannot be empty');
    await this.db.update(conversations).set({ titleEnc: await this.seal(clean), updatedAt: new Date() }).where(this.owned(id));
  }

  async setContext(id: string, policy: 'summarize' | 'trim' | 'turns', turns: number | null): Promise<void> {
    await this.require(id);
    await this.db.update(conversations).set({ contextPolicy: policy, contextTurns: turns }).where(this.owned(id));
  }

  /** Refused while the conversation or its owner is under legal hold (the trigger of migration 0019 backs this). */
  async delete(id: string): Promise<void> {
    await this.require(id);
    const hold = await activeHoldOn(this.db, { userId: this.userId, conversationId: id });
    // The reason is not shown to the owner: a hold may concern a matter they are not to be told of.
    if (hold) throw new DomainError('CONFLICT', 'This conversation is under legal hold: it cannot be deleted until an administrator lifts the hold');
    await this.db.delete(conversations).where(this.owned(id));
  }

  /** Sets a title only if it is still `expected` (a rename by the owner in the meantime wins). */
  async retitle(id: string, expected: string, title: string): Promise<void> {
    const row = await this.require(id);
    if ((await this.title(row)) !== expected) return;
    await this.db
      .update(conversations)
      .set({ titleEnc: await this.seal(cleanTitle(title)) })
      .where(and(this.owned(id), eq(conversations.titleEnc, row.titleEnc)));
  }

  /** After a reply: newest first in the list, and a title from the first message if it has none. */
  async touch(id: string, { titleFrom, model }: { titleFrom?: string; model?: string } = {}): Promise<void> {
    const row = await this.require(id);
    const set: Partial<typeof conversations.$inferInsert> = { updatedAt: new Date() };
    if (model) set.model = model;
    if (titleFrom && (await this.title(row)) === DEFAULT_TITLE) set.titleEnc = await this.seal(titleFromMessage(titleFrom));
    await this.db.update(conversations).set(set).where(this.owned(id));
  }

  /**
   * Newest first. Search matches titles and message text case-insensitively; it runs here, after
   * decryption, because the database only ever holds ciphertext.
   */
  async list({ search }: { search?: string } = {}): Promise<ConversationSummary[]> {
    const rows = await this.db.select().from(conversations).where(eq(conversations.userId, this.userId)).orderBy(desc(conversations.updatedAt));
    const summaries = await Promise.all(rows.map(async (r) => ({ id: r.id, title: await this.title(r), model: r.model, updatedAt: r.updatedAt })));
    const needle = search?.trim().toLocaleLowerCase();
    if (!needle) return summaries;
    const byTitle = new Set(summaries.filter((s) => s.title.toLocaleLowerCase().includes(needle)).map((s) => s.id));
    const rest = summaries.filter((s) => !byTitle.has(s.id)).map((s) => s.id);
    if (rest.length) {
      const msgs = await this.db
        .select({ conversationId: messages.conversationId, contentEnc: messages.contentEnc, dataKeyId: messages.dataKeyId })
        .from(messages)
        .where(inArray(messages.conversationId, rest));
      for (const m of msgs) {
        if (byTitle.has(m.conversationId)) continue;
        const text = await decryptText(this.db, this.masterKey, m.contentEnc, m.dataKeyId);
        if (text.toLocaleLowerCase().includes(needle)) byTitle.add(m.conversationId);
      }
    }
    return summaries.filter((s) => byTitle.has(s.id));
  }
}
