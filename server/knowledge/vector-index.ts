import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { kbChunks, kbDocuments } from '../db/schema';
import { exactTopK } from './exact-search';
import { bytesVector, openBytes } from './sealed';

interface Loaded {
  /** What the cache was built from: documents' newest change and count, and the model. */
  stamp: string;
  dims: number;
  chunkIds: string[];
  matrix: Float32Array;
}

/**
 * The decrypted vectors of each knowledge base, held in this process only (never written to disk
 * in the clear) and rebuilt from PostgreSQL when the base's documents changed: a stamp of the newest
 * document update is compared on every search, so a worker's new vectors are seen by every web process.
 */
const cache = new Map<string, Promise<Loaded>>();

export function forgetVectors(kbId: string): void {
  cache.delete(kbId);
}

async function stampOf(db: Db, kbId: string, model: string): Promise<string> {
  const [row] = await db
    .select({ newest: sql<string>`coalesce(max(${kbDocuments.updatedAt})::text, '')`, count: sql<number>`count(*)::int` })
    .from(kbDocuments)
    .where(eq(kbDocuments.kbId, kbId));
  return `${model}|${row?.newest}|${row?.count}`;
}

async function load(db: Db, masterKey: Buffer, kbId: string, model: string, stamp: string): Promise<Loaded> {
  const rows = await db
    .select({ id: kbChunks.id, vector: kbChunks.vectorEnc })
    .from(kbChunks)
    .innerJoin(kbDocuments, eq(kbDocuments.id, kbChunks.documentId))
    // Only vectors of the base's current model: during a re-embedding the old ones are not comparable.
    .where(and(eq(kbChunks.kbId, kbId), isNotNull(kbChunks.vectorEnc), eq(kbDocuments.embeddedModel, model)));
  const vectors = await Promise.all(rows.map(async (r) => bytesVector(await openBytes(db, masterKey, r.vector!))));
  const dims = vectors[0]?.length ?? 0;
  const usable = rows.map((r, i) => ({ id: r.id, v: vectors[i]! })).filter((x) => x.v.length === dims);
  const matrix = new Float32Array(usable.length * dims);
  usable.forEach((x, i) => matrix.set(x.v, i * dims));
  return { stamp, dims, chunkIds: usable.map((x) => x.id), matrix };
}

/** The k chunks of a base nearest to `query` (cosine), best first. */
export async function nearestChunks(db: Db, masterKey: Buffer, kb: { id: string; embeddingModel: string }, query: Float32Array, k: number): Promise<{ chunkId: string; score: number }[]> {
  const stamp = await stampOf(db, kb.id, kb.embeddingModel);
  let entry = cache.get(kb.id);
  if (!entry || (await entry.catch(() => null))?.stamp !== stamp) {
    entry = load(db, masterKey, kb.id, kb.embeddingModel, stamp);
    cache.set(kb.id, entry);
    entry.catch(() => cache.delete(kb.id));
  }
  const loaded = await entry;
  if (loaded.dims === 0 || loaded.dims !== query.length) return [];
  return exactTopK(loaded.matrix, loaded.dims, query, k).map((h) => ({ chunkId: loaded.chunkIds[h.index]!, score: h.score }));
}
