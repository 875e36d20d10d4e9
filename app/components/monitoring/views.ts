import type { RouterInputs, RouterOutputs } from '../../lib/trpc';

/** What the monitoring pages draw, as the monitoring router answers it. */
export type TelemetryWindow = NonNullable<RouterInputs['monitoring']['gpuSeries']['window']>;
export type NodeSeries = RouterOutputs['monitoring']['gpuSeries'];
export type GpuSeries = NodeSeries['gpus'][number];
export type AllocationView = NodeSeries['allocations'][number];
export type AlertView = RouterOutputs['monitoring']['alerts']['recent'][number];
export type RuleView = RouterOutputs['monitoring']['rules'][number];
export type WebhookView = RouterOutputs['monitoring']['webhooks'][number];
export type AlertKind = RuleView['kind'];
export type RuleInput = RouterInputs['monitoring']['createRule'];
