import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { kbChunks, kbDocuments, knowledgeBases } from '../db/schema';
import { errorMessage, log } from '../core/log';
import { dataKeyForOpening, dataKeyForSealing } from '../security/encryption';
import { AnnIndex } from './ann-index';
import { bytesVector, openBytes } from './sealed';

/**
 * The vectors of each knowledge base in an approximate nearest-neighbour index (IVF, ann-index.ts), one
 * per base and embedding model, kept in sync with PostgreSQL (the truth) document by document:
 *
 * - A chunk's key is its document's serial × 2^20 + its ordinal, so a removed or re-embedded document's
 *   keys follow from its serial and chunk count, and a key leads back to its row.
 * - Every search compares a stamp of the base's documents (newest change, count); when it moved, the
 *   documents ready under the model are listed and compared with those indexed: the gone and the changed
 *   are removed, the new added. A worker's new vectors are so seen by every web process.
 * - With a directory configured (configureVectorIndex: `<data dir>/knowledge-index`, beside the artifact
 *   directory), the index is written there sealed under the owner's data key after it changed, and read
 *   back at the next start instead of being rebuilt; a missing, stale, corrupt or foreign file is rebuilt
 *   from PostgreSQL. Decrypted vectors never touch the disk (see AnnIndex.saveSealed).
 */
const KEY_SPACE = 2 ** 20;

interface IndexedDoc {
  id: string;
  count: number;
  updated: string;
}

type Manifest = {
  dims: number;
  kbId: string;
  model: string;
  docs: Record<string, IndexedDoc>;
};

interface Entry {
  /** The database and key it was made with: a delayed write uses them. */
  db: Db;
  masterKey: Buffer;
  kbId: string;
  model: string;
  ownerId: string | null;
  index: AnnIndex | null;
  /** Indexed documents by serial. */
  docs: Map<number, IndexedDoc>;
  stamp: string | null;
  syncing: Promise<void> | null;
  saving: Promise<void> | null;
  saveTimer: NodeJS.Timeout | null;
}

const entries = new Map<string, Entry>();
let directory: string | null = null;
/** How long after the last change the index is written (changes come in bursts, a batch per document). */
let persistDelayMs = 2000;

/** Where indexes are persisted (null: memory only, as in most tests); `delayMs` for tests. */
export function configureVectorIndex(options: { dir: string | null; persistDelayMs?: number }): void {
  directory = options.dir;
  if (options.persistDelayMs !== undefined) persistDelayMs = options.persistDelayMs;
}

const modelTag = (model: string) => createHash('sha256').update(model).digest('hex').slice(0, 16);
const fileOf = (dir: string, kbId: string, model: string) => path.join(dir, kbId, `${modelTag(model)}.ivf`);

/** Drops a base's index from memory and disk (the base was deleted, or its model changed). */
export function forgetVectors(kbId: string): void {
  const entry = entries.get(kbId);
  if (entry?.saveTimer) clearTimeout(entry.saveTimer);
  entries.delete(kbId);
  if (directory) void rm(path.join(directory, kbId), { recursive: true, force: true }).catch(() => undefined);
}

/** Drops every index from memory only, as a restart does (tests). */
export function forgetVectorsInMemory(): void {
  for (const entry of entries.values()) if (entry.saveTimer) clearTimeout(entry.saveTimer);
  entries.clear();
}

/** Waits for pending writes of indexes (tests, shutdown). */
export async function flushVectorIndex(): Promise<void> {
  for (const entry of entries.values()) {
    if (entry.saveTimer) {
      clearTimeout(entry.saveTimer);
      entry.saveTimer = null;
      entry.saving ??= persist(entry);
    }
  }
  await Promise.all([...entries.values()].map((e) => e.saving));
}

async function stampOf(db: Db, kbId: string): Promise<string> {
  const [row] = await db
    .select({ newest: sql<string>`coalesce(max(${kbDocuments.updatedAt})::text, '')`, count: sql<number>`count(*)::int` })
    .from(kbDocuments)
    .where(eq(kbDocuments.kbId, kbId));
  return `${row?.newest}|${row?.count}`;
}

