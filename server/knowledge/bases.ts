import { and, asc, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { dataClassifications, groups, kbChunks, kbDocuments, knowledgeBases, users } from '../db/schema';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';
import { groupIdsOf } from '../security/groups/membership';
import { documentKind, DOCUMENT_KINDS } from './parse';
import { openBytes, openJson, sealBytes } from './sealed';
import { forgetVectors } from './vector-index';

/** The largest document accepted (bytes): parsing holds it whole, as a PDF reader must. */
export const MAX_DOCUMENT_BYTES = 20 * 1024 * 1024;

export interface KnowledgeBaseValues {
  name: string;
  embeddingModel: string;
  groupIds: string[];
}

export interface KnowledgeBase extends KnowledgeBaseValues {
  id: string;
  mine: boolean;
  /** For someone other than the owner: the names of their own groups the base is shared with (the owner reads groupIds). */
  sharedVia: string[];
  ownerName: string;
  documents: number;
  ready: number;
  updatedAt: Date;
}

export interface KbDocument {
  id: string;
  kbId: string;
  name: string;
  mime: string;
  size: number;
  status: string;
  progress: number;
  error: string | null;
  pages: number | null;
  chunkCount: number;
  updatedAt: Date;
}

export interface Passage {
  chunkId: string;
  documentId: string;
  documentName: string;
  kbId: string;
  page: number | null;
  heading: string[];
  text: string;
}

/** Where newly queued documents are handed to the background (the knowledge queue; a test may run them inline). */
export type QueueDocument = (documentId: string) => Promise<void>;

/**
 * One user's knowledge bases: their own and those shared with a group they are in. Another user's base
 * not shared with them reads exactly like a missing one (by id, in lists, in retrieval); a shared one
 * can be read and searched, only its owner changes it.
 */
export class KnowledgeBases {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly user: { id: string; role: string },
    private readonly queueDocument: QueueDocument,
  ) {}

  private async visibleWhere() {
    const mine = await groupIdsOf(this.db, this.user.id);
    const shared = mine.length ? sql`${knowledgeBases.groupIds} && ARRAY[${sql.join(mine.map((g) => sql`${g}::uuid`), sql`, `)}]` : sql`false`;
    return or(eq(knowledgeBases.ownerId, this.user.id), shared)!;
  }

  /** The ids among `ids` the caller may search (unknown and invisible ones dropped). */
  async visibleIds(ids: string[]): Promise<string[]> {
    return (await this.readable(ids)).map((r) => r.id);
  }

  /** The bases among `ids` the caller may read, with their names, in the order given (unknown and invisible ones dropped). */
  async readable(ids: string[]): Promise<{ id: string; name: string }[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    if (valid.length === 0) return [];
    const rows = await this.db.select({ id: knowledgeBases.id, name: knowledgeBases.name }).from(knowledgeBases).where(and(inArray(knowledgeBases.id, valid), await this.visibleWhere()));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return valid.flatMap((id) => byId.get(id) ?? []);
  }

  async list(): Promise<KnowledgeBase[]> {
    const rows = await this.db
      .select({
        kb: knowledgeBases,
        ownerName: users.name,
        documents: sql<number>`(SELECT count(*)::int FROM kb_documents d WHERE d.kb_id = ${knowledgeBases.id})`,
        ready: sql<number>`(SELECT count(*)::int FROM kb_documents d WHERE d.kb_id = ${knowledgeBases.id} AND d.status = 'ready')`,
      })
      .from(knowledgeBases)
      .innerJoin(users, eq(users.id, knowledgeBases.ownerId))
      .where(await this.visibleWhere())
      .orderBy(desc(knowledgeBases.updatedAt));
    const groupNames = await this.myGroupNames();
    return rows.map((r) => this.view(r.kb, r.ownerName, r.documents, r.ready, groupNames));
  }

  /** The caller's own groups by id, with their names (what "shared with" may show someone who is not the owner). */
  private async myGroupNames(): Promise<Map<string, string>> {
    const mine = await groupIdsOf(this.db, this.user.id);
    if (mine.length === 0) return new Map();
    const rows = await this.db.select({ id: groups.id, name: groups.name }).from(groups).where(inArray(groups.id, mine));
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  private view(kb: typeof knowledgeBases.$inferSelect, ownerName: string, documents: number, ready: number, myGroups: Map<string, string>): KnowledgeBase {
    const mine = kb.ownerId === this.user.id;
    // Who else it is shared with is the owner's business: anyone else sees only their own groups it reached them through.
    const sharedVia = mine ? [] : kb.groupIds.flatMap((g) => myGroups.get(g) ?? []).sort();
    return { id: kb.id, name: kb.name, embeddingModel: kb.embeddingModel, groupIds: mine ? kb.groupIds : [], sharedVia, mine, ownerName, documents, ready, updatedAt: kb.updatedAt };
  }

  /** A base the caller may read; NOT_FOUND otherwise. */
  async require(id: string): Promise<typeof knowledgeBases.$inferSelect> {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'Knowledge base not found');
    const [row] = await this.db.select().from(knowledgeBases).where(and(eq(knowledgeBases.id, id), await this.visibleWhere()));
    if (!row) throw new DomainError('NOT_FOUND', 'Knowledge base not found');
    return row;
  }

  async get(id: string): Promise<KnowledgeBase> {
    const kb = await this.require(id);
    const [owner] = await this.db.select({ name: users.name }).from(users).where(eq(users.id, kb.ownerId));
    const [counts] = await this.db
      .select({ documents: sql<number>`count(*)::int`, ready: sql<number>`count(*) FILTER (WHERE ${kbDocuments.status} = 'ready')::int` })
      .from(kbDocuments)
      .where(eq(kbDocuments.kbId, id));
    return this.view(kb, owner?.name ?? '', counts?.documents ?? 0, counts?.ready ?? 0, await this.myGroupNames());
  }

  /** A base the caller owns; a shared one is FORBIDDEN, an invisible one NOT_FOUND. */
  private async requireOwned(id: string) {
    const kb = await this.require(id);
    if (kb.ownerId !== this.user.id) throw new DomainError('FORBIDDEN', 'Only its owner can change a knowledge base');
    return kb;
  }

  /** Only to groups the caller is in (an admin: any group), and only groups that exist. */
  private async checkGroups(groupIds: string[]): Promise<void> {
    if (groupIds.length === 0) return;
    const found = await this.db.select({ id: groups.id }).from(groups).where(inArray(groups.id, groupIds));
    if (found.length !== new Set(groupIds).size) throw new DomainError('BAD_REQUEST', 'groupIds: a group does not exist');
    if (this.user.role === 'admin') return;
    const mine = new Set(await groupIdsOf(this.db, this.user.id));
    if (groupIds.some((g) => !mine.has(g))) throw new DomainError('FORBIDDEN', 'A knowledge base can be shared only with groups you are in');
  }

  async create(values: KnowledgeBaseValues): Promise<{ id: string }> {
    await this.checkGroups(values.groupIds);
    const [row] = await this.db
      .insert(knowledgeBases)
      .values({ ownerId: this.user.id, name: values.name, embeddingModel: values.embeddingModel, groupIds: [...new Set(values.groupIds)] })
      .returning({ id: knowledgeBases.id });
    return row!;
  }

  /** Changes name, sharing or embedding model; a new model queues every document to be embedded again. */
  async update(id: string, values: KnowledgeBaseValues): Promise<{ reembedding: number }> {
    const kb = await this.requireOwned(id);
    await this.checkGroups(values.groupIds);
    const modelChanged = kb.embeddingModel !== values.embeddingModel;
    const queued = await this.db.transaction(async (tx) => {
      await tx
        .update(knowledgeBases)
        .set({ name: values.name, embeddingModel: values.embeddingModel, groupIds: [...new Set(values.groupIds)], updatedAt: new Date() })
        .where(eq(knowledgeBases.id, id));
      if (!modelChanged) return [];
      // Old vectors stay until each document's new ones replace them; the text and full-text index stay valid.
      return tx
        .update(kbDocuments)
        .set({ status: 'queued', progress: 0, error: null, updatedAt: new Date() })
        .where(and(eq(kbDocuments.kbId, id), sql`${kbDocuments.sourceEnc} IS NOT NULL`))
        .returning({ id: kbDocuments.id });
    });
    if (modelChanged) forgetVectors(id);
    for (const d of queued) await this.queueDocument(d.id);
    return { reembedding: queued.length };
  }

  async delete(id: string): Promise<void> {
    await this.requireOwned(id);
    await this.db.transaction(async (tx) => {
      await tx.delete(knowledgeBases).where(eq(knowledgeBases.id, id));
      // Its level has no foreign key (data_classifications serves every kind of subject): removed with it.
      await tx.delete(dataClassifications).where(and(eq(dataClassifications.subjectKind, 'knowledge_base'), eq(dataClassifications.subjectId, id)));
    });
    forgetVectors(id);
  }

  async documents(kbId: string): Promise<KbDocument[]> {
    await this.require(kbId);
    const rows = await this.db.select().from(kbDocuments).where(eq(kbDocuments.kbId, kbId)).orderBy(asc(kbDocuments.createdAt));
    return Promise.all(rows.map((r) => this.documentView(r)));
  }

  private async documentView(r: typeof kbDocuments.$inferSelect): Promise<KbDocument> {
    return {
      id: r.id,
      kbId: r.kbId,
      name: (await openBytes(this.db, this.masterKey, r.nameEnc)).toString('utf8'),
      mime: r.mime,
      size: r.size,
      status: r.status,
      progress: r.progress,
      error: r.error,
      pages: r.pages,
      chunkCount: r.chunkCount,
      updatedAt: r.updatedAt,
    };
  }

  async document(documentId: string): Promise<KbDocument> {
    const row = await this.requireDocument(documentId);
    return this.documentView(row);
  }

  private async requireDocument(documentId: string) {
    if (!isUuid(documentId)) throw new DomainError('NOT_FOUND', 'Document not found');
    const [row] = await this.db.select().from(kbDocuments).where(eq(kbDocuments.id, documentId));
    if (!row || !(await this.visibleIds([row.kbId])).length) throw new DomainError('NOT_FOUND', 'Document not found');
    return row;
  }

  /** Stores an upload sealed and queues it for parsing and embedding; a type we cannot read is refused up front. */
  async addDocument(kbId: string, file: { name: string; mime?: string; bytes: Buffer }): Promise<{ id: string }> {
    const kb = await this.requireOwned(kbId);
    const name = file.name.trim();
    if (!name || name.length > 255) throw new DomainError('BAD_REQUEST', 'name: give the document a name of at most 255 characters');
    const kind = documentKind(name, file.mime);
    if (!kind) throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'Upload a PDF, DOCX, Markdown (.md), HTML (.html) or plain text (.txt) file');
    if (file.bytes.length === 0) throw new DomainError('BAD_REQUEST', 'The file is empty');
    if (file.bytes.length > MAX_DOCUMENT_BYTES) throw new DomainError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${MAX_DOCUMENT_BYTES} bytes`);
    const [row] = await this.db
      .insert(kbDocuments)
      .values({
        kbId: kb.id,
        nameEnc: await sealBytes(this.db, this.masterKey, kb.ownerId, Buffer.from(name)),
        mime: DOCUMENT_KINDS[kind],
        size: file.bytes.length,
        sourceEnc: await sealBytes(this.db, this.masterKey, kb.ownerId, file.bytes),
      })
      .returning({ id: kbDocuments.id });
    await this.db.update(knowledgeBases).set({ updatedAt: new Date() }).where(eq(knowledgeBases.id, kb.id));
    await this.queueDocument(row!.id);
    return row!;
  }

  /** Deletes the document with its chunks, vectors and terms (the foreign keys cascade). */
  async deleteDocument(documentId: string): Promise<void> {
    const row = await this.requireDocument(documentId);
    await this.requireOwned(row.kbId);
    await this.db.delete(kbDocuments).where(eq(kbDocuments.id, documentId));
    forgetVectors(row.kbId);
  }

  /** One passage, for a citation clicked in the chat. */
  async passage(chunkId: string): Promise<Passage> {
    if (!isUuid(chunkId)) throw new DomainError('NOT_FOUND', 'Passage not found');
    const [row] = await this.db
      .select({ c: kbChunks, nameEnc: kbDocuments.nameEnc })
      .from(kbChunks)
      .innerJoin(kbDocuments, eq(kbDocuments.id, kbChunks.documentId))
      .where(eq(kbChunks.id, chunkId));
    if (!row || !(await this.visibleIds([row.c.kbId])).length) throw new DomainError('NOT_FOUND', 'Passage not found');
    const content = await openJson<{ text: string; heading: string[] }>(this.db, this.masterKey, row.c.contentEnc);
    return {
      chunkId: row.c.id,
      documentId: row.c.documentId,
      documentName: (await openBytes(this.db, this.masterKey, row.nameEnc)).toString('utf8'),
      kbId: row.c.kbId,
      page: row.c.page,
      heading: content.heading,
      text: content.text,
    };
  }
}
