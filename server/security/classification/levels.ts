import { ConfigError, env } from '../../core/env';
import { BUILT_IN_FINDING_TYPES, type BuiltInFindingType } from '../pii/detect';

/** A level is a rank: 0 lowest (public) .. 3 highest (restricted). Names come from configuration. */
export type Level = 0 | 1 | 2 | 3;
export const LEVELS: readonly Level[] = [0, 1, 2, 3];
export const HIGHEST_LEVEL: Level = 3;

export function isLevel(n: unknown): n is Level {
  return n === 0 || n === 1 || n === 2 || n === 3;
}

/** ENCLAVE_CLASSIFICATION_LEVELS, lowest first. */
export function levelNames(source: { ENCLAVE_CLASSIFICATION_LEVELS: string } = env()): [string, string, string, string] {
  return source.ENCLAVE_CLASSIFICATION_LEVELS.split(',').map((n) => n.trim()) as [string, string, string, string];
}

/** ENCLAVE_DEFAULT_CLASSIFICATION as a rank: the level of a subject nobody classified. */
export function defaultLevel(source: { ENCLAVE_CLASSIFICATION_LEVELS: string; ENCLAVE_DEFAULT_CLASSIFICATION: string } = env()): Level {
  const rank = levelNames(source).indexOf(source.ENCLAVE_DEFAULT_CLASSIFICATION);
  if (rank === -1) throw new ConfigError(`Invalid configuration:\n  ENCLAVE_DEFAULT_CLASSIFICATION: must be one of ${levelNames(source).join(', ')}`);
  return rank as Level;
}

export function levelName(level: number): string {
  return levelNames()[level] ?? String(level);
}

/**
 * The least level a text holding each finding type is raised to, unless an admin changed it
 * (finding_levels): identity documents and cards are restricted, what reaches a person confidential, an
 * address on a network internal.
 */
export const DEFAULT_FINDING_LEVELS: Record<BuiltInFindingType, Level> = {
  cn_id: 3,
  bank_card: 3,
  passport: 3,
  phone: 2,
  email: 2,
  ipv4: 1,
  ipv6: 1,
};

/** Finding type → least level, built-in types and custom rules alike (`custom:<name>`). */
export type FindingLevels = ReadonlyMap<string, Level>;

export function findingLevelsFrom(overrides: readonly { findingType: string; level: number }[], customRules: readonly { name: string; level: number }[]): FindingLevels {
  const map = new Map<string, Level>();
  for (const t of BUILT_IN_FINDING_TYPES) map.set(t, DEFAULT_FINDING_LEVELS[t]);
  for (const o of overrides) if (isLevel(o.level) && map.has(o.findingType)) map.set(o.findingType, o.level);
  for (const r of customRules) if (isLevel(r.level)) map.set(`custom:${r.name}`, r.level);
  return map;
}

/** The level content holding these findings is at least at (0 when none). */
export function levelOfFindings(counts: Readonly<Record<string, number>>, levels: FindingLevels): Level {
  let level: Level = 0;
  for (const type in counts) {
    if (!counts[type]) continue;
    const l = levels.get(type) ?? HIGHEST_LEVEL; // a type nobody mapped (a rule deleted since): the safe side
    if (l > level) level = l;
  }
  return level;
}