const keysOf = (serial: number, count: number) => Array.from({ length: Math.min(count, KEY_SPACE) }, (_, i) => serial * KEY_SPACE + i);

async function readPersisted(db: Db, masterKey: Buffer, entry: Entry): Promise<void> {
  if (!directory) return;
  const file = fileOf(directory, entry.kbId, entry.model);
  try {
    const { index, manifest } = await AnnIndex.loadSealed(file, (id) => dataKeyForOpening(db, masterKey, id));
    const m = manifest as Manifest;
    // A file of another base or model (copied, or a hash collision) is not this one's.
    if (m.kbId !== entry.kbId || m.model !== entry.model || typeof m.docs !== 'object') throw new Error('the file belongs to another base or model');
    entry.index = index;
    entry.docs = new Map(Object.entries(m.docs).map(([serial, doc]) => [Number(serial), doc]));
    log.info('knowledge: vector index read', { kbId: entry.kbId, vectors: index.size });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    log.warn('knowledge: the saved vector index could not be used; rebuilding it from the database', { kbId: entry.kbId, error: errorMessage(e) });
  }
}

async function persist(entry: Entry): Promise<void> {
  entry.saveTimer = null;
  const { db, masterKey } = entry;
  try {
    if (!directory || !entry.index || entries.get(entry.kbId) !== entry) return;
    const manifest: Manifest = { dims: entry.index.dims, kbId: entry.kbId, model: entry.model, docs: Object.fromEntries(entry.docs) };
    const bytes = await entry.index.saveSealed(fileOf(directory, entry.kbId, entry.model), manifest, await dataKeyForSealing(db, masterKey, entry.ownerId));
    log.info('knowledge: vector index saved', { kbId: entry.kbId, vectors: entry.index.size, bytes });
  } catch (e) {
    log.warn('knowledge: saving the vector index failed (it is rebuilt from the database when needed)', { kbId: entry.kbId, error: errorMessage(e) });
  } finally {
    entry.saving = null;
  }
}
function schedulePersist(entry: Entry): void {
  if (!directory) return;
  if (entry.saveTimer) clearTimeout(entry.saveTimer);
  entry.saveTimer = setTimeout(() => {
    // One write at a time; a change during a write schedules the next.
    if (entry.saving) return schedulePersist(entry);
    entry.saving = persist(entry);
  }, persistDelayMs);
  entry.saveTimer.unref();
}

/** Brings the entry to the documents ready under its model now; `stamp` is what they were stamped as before listing. */
async function sync(db: Db, masterKey: Buffer, entry: Entry, stamp: string): Promise<void> {
  const ready = await db
    .select({ id: kbDocuments.id, serial: kbDocuments.serial, count: kbDocuments.chunkCount, updated: sql<string>`${kbDocuments.updatedAt}::text` })
    .from(kbDocuments)
    .where(and(eq(kbDocuments.kbId, entry.kbId), eq(kbDocuments.status, 'ready'), eq(kbDocuments.embeddedModel, entry.model)));
  const now = new Map(ready.map((d) => [d.serial, { id: d.id, count: d.count, updated: d.updated }]));
  let changed = false;
  for (const [serial, doc] of entry.docs) {
    const current = now.get(serial);
    if (current && current.updated === doc.updated) continue;
    entry.index?.remove(keysOf(serial, doc.count));
    entry.docs.delete(serial);
    changed = true;
  }
  for (const [serial, doc] of now) {
    if (entry.docs.has(serial)) continue;
    const rows = await db
      .select({ ordinal: kbChunks.ordinal, vector: kbChunks.vectorEnc })
      .from(kbChunks)
      .where(and(eq(kbChunks.documentId, doc.id), sql`${kbChunks.vectorEnc} is not null`));
    const vectors = await Promise.all(rows.map(async (r) => bytesVector(await openBytes(db, masterKey, r.vector!))));
    const dims = entry.index?.dims ?? vectors[0]?.length ?? 0;
    const usable = rows.flatMap((r, i) => (vectors[i]!.length === dims && dims > 0 && r.ordinal < KEY_SPACE ? [{ key: serial * KEY_SPACE + r.ordinal, v: vectors[i]! }] : []));
    if (usable.length < rows.length) log.warn('knowledge: chunks left out of the vector index (other dimensions, or past 2^20 per document)', { kbId: entry.kbId, left: rows.length - usable.length });
    if (usable.length > 0) {
      entry.index ??= AnnIndex.create(dims);
      const matrix = new Float32Array(usable.length * dims);
      usable.forEach((u, i) => matrix.set(u.v, i * dims));
      entry.index.add(
        usable.map((u) => u.key),
        matrix,
      );
    }
    entry.docs.set(serial, doc);
    changed = true;
  }
  entry.stamp = stamp;
  if (changed) schedulePersist(entry);
}

