import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { kbChunks, kbChunkTerms, kbDocuments, knowledgeBases } from '../db/schema';
import { DomainError } from '../core/errors';
import { errorMessage, log } from '../core/log';
import { chunkSections } from './chunk';
import { classifyPassages, knowledgeBaseLevels } from './classification';
import { EMBED_BATCH, embedTexts } from './embed-client';
import { documentKind, ParseError, parseDocument } from './parse';
import { openBytes, openJson, sealBytes, sealJson, vectorBytes } from './sealed';
import { blindIndexKey, blindTermCounts } from './terms';

export interface IngestDeps {
  db: Db;
  masterKey: Buffer;
  gatewayUrl: string;
}

const PARSED_SHARE = 0.1;

async function setState(db: Db, documentId: string, values: Partial<typeof kbDocuments.$inferInsert>) {
  await db.update(kbDocuments).set({ ...values, updatedAt: new Date() }).where(eq(kbDocuments.id, documentId));
}

/** Parses the sealed upload into chunks, sealed, with their blind terms; replaces any chunks from before. */
async function parseInto(deps: IngestDeps, doc: typeof kbDocuments.$inferSelect, ownerId: string, kbId: string): Promise<number> {
  const bytes = await openBytes(deps.db, deps.masterKey, doc.sourceEnc!);
  const name = (await openBytes(deps.db, deps.masterKey, doc.nameEnc)).toString('utf8');
  const kind = documentKind(name, doc.mime);
  if (!kind) throw new ParseError('The document type is not one Enclave reads');
  const parsed = await parseDocument(kind, bytes);
  const chunks = chunkSections(parsed.sections);
  if (chunks.length === 0) throw new ParseError('No text was found in the document (a scanned PDF needs OCR first)');
  // Sensitive data raises the base's level before any passage of it can be found (types and counts only).
  // The sections the chunks were cut from, each heading once: chunks overlap, and a finding counts once.
  await classifyPassages(deps.db, ownerId, kbId, doc.id, [...parsed.sections.map((s) => s.text), ...new Set(parsed.sections.flatMap((s) => s.heading ?? []))]);
  const key = blindIndexKey(deps.masterKey);
  const rows = await Promise.all(
    chunks.map(async (c) => {
      const { counts, length } = blindTermCounts(key, [...c.heading, c.text].join('\n'));
      return {
        chunk: {
          documentId: doc.id,
          kbId,
          ordinal: c.ordinal,
          page: c.page,
          charStart: c.charStart,
          charEnd: c.charEnd,
          termCount: length,
          contentEnc: await sealJson(deps.db, deps.masterKey, ownerId, { text: c.text, heading: c.heading }),
        },
        terms: [...counts.values()],
      };
    }),
  );
  await deps.db.transaction(async (tx) => {
    await tx.delete(kbChunks).where(eq(kbChunks.documentId, doc.id));
    for (let i = 0; i < rows.length; i += 200) {
      const batch = rows.slice(i, i + 200);
      const ids = await tx.insert(kbChunks).values(batch.map((r) => r.chunk)).returning({ id: kbChunks.id });
      const terms = batch.flatMap((r, j) => r.terms.map((t) => ({ chunkId: ids[j]!.id, kbId, term: t.term, tf: t.tf })));
      for (let t = 0; t < terms.length; t += 2000) await tx.insert(kbChunkTerms).values(terms.slice(t, t + 2000));
    }
    await tx.update(kbDocuments).set({ pages: parsed.pages, chunkCount: rows.length, embeddedModel: null, updatedAt: new Date() }).where(eq(kbDocuments.id, doc.id));
  });
  return rows.length;
}

/** Embeds every chunk of the document with `model`, batch by batch, as the base's owner; progress written after each batch. */
async function embedAll(deps: IngestDeps, documentId: string, kbId: string, ownerId: string, model: string): Promise<void> {
  // The base's level, raised by what parsing found: an embedding deployment that may not receive it refuses the passages.
  const level = (await knowledgeBaseLevels(deps.db, [kbId])).get(kbId);
  const chunks = await deps.db.select({ id: kbChunks.id, contentEnc: kbChunks.contentEnc }).from(kbChunks).where(eq(kbChunks.documentId, documentId)).orderBy(asc(kbChunks.ordinal));
  for (let i = 0; i < chunks.length; i += EMBED_BATCH) {
    const batch = chunks.slice(i, i + EMBED_BATCH);
    const texts = await Promise.all(
      batch.map(async (c) => {
        const content = await openJson<{ text: string; heading: string[] }>(deps.db, deps.masterKey, c.contentEnc);
        return [content.heading.join(' › '), content.text].filter(Boolean).join('\n');
      }),
    );
    const vectors = await embedTexts(deps, ownerId, model, texts, undefined, level);
    const sealed = await Promise.all(vectors.map((v) => sealBytes(deps.db, deps.masterKey, ownerId, vectorBytes(v))));
    await deps.db.transaction(async (tx) => {
      for (const [j, c] of batch.entries()) await tx.update(kbChunks).set({ vectorEnc: sealed[j]! }).where(eq(kbChunks.id, c.id));
    });
    await setState(deps.db, documentId, { progress: PARSED_SHARE + ((1 - PARSED_SHARE) * Math.min(chunks.length, i + EMBED_BATCH)) / chunks.length });
  }
}

/**
 * One document's ingestion, the knowledge queue's job: parse and chunk (unless chunks exist and only the
 * embedding model changed), embed, mark ready. The document row holds status, progress and error; a
 * failure is written there in words the owner can act on. A base whose model changed during the run is
 * embedded again at once (the queue dedupes by document id, so the change's own enqueue was dropped).
 */
export async function ingestDocument(deps: IngestDeps, documentId: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const [row] = await deps.db
      .select({ doc: kbDocuments, ownerId: knowledgeBases.ownerId, model: knowledgeBases.embeddingModel })
      .from(kbDocuments)
      .innerJoin(knowledgeBases, eq(knowledgeBases.id, kbDocuments.kbId))
      .where(eq(kbDocuments.id, documentId));
    if (!row || !row.doc.sourceEnc) return; // Deleted meanwhile: nothing to do.
    if (row.doc.status === 'ready' && row.doc.embeddedModel === row.model) return;
    try {
      if (row.doc.chunkCount === 0) {
        await setState(deps.db, documentId, { status: 'parsing', progress: 0, error: null });
        await parseInto(deps, row.doc, row.ownerId, row.doc.kbId);
      }
      await setState(deps.db, documentId, { status: 'embedding', progress: PARSED_SHARE });
      await embedAll(deps, documentId, row.doc.kbId, row.ownerId, row.model);
      await setState(deps.db, documentId, { status: 'ready', progress: 1, embeddedModel: row.model });
    } catch (e) {
      const message = e instanceof ParseError || e instanceof DomainError ? e.message : 'The document could not be processed';
      if (!(e instanceof ParseError || e instanceof DomainError)) log.warn('knowledge ingestion failed', { documentId, error: errorMessage(e) });
      await setState(deps.db, documentId, { status: 'failed', error: message.slice(0, 500) });
      return;
    }
  }
}
