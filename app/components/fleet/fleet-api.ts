'use client';

import type { DeploymentSpecInput } from './spec-form';
import { trpc } from '../../lib/trpc';
import type { DeploymentDetail, DeploymentSummary, DryRunView, ModelView, NodeView, SamplePoint } from './types';

export type RegisterVersionRequest = Parameters<typeof trpc.catalog.registerVersion.mutate>[0];

/**
 * The fleet pages' calls, in one place. Each answer is declared as the view type the components
 * draw, so a change in a router's shape is a type error here rather than a blank cell on a page.
 */
export const fleetApi = {
  models: (): Promise<ModelView[]> => trpc.catalog.list.query(),
  registerVersion: (input: RegisterVersionRequest) => trpc.catalog.registerVersion.mutate(input),
  // The deployments domain spreads its row (typed Record<string, unknown>), so these two are read through the contract.
  deployments: () => trpc.deployments.list.query() as unknown as Promise<DeploymentSummary[]>,
  deployment: (id: string) => trpc.deployments.get.query({ id }) as unknown as Promise<DeploymentDetail>,
  dryRun: (modelVersionId: string | undefined, spec: DeploymentSpecInput): Promise<DryRunView> => trpc.deployments.dryRun.query({ modelVersionId, spec }),
  create: (input: { name: string; modelVersionId?: string; spec: DeploymentSpecInput; upstreamKey?: string }): Promise<{ id: string }> => trpc.deployments.create.mutate(input),
  scale: (id: string, replicas: number) => trpc.deployments.scale.mutate({ id, replicas }),
  stop: (id: string) => trpc.deployments.stop.mutate({ id }),
  start: (id: string) => trpc.deployments.start.mutate({ id }),
  remove: (id: string) => trpc.deployments.delete.mutate({ id }),
  logs: (replicaId: string, tail = 300): Promise<{ lines: string[] }> => trpc.deployments.logs.query({ replicaId, tail }),
  nodes: (): Promise<NodeView[]> => trpc.fleet.nodes.query(),
  samples: (nodeId: string, since: Date): Promise<SamplePoint[]> => trpc.fleet.samples.query({ nodeId, since: since.toISOString() }),
};
