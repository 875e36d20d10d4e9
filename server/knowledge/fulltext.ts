import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { blindIndexKey, blindTerm, terms } from './terms';

const K1 = 1.2;
const B = 0.75;
// Constants written into the statement: as bound parameters PostgreSQL would type them from the integer tf.
const BM25_SCALE = sql.raw(`${K1 + 1}::float8`);
const BM25_K1 = sql.raw(`${K1}::float8`);
const BM25_B = sql.raw(`${B}::float8`);

/**
 * BM25 over the blind index: the query's terms are hashed with the install's key and PostgreSQL ranks
 * chunks by the hashes they share, never seeing a word. Document frequencies are counted over the bases
 * searched, so a term common in them weighs little.
 */
export async function fullTextTop(db: Db, masterKey: Buffer, kbIds: string[], query: string, k: number): Promise<{ chunkId: string; score: number }[]> {
  const key = blindIndexKey(masterKey);
  const hashes = [...new Set(terms(query))].slice(0, 64).map((t) => blindTerm(key, t));
  if (hashes.length === 0 || kbIds.length === 0) return [];
  const kbs = sql`ARRAY[${sql.join(kbIds.map((id) => sql`${id}::uuid`), sql`, `)}]`;
  const q = sql`ARRAY[${sql.join(hashes.map((h) => sql`${h}::bytea`), sql`, `)}]`;
  const rows = await db.execute<{ chunk_id: string; score: number }>(sql`
    WITH stats AS (
      SELECT count(*)::float8 AS n, greatest(coalesce(avg(term_count), 1), 1)::float8 AS avgdl FROM kb_chunks WHERE kb_id = ANY(${kbs})
    ), df AS (
      SELECT term, count(*)::float8 AS df FROM kb_chunk_terms WHERE kb_id = ANY(${kbs}) AND term = ANY(${q}) GROUP BY term
    )
    SELECT t.chunk_id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * t.tf * ${BM25_SCALE} / (t.tf + ${BM25_K1} * (1 - ${BM25_B} + ${BM25_B} * c.term_count / s.avgdl)))::float8 AS score
    FROM kb_chunk_terms t
    JOIN df ON df.term = t.term
    JOIN kb_chunks c ON c.id = t.chunk_id
    CROSS JOIN stats s
    WHERE t.kb_id = ANY(${kbs}) AND t.term = ANY(${q})
    GROUP BY t.chunk_id
    ORDER BY score DESC, t.chunk_id
    LIMIT ${k}`);
  return rows.rows.map((r) => ({ chunkId: r.chunk_id, score: Number(r.score) }));
}
