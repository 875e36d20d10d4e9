import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { kbChunks, kbDocuments, knowledgeBases } from '../db/schema';
import { errorMessage, log } from '../core/log';
import { embedTexts, type EmbedDeps } from './embed-client';
import { normalise } from '../core/vectors';
import { fullTextTop } from './fulltext';
import { openBytes, openJson } from './sealed';
import { nearestChunks } from './vector-index';

export interface RetrieveDeps extends EmbedDeps {
  db: Db;
}

export interface RetrievedPassage {
  chunkId: string;
  documentId: string;
  documentName: string;
  kbId: string;
  page: number | null;
  heading: string[];
  text: string;
  /** Reciprocal-rank-fusion score, and each side's own (absent where that side did not rank it). */
  score: number;
  vectorScore?: number;
  textScore?: number;
}

/** RRF's constant: ranks past the first few count for little, and neither side's raw scale matters. */
const RRF_K = 60;
/** How far down each side's list is fused. */
const CANDIDATES = 30;

export interface RetrieveOptions {
  k: number;
  /**
   * Below this cosine similarity a passage found only by its vector (it shares no word with the question)
   * is not relevant; with nothing left, the caller says nothing relevant was found. Set high on purpose:
   * cosine scales differ by model (stories260K puts unrelated texts at 0.88-0.93), and a passage that
   * shares a word with the question is always kept by the full-text side.
   */
  minVectorScore: number;
}

export const DEFAULT_RETRIEVAL: RetrieveOptions = { k: 5, minVectorScore: 0.95 };

/** Merges ranked lists by reciprocal rank fusion: each item scores Σ 1/(RRF_K + rank). */
export function reciprocalRankFusion(lists: { chunkId: string }[][]): Map<string, number> {
  const fused = new Map<string, number>();
  for (const list of lists) list.forEach((item, rank) => fused.set(item.chunkId, (fused.get(item.chunkId) ?? 0) + 1 / (RRF_K + rank + 1)));
  return fused;
}

/**
 * Hybrid retrieval over knowledge bases the caller may already read (the caller filters: see
 * KnowledgeBases.visibleIds): the question is embedded as `userId` by each base's model and matched
 * against the base's vectors, and ranked by BM25 on the blind index; both lists fused by RRF. When the
 * embedding deployment cannot be used (down, no access) the full-text side still answers.
 */
export async function retrievePassages(deps: RetrieveDeps, userId: string, kbIds: string[], question: string, options: RetrieveOptions = DEFAULT_RETRIEVAL): Promise<RetrievedPassage[]> {
  if (kbIds.length === 0 || !question.trim()) return [];
  const kbs = await deps.db.select({ id: knowledgeBases.id, embeddingModel: knowledgeBases.embeddingModel }).from(knowledgeBases).where(inArray(knowledgeBases.id, kbIds));
  const vectorHits: { chunkId: string; score: number }[] = [];
  for (const model of new Set(kbs.map((k) => k.embeddingModel))) {
    try {
      const [query] = await embedTexts(deps, userId, model, [question.slice(0, 2000)]);
      for (const kb of kbs.filter((k) => k.embeddingModel === model)) vectorHits.push(...(await nearestChunks(deps.db, deps.masterKey, kb, normalise(query!), CANDIDATES)));
    } catch (e) {
      log.warn('knowledge retrieval: the question could not be embedded; full-text only', { model, error: errorMessage(e) });
    }
  }
  vectorHits.sort((a, b) => b.score - a.score);
  const vectorTop = vectorHits.slice(0, CANDIDATES);
  const textTop = await fullTextTop(deps.db, deps.masterKey, kbs.map((k) => k.id), question, CANDIDATES);
  const vectorScore = new Map(vectorTop.map((h) => [h.chunkId, h.score]));
  const textScore = new Map(textTop.map((h) => [h.chunkId, h.score]));
  const fused = [...reciprocalRankFusion([vectorTop, textTop])]
    .filter(([id]) => textScore.has(id) || (vectorScore.get(id) ?? -1) >= options.minVectorScore)
    .sort((a, b) => b[1] - a[1])
    .slice(0, options.k);
  if (fused.length === 0) return [];
  const rows = await deps.db
    .select({ c: kbChunks, nameEnc: kbDocuments.nameEnc })
    .from(kbChunks)
    .innerJoin(kbDocuments, eq(kbDocuments.id, kbChunks.documentId))
    .where(inArray(kbChunks.id, fused.map(([id]) => id)));
  const byId = new Map(rows.map((r) => [r.c.id, r]));
  const out: RetrievedPassage[] = [];
  for (const [id, score] of fused) {
    const row = byId.get(id);
    if (!row) continue; // Deleted since it was ranked.
    const content = await openJson<{ text: string; heading: string[] }>(deps.db, deps.masterKey, row.c.contentEnc);
    out.push({
      chunkId: id,
      documentId: row.c.documentId,
      documentName: (await openBytes(deps.db, deps.masterKey, row.nameEnc)).toString('utf8'),
      kbId: row.c.kbId,
      page: row.c.page,
      heading: content.heading,
      text: content.text,
      score,
      ...(vectorScore.has(id) ? { vectorScore: vectorScore.get(id) } : {}),
      ...(textScore.has(id) ? { textScore: textScore.get(id) } : {}),
    });
  }
  return out;
}
