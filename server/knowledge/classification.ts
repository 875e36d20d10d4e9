import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { dataClassifications } from '../db/schema';
import { countFindings, findSensitive } from '../security/pii/detect';
import { defaultLevel, levelOfFindings, loadProtectionSettings, raiseLevelAudited, type Level } from '../security/classification';

/**
 * A knowledge base's data classification (issue 16 part 4, on issue 13's levels): a subject of kind
 * 'knowledge_base' in data_classifications. Its owner declares a level (classification.set); ingestion
 * raises it by what the detector finds in a document's passages (types and counts, never values); a
 * chat turn is given only passages of bases at or below what its deployment may receive.
 */

/**
 * Scans a document's parsed passages with the organisation's detector and raises its base's level to what
 * they hold, audited as the uploader's (the base's owner). Before the passages are stored, so no passage
 * is ever searchable under a level below its content; a failure fails the document. Regex-only: the scan
 * costs a fraction of parsing. Returns the finding counts (empty when nothing was found).
 */
export async function classifyPassages(db: Db, ownerId: string, kbId: string, documentId: string, texts: readonly string[]): Promise<Record<string, number>> {
  const settings = await loadProtectionSettings(db);
  const findings = texts.flatMap((t) => findSensitive(t, settings.rules));
  if (findings.length === 0) return {};
  const counts = countFindings(findings);
  await raiseLevelAudited(db, ownerId, 'knowledge_base', kbId, levelOfFindings(counts, settings.levels), counts, { by: 'detector', documentId });
  return counts;
}

/** Each base's level (what it holds: never below what its owner declared); the default level for a base nobody classified. */
export async function knowledgeBaseLevels(db: Db, kbIds: readonly string[]): Promise<Map<string, Level>> {
  const fallback = defaultLevel();
  const out = new Map<string, Level>(kbIds.map((id) => [id, fallback]));
  if (kbIds.length === 0) return out;
  const rows = await db
    .select({ id: dataClassifications.subjectId, level: dataClassifications.level })
    .from(dataClassifications)
    .where(and(eq(dataClassifications.subjectKind, 'knowledge_base'), inArray(dataClassifications.subjectId, [...kbIds])));
  for (const r of rows) out.set(r.id, r.level as Level);
  return out;
}
