import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { loadTests } from '../../db/schema';
import { errorMessage, log } from '../../core/log';
import { decryptText, encryptText, type KeyOwner } from '../../security/encryption';

/**
 * An uploaded prompt set is user text: it is stored sealed like messages and datasets (one JSON array
 * under the current data key), with only its shape in clear: how many prompts and how many characters.
 * Nobody reads it back through the API (its owner uploaded it); the worker opens it to run the test.
 */
export interface SealedPromptsWorkload {
  kind: 'prompts';
  outputTokens: number;
  promptCount: number;
  promptChars: number;
  promptsEnc: string;
  promptsDataKeyId: number;
}

type Spec = Record<string, unknown> & { workload?: Record<string, unknown> };

function plainPrompts(spec: Spec): string[] | undefined {
  const w = spec.workload;
  return w?.kind === 'prompts' && Array.isArray(w.prompts) ? (w.prompts as string[]) : undefined;
}

/** The spec as stored: a `prompts` workload's list sealed (under its owner's data key); any other spec unchanged. */
export async function sealPrompts(db: Db, masterKey: Buffer, spec: Spec, owner: KeyOwner = null): Promise<Spec> {
  const prompts = plainPrompts(spec);
  if (!prompts) return spec;
  const { prompts: _clear, ...rest } = spec.workload!;
  const { ciphertext, dataKeyId } = await encryptText(db, masterKey, JSON.stringify(prompts), owner);
  const workload: SealedPromptsWorkload = {
    ...(rest as { outputTokens: number }),
    kind: 'prompts',
    promptCount: prompts.length,
    promptChars: prompts.reduce((n, p) => n + p.length, 0),
    promptsEnc: ciphertext.toString('base64'),
    promptsDataKeyId: dataKeyId,
  };
  return { ...spec, workload: workload as unknown as Record<string, unknown> };
}

/** The spec the worker runs: a sealed prompt list opened again (a row stored before sealing passes as it is). */
export async function openPrompts(db: Db, masterKey: Buffer | undefined, spec: Spec): Promise<Spec> {
  const w = spec.workload as Partial<SealedPromptsWorkload> | undefined;
  if (w?.kind !== 'prompts' || typeof w.promptsEnc !== 'string' || typeof w.promptsDataKeyId !== 'number') return spec;
  if (!masterKey) throw new Error('the worker has no master key to open the sealed prompt set');
  const prompts = JSON.parse(await decryptText(db, masterKey, Buffer.from(w.promptsEnc, 'base64'), w.promptsDataKeyId)) as string[];
  const { promptsEnc: _e, promptsDataKeyId: _k, promptCount: _n, promptChars: _c, ...rest } = w;
  return { ...spec, workload: { ...rest, prompts } };
}

/** What a client sees of a workload: a prompt set only as its shape (count, characters). */
export function publicWorkload(workload: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (workload?.kind !== 'prompts') return workload;
  const { prompts, promptsEnc: _e, promptsDataKeyId: _k, ...rest } = workload;
  if (!Array.isArray(prompts)) return rest;
  return { ...rest, promptCount: prompts.length, promptChars: (prompts as string[]).reduce((n, p) => n + p.length, 0) };
}

/**
 * Seals the prompt sets of rows stored before prompts were sealed; run once at each worker start, so an
 * upgraded install keeps no plaintext prompts in load_tests. The rewritten rows' old versions are then
 * compacted away (VACUUM FULL) where the database role may do so; the WAL segments that held them are
 * recycled by PostgreSQL in time. Returns how many rows were sealed.
 */
export async function sealStoredPlaintextPrompts(db: Db, masterKey: Buffer): Promise<number> {
  const rows = await db
    .select({ id: loadTests.id, spec: loadTests.spec })
    .from(loadTests)
    .where(sql`${loadTests.spec}->'workload'->>'kind' = 'prompts' AND jsonb_typeof(${loadTests.spec}->'workload'->'prompts') = 'array'`);
  for (const row of rows) {
    const sealed = await sealPrompts(db, masterKey, row.spec);
    // Only if it is still the plaintext version: a concurrent worker may have sealed it first.
    await db
      .update(loadTests)
      .set({ spec: sealed })
      .where(sql`${loadTests.id} = ${row.id} AND jsonb_typeof(${loadTests.spec}->'workload'->'prompts') = 'array'`);
  }
  if (rows.length)
    await db.execute(sql`VACUUM (FULL) load_tests`).catch((e) => log.warn('compacting load_tests after sealing its prompts failed: run VACUUM FULL load_tests as its owner', { error: errorMessage(e) }));
  return rows.length;
}
