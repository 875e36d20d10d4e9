import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { conversations, datasets, loadTests, messages } from '../../db/schema';
import { dataKeyForSealing, decryptText, encryptText, openWithKeyId, sealWithKeyId } from '../../security/encryption';
import { storeFor } from '../../artifacts';
import { errorMessage, log } from '../../core/log';

const BATCH = 200;

export interface ResealResult {
  messages: number;
  titles: number;
  datasets: number;
  loadTests: number;
  /** Rows left for the next run (the budget ran out). */
  remaining: boolean;
}

/** The key id a sealed title carries in its first 4 bytes (see Conversations.seal). */
const titleKeyId = sql`('x' || encode(substring(c.title_enc from 1 for 4), 'hex'))::bit(32)::int`;

/**
 * Content stored before per-person keys (migration 0019) is sealed under install-wide keys; erasing its
 * owner could not shred it. This re-seals it under its owner's key: message text, conversation titles,
 * dataset files (only the file's own key, in its header: the frames stay as they are) and load-test prompt
 * sets. Each row is rewritten only if it is still under the old key (a concurrent writer or a second
 * worker wins harmlessly), so it is idempotent, and it is resumable: each batch commits on its own and a
 * run stops after `budget` rows, the next run going on where it stopped. Copies in backups made before
 * stay under the install keys: an erasure's report counts what it could not shred.
 */
export async function resealUnderOwnerKeys(db: Db, masterKey: Buffer, opts: { dataDir: string; budget?: number }): Promise<ResealResult> {
  let budget = opts.budget ?? 20_000;
  const result: ResealResult = { messages: 0, titles: 0, datasets: 0, loadTests: 0, remaining: false };
  const artifacts = storeFor(opts.dataDir, db, masterKey);

  while (budget > 0) {
    const rows = await db.execute<{ id: string; owner: string; key_id: number; content_enc: Buffer }>(sql`
      SELECT m.id, c.user_id AS owner, m.data_key_id AS key_id, m.content_enc FROM messages m
      JOIN conversations c ON c.id = m.conversation_id JOIN data_keys k ON k.id = m.data_key_id
      WHERE k.owner_user_id IS DISTINCT FROM c.user_id LIMIT ${Math.min(BATCH, budget)}`);
    if (!rows.rows.length) break;
    for (const r of rows.rows) {
      const text = await decryptText(db, masterKey, r.content_enc, r.key_id);
      const { ciphertext, dataKeyId } = await encryptText(db, masterKey, text, r.owner);
      await db.update(messages).set({ contentEnc: ciphertext, dataKeyId }).where(and(eq(messages.id, r.id), eq(messages.dataKeyId, r.key_id)));
    }
    result.messages += rows.rows.length;
    budget -= rows.rows.length;
  }

  while (budget > 0) {
    const rows = await db.execute<{ id: string; owner: string; key_id: number; title_enc: Buffer }>(sql`
      SELECT c.id, c.user_id AS owner, ${titleKeyId} AS key_id, c.title_enc FROM conversations c
      JOIN data_keys k ON k.id = ${titleKeyId}
      WHERE k.owner_user_id IS DISTINCT FROM c.user_id LIMIT ${Math.min(BATCH, budget)}`);
    if (!rows.rows.length) break;
    for (const r of rows.rows) {
      const title = await openWithKeyId(db, masterKey, r.title_enc);
      await db
        .update(conversations)
        .set({ titleEnc: await sealWithKeyId(db, masterKey, title, r.owner) })
        .where(and(eq(conversations.id, r.id), eq(conversations.titleEnc, r.title_enc)));
    }
    result.titles += rows.rows.length;
    budget -= rows.rows.length;
  }

  while (budget > 0) {
    const rows = await db.execute<{ id: string; owner: string; key_id: number; storage_path: string }>(sql`
      SELECT d.id, d.owner_id AS owner, d.data_key_id AS key_id, d.storage_path FROM datasets d
      JOIN data_keys k ON k.id = d.data_key_id WHERE k.owner_user_id IS DISTINCT FROM d.owner_id LIMIT ${Math.min(BATCH, budget)}`);
    if (!rows.rows.length) break;
    let moved = 0;
    for (const r of rows.rows) {
      try {
        const target = await dataKeyForSealing(db, masterKey, r.owner);
        const newKeyId = await artifacts.rewrap(r.storage_path, target);
        await db.update(datasets).set({ dataKeyId: newKeyId }).where(and(eq(datasets.id, r.id), eq(datasets.dataKeyId, r.key_id)));
        moved++;
      } catch (e) {
        // A missing or unreadable file would stop every later dataset: logged, and left for an operator.
        log.warn('re-sealing a dataset file under its owner key failed', { dataset: r.id, error: errorMessage(e) });
      }
    }
    result.datasets += moved;
    budget -= rows.rows.length;
    if (moved === 0) break;
  }

  while (budget > 0) {
    const rows = await db.execute<{ id: string; owner: string; key_id: number; enc: string }>(sql`
      SELECT t.id, t.owner_id AS owner, (t.spec->'workload'->>'promptsDataKeyId')::int AS key_id, t.spec->'workload'->>'promptsEnc' AS enc
      FROM load_tests t JOIN data_keys k ON k.id = (t.spec->'workload'->>'promptsDataKeyId')::int
      WHERE t.spec->'workload'->>'kind' = 'prompts' AND k.owner_user_id IS DISTINCT FROM t.owner_id LIMIT ${Math.min(BATCH, budget)}`);
    if (!rows.rows.length) break;
    for (const r of rows.rows) {
      const text = await decryptText(db, masterKey, Buffer.from(r.enc, 'base64'), r.key_id);
      const { ciphertext, dataKeyId } = await encryptText(db, masterKey, text, r.owner);
      await db
        .update(loadTests)
        .set({
          spec: sql`jsonb_set(jsonb_set(${loadTests.spec}, '{workload,promptsEnc}', to_jsonb(${ciphertext.toString('base64')}::text)), '{workload,promptsDataKeyId}', to_jsonb(${dataKeyId}::int))`,
        })
        .where(sql`${loadTests.id} = ${r.id} AND (${loadTests.spec}->'workload'->>'promptsDataKeyId')::int = ${r.key_id}`);
    }
    result.loadTests += rows.rows.length;
    budget -= rows.rows.length;
  }
  result.remaining = budget <= 0;
  return result;
}
