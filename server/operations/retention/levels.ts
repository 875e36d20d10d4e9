import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/types';
import { env, type Env } from '../../core/env';

/**
 * The classification levels, lowest first, and the level of a subject without a classification row.
 * Classification (issue 13, part 2) owns these settings; they are read here from the same variables
 * (ENCLAVE_CLASSIFICATION_LEVELS, ENCLAVE_DEFAULT_CLASSIFICATION) so a retention policy speaks of the
 * same four levels the classifier assigns (env.ts validated them at start).
 */
export interface ClassificationLevels {
  names: string[];
  defaultLevel: number;
}

const DEFAULT_NAMES = ['public', 'internal', 'confidential', 'restricted'];

export function classificationLevels(source: Partial<Pick<Env, 'ENCLAVE_CLASSIFICATION_LEVELS' | 'ENCLAVE_DEFAULT_CLASSIFICATION'>> = env()): ClassificationLevels {
  const raw = source.ENCLAVE_CLASSIFICATION_LEVELS?.trim();
  const names = raw ? raw.split(',').map((n) => n.trim()) : DEFAULT_NAMES;
  if (names.length !== 4 || names.some((n) => !n))
    throw new Error(`ENCLAVE_CLASSIFICATION_LEVELS must name 4 levels, lowest first (got "${raw}")`);
  const wanted = source.ENCLAVE_DEFAULT_CLASSIFICATION?.trim() || names[1]!;
  const defaultLevel = names.indexOf(wanted);
  if (defaultLevel < 0) throw new Error(`ENCLAVE_DEFAULT_CLASSIFICATION "${wanted}" is not one of ${names.join(', ')}`);
  return { names, defaultLevel };
}

/** Whether the classification table exists yet (it arrives with part 2; until then every subject is at the default level). */
export async function hasClassifications(db: DbOrTx): Promise<boolean> {
  const result = await db.execute<{ t: string | null }>(sql`SELECT to_regclass('public.data_classifications')::text AS t`);
  return result.rows[0]?.t != null;
}
