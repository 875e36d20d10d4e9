export { evaluateAlerts, type EvaluateOptions } from './evaluate';
export { evaluateRule, trailingRun } from './evaluators';
export { ALERT_KINDS, DEFAULT_RULES, KIND_INFO, type AlertKind } from './kinds';
export { firingCount, listAlerts } from './list';
export { createRule, deleteRule, ensureDefaultRules, listRules, ruleInput, ruleUpdate, updateRule } from './rules';
export { createWebhook, deleteWebhook, listWebhooks, updateWebhook, webhookInput, webhookUpdate, webhookTargets } from './webhooks';
export { deliverNotifications, payloadFor, postJson } from './deliver';
export { sendTestWebhook } from './test-webhook';
