/** Data classification: levels, the subject store, admin settings and the routing decision (issue 13, parts 1-2). */
export { levelOf, raiseLevel, raiseLevelAudited, setLevel, type Classification } from './store';
export { defaultLevel, levelName, levelNames, levelOfFindings, isLevel, DEFAULT_FINDING_LEVELS, HIGHEST_LEVEL, LEVELS, type Level, type FindingLevels } from './levels';
export { createProtectionSettingsCache, defaultPolicy, loadProtectionSettings, policyOf, type DeploymentPolicy, type ProtectionSettings, type ProtectionSettingsCache } from './settings';
export { decide, mayIntervene, receivableLevel, type Decision } from './decide';
