import { countFindings, findSensitive, type Finding } from '../pii/detect';
import { levelOfFindings, type Level } from './levels';
import type { DeploymentPolicy, ProtectionSettings } from './settings';

/** What to do with one request bound for a deployment. */
export type Decision =
  /** `counts`/`level` when the content held findings within the deployment's level. */
  | { action: 'send'; counts?: Record<string, number>; level?: Level }
  /** Send with these findings (per text, same order as the texts) replaced by their labels. */
  | { action: 'mask'; masks: Finding[][]; counts: Record<string, number>; level: Level }
  /** Refuse: the declared level, or the content's, is above what the deployment may receive. */
  | { action: 'refuse'; because: 'declared' | 'content'; level: Level; counts: Record<string, number> };

/** Whether a deployment's policy could refuse or mask anything at all: if not, nothing needs scanning. */
export function mayIntervene(policy: DeploymentPolicy): boolean {
  return policy.mode !== 'allow' && policy.maxLevel < 3;
}

/**
 * The highest level a deployment may be sent, whatever the content: its own, or every level when its
 * policy allows everything. A subject declared above it is refused (`decide`); passages of a knowledge
 * base above it are withheld from a chat turn (knowledge/chat-context.ts).
 */
export function receivableLevel(policy: DeploymentPolicy): Level {
  return policy.mode === 'allow' ? 3 : policy.maxLevel;
}

/**
 * Judges a request: `declared` is its subject's declared level (the conversation's or the API key's);
 * the content is judged by what it holds now. Above the deployment's level, `block` refuses and `mask`
 * replaces the findings that are above it (a declared level above it is refused either way: masking
 * cannot lower what a person declared). `allow` sends everything within the declared level.
 */
export function decide(texts: readonly string[], declared: Level, policy: DeploymentPolicy, settings: ProtectionSettings): Decision {
  if (declared > receivableLevel(policy)) return { action: 'refuse', because: 'declared', level: declared, counts: {} };
  if (!mayIntervene(policy)) return { action: 'send' };
  const perText = texts.map((t) => findSensitive(t, settings.rules));
  const all = perText.flat();
  if (all.length === 0) return { action: 'send' };
  const counts = countFindings(all);
  const level = levelOfFindings(counts, settings.levels);
  if (level <= policy.maxLevel) return { action: 'send', counts, level };
  // Only what is above the deployment's level: an IP address may stay for an internal deployment.
  const above = (f: Finding) => (settings.levels.get(f.type) ?? 3) > policy.maxLevel;
  const aboveCounts = countFindings(all.filter(above));
  if (policy.mode === 'block') return { action: 'refuse', because: 'content', level, counts: aboveCounts };
  return { action: 'mask', masks: perText.map((fs) => fs.filter(above)), counts: aboveCounts, level };
}
