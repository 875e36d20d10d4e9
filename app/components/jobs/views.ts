import type { RouterInputs, RouterOutputs } from '../../lib/trpc';

/** What the jobs pages draw, as the jobs router answers it. */
export type JobView = RouterOutputs['jobs']['get'];
export type JobStatus = JobView['status'];
export type JobKind = JobView['kind'];
export type MetricView = RouterOutputs['jobs']['metrics'][number];
export type LineageView = RouterOutputs['jobs']['lineage'];
export type LineageNodeView = LineageView['nodes'][number];
export type EstimateView = RouterOutputs['jobs']['estimate'];
export type DatasetOption = RouterOutputs['datasets']['list'][number];
export type FinetuneInput = RouterInputs['jobs']['createFinetune'];
export type QuantizeInput = RouterInputs['jobs']['createQuantize'];

// The filters' choices, in the order they are offered (the server's own lists stay on the server).
export const JOB_STATUSES = ['queued', 'waiting', 'running', 'succeeded', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
export const JOB_KINDS = ['finetune', 'quantize'] as const satisfies readonly JobKind[];

export const FINISHED: ReadonlySet<string> = new Set<JobStatus>(['succeeded', 'failed', 'cancelled']);
