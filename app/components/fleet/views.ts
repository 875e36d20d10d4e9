import type { RouterOutputs } from '../../lib/trpc';

/** What the fleet pages draw, as the catalog, deployments and fleet routers answer it. */
export type ModelView = RouterOutputs['catalog']['list'][number];
export type DeploymentSummary = RouterOutputs['deployments']['list'][number];
export type DeploymentDetail = RouterOutputs['deployments']['get'];
export type ReplicaView = DeploymentDetail['replicas'][number];
export type DeploymentEventView = DeploymentDetail['events'][number];
export type DryRunView = RouterOutputs['deployments']['dryRun'];
export type PerGpuClaim = DryRunView['perGpu'];
export type NodeView = RouterOutputs['fleet']['nodes'][number];
export type GpuView = NodeView['gpus'][number];
export type SamplePoint = RouterOutputs['fleet']['samples'][number];
