import type { Db } from '../../db/client';
import { deploymentDataPolicies, findingLevels, piiRules, type RedactionMode } from '../../db/schema';
import { eq } from 'drizzle-orm';
import { errorMessage, log } from '../../core/log';
import type { CustomRules } from '../pii/detect';
import { compileRules } from '../pii/rules';
import { findingLevelsFrom, HIGHEST_LEVEL, type FindingLevels, type Level } from './levels';

/** What a deployment may receive: the highest level, and what to do with a request above it. */
export interface DeploymentPolicy {
  maxLevel: Level;
  mode: RedactionMode;
}

/**
 * A deployment without a row: an `upstream` endpoint (outside the organisation) takes public data only and
 * refuses the rest; an engine Enclave runs takes everything.
 */
export function defaultPolicy(isUpstream: boolean): DeploymentPolicy {
  return isUpstream ? { maxLevel: 0, mode: 'block' } : { maxLevel: HIGHEST_LEVEL, mode: 'block' };
}

/** A deployment's policy under these settings: its row, or the default for its engine. */
export function policyOf(settings: Pick<ProtectionSettings, 'policies'>, deploymentId: string, isUpstream: boolean): DeploymentPolicy {
  return settings.policies.get(deploymentId) ?? defaultPolicy(isUpstream);
}

/** The admin-configured side of data protection, compiled for the detector. */
export interface ProtectionSettings {
  rules: CustomRules;
  levels: FindingLevels;
  /** deployment id → its row (absent: defaultPolicy). */
  policies: ReadonlyMap<string, DeploymentPolicy>;
}

export async function loadProtectionSettings(db: Db): Promise<ProtectionSettings> {
  const [rules, overrides, policies] = await Promise.all([
    db.select({ name: piiRules.name, kind: piiRules.kind, pattern: piiRules.pattern, level: piiRules.level }).from(piiRules).where(eq(piiRules.enabled, true)),
    db.select({ findingType: findingLevels.findingType, level: findingLevels.level }).from(findingLevels),
    db.select({ deploymentId: deploymentDataPolicies.deploymentId, maxLevel: deploymentDataPolicies.maxLevel, mode: deploymentDataPolicies.mode }).from(deploymentDataPolicies),
  ]);
  return {
    rules: compileRules(rules),
    levels: findingLevelsFrom(overrides, rules),
    policies: new Map(policies.map((p) => [p.deploymentId, { maxLevel: p.maxLevel as Level, mode: p.mode }])),
  };
}

/**
 * The settings held in memory and reloaded in the background (and at once when a change is announced:
 * the gateway calls refresh on a routes announcement), so a request never waits on the database. Until
 * the first load, `current()` is null and callers must treat every deployment as the strictest default.
 */
export function createProtectionSettingsCache(db: Db, refreshMs = 2_000) {
  let current: ProtectionSettings | null = null;
  let loading: Promise<void> | undefined;
  function refresh(): Promise<void> {
    loading ??= loadProtectionSettings(db)
      .then((s) => {
        current = s;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }
  const ready = refresh();
  ready.catch((err) => log.error('data protection: loading settings failed', { error: errorMessage(err) }));
  const timer = setInterval(() => refresh().catch(() => {}), refreshMs);
  timer.unref();
  return {
    ready,
    refresh,
    current: () => current,
    close: () => clearInterval(timer),
  };
}
export type ProtectionSettingsCache = ReturnType<typeof createProtectionSettingsCache>;
