'use client';

import { trpc, type RouterOutputs } from '../../lib/trpc';

export type TelemetryWindow = 'hour' | 'day' | 'week';
export type NodeSeries = RouterOutputs['monitoring']['gpuSeries'];
export type GpuSeries = NodeSeries['gpus'][number];
export type AllocationView = NodeSeries['allocations'][number];
export type AlertsView = RouterOutputs['monitoring']['alerts'];
export type AlertView = AlertsView['recent'][number];
export type RuleView = RouterOutputs['monitoring']['rules'][number];
export type WebhookView = RouterOutputs['monitoring']['webhooks'][number];
export type AlertKind = RuleView['kind'];
export type RuleInput = Parameters<typeof trpc.monitoring.createRule.mutate>[0];

/** The monitoring pages' calls, in one place (dates arrive as ISO strings: no transformer on the link). */
export const monitoringApi = {
  gpuSeries: (nodeId: string, window: TelemetryWindow) => trpc.monitoring.gpuSeries.query({ nodeId, window }),
  alerts: () => trpc.monitoring.alerts.query(),
  rules: () => trpc.monitoring.rules.query(),
  createRule: (input: RuleInput) => trpc.monitoring.createRule.mutate(input),
  updateRule: (input: Partial<RuleInput> & { id: string }) => trpc.monitoring.updateRule.mutate(input),
  deleteRule: (id: string) => trpc.monitoring.deleteRule.mutate({ id }),
  webhooks: () => trpc.monitoring.webhooks.query(),
  createWebhook: (name: string, secretUrl: string) => trpc.monitoring.createWebhook.mutate({ name, secretUrl }),
  updateWebhook: (id: string, enabled: boolean) => trpc.monitoring.updateWebhook.mutate({ id, enabled }),
  deleteWebhook: (id: string) => trpc.monitoring.deleteWebhook.mutate({ id }),
  testWebhook: (id: string) => trpc.monitoring.testWebhook.mutate({ id }),
};