async function entryFor(db: Db, masterKey: Buffer, kb: { id: string; embeddingModel: string }): Promise<Entry> {
  let entry = entries.get(kb.id);
  if (entry && entry.model !== kb.embeddingModel) {
    if (entry.saveTimer) clearTimeout(entry.saveTimer);
    entry = undefined;
  }
  if (!entry) {
    // Made and registered before any await: concurrent first searches share it (and its one sync).
    const made: Entry = { db, masterKey, kbId: kb.id, model: kb.embeddingModel, ownerId: null, index: null, docs: new Map(), stamp: null, syncing: null, saving: null, saveTimer: null };
    entry = made;
    entries.set(kb.id, made);
    made.syncing = (async () => {
      const [owner] = await db.select({ ownerId: knowledgeBases.ownerId }).from(knowledgeBases).where(eq(knowledgeBases.id, kb.id));
      made.ownerId = owner?.ownerId ?? null;
      await readPersisted(db, masterKey, made);
    })().finally(() => (made.syncing = null));
  }
  const stamp = await stampOf(db, kb.id);
  // One sync at a time per base; a caller whose stamp is newer than the one synced runs another.
  while (entry.stamp !== stamp) {
    const e: Entry = entry;
    e.syncing ??= sync(db, masterKey, e, stamp).finally(() => (e.syncing = null));
    await e.syncing;
    if (entries.get(kb.id) !== e) break;
  }
  return entry;
}

/** The k chunks of a base nearest to `query` (cosine), best first. */
export async function nearestChunks(db: Db, masterKey: Buffer, kb: { id: string; embeddingModel: string }, query: Float32Array, k: number): Promise<{ chunkId: string; score: number }[]> {
  const entry = await entryFor(db, masterKey, kb);
  if (!entry.index || entry.index.dims !== query.length) return [];
  const hits = entry.index.search(query, k);
  if (hits.length === 0) return [];
  const wanted = hits.flatMap((h) => {
    const doc = entry.docs.get(Math.floor(h.key / KEY_SPACE));
    return doc ? [{ ...h, documentId: doc.id, ordinal: h.key % KEY_SPACE }] : [];
  });
  if (wanted.length === 0) return [];
  const rows = await db
    .select({ id: kbChunks.id, documentId: kbChunks.documentId, ordinal: kbChunks.ordinal })
    .from(kbChunks)
    .where(sql`(${kbChunks.documentId}, ${kbChunks.ordinal}) in (${sql.join(
      wanted.map((w) => sql`(${w.documentId}::uuid, ${w.ordinal}::int)`),
      sql`, `,
    )})`);
  const idOf = new Map(rows.map((r) => [`${r.documentId}:${r.ordinal}`, r.id]));
  // A chunk deleted since the stamp was read has no row: left out.
  return wanted.flatMap((w) => {
    const id = idOf.get(`${w.documentId}:${w.ordinal}`);
    return id ? [{ chunkId: id, score: w.score }] : [];
  });
}
