'use client';

import { trpc } from '../../lib/trpc';
import type { DeploymentDetail, DeploymentSummary, DryRunView, ModelView, NodeView, SamplePoint } from './types';

type Query<I, O> = { query(input: I): Promise<O> };
type Mutation<I, O> = { mutate(input: I): Promise<O> };
export type RegisterVersionRequest = { modelName: string; version?: string; format: 'hf' | 'gguf' | 'lora-adapter'; location: string; dtype?: string; quantization?: string; parentVersionId?: string };

/** The fleet routers' contract (server/api/routers/{catalog,deployments,fleet}) as this UI calls it. */
interface FleetClient {
  catalog: { list: Query<void, ModelView[]>; registerVersion: Mutation<RegisterVersionRequest, { id: string }> };
  deployments: {
    list: Query<void, DeploymentSummary[]>;
    get: Query<{ id: string }, DeploymentDetail>;
    dryRun: Query<{ modelVersionId: string; spec: Record<string, unknown> }, DryRunView>;
    create: Mutation<{ name: string; modelVersionId?: string; spec: Record<string, unknown> }, { id: string }>;
    scale: Mutation<{ id: string; replicas: number }, unknown>;
    stop: Mutation<{ id: string }, unknown>;
    start: Mutation<{ id: string }, unknown>;
    delete: Mutation<{ id: string }, unknown>;
    logs: Query<{ replicaId: string; tail?: number }, { lines: string[] }>;
  };
  fleet: { nodes: Query<void, NodeView[]>; samples: Query<{ nodeId: string; since: string; gpuIndex?: number }, SamplePoint[]> };
}

// Until the fleet routers are merged into AppRouter, the client is read through the contract above.
const client = trpc as unknown as FleetClient;

/** The fleet pages' calls, in one place. */
export const fleetApi = {
  models: () => client.catalog.list.query(),
  registerVersion: (input: RegisterVersionRequest) => client.catalog.registerVersion.mutate(input),
  deployments: () => client.deployments.list.query(),
  deployment: (id: string) => client.deployments.get.query({ id }),
  dryRun: (modelVersionId: string, spec: Record<string, unknown>) => client.deployments.dryRun.query({ modelVersionId, spec }),
  create: (input: { name: string; modelVersionId?: string; spec: Record<string, unknown> }) => client.deployments.create.mutate(input),
  scale: (id: string, replicas: number) => client.deployments.scale.mutate({ id, replicas }),
  stop: (id: string) => client.deployments.stop.mutate({ id }),
  start: (id: string) => client.deployments.start.mutate({ id }),
  remove: (id: string) => client.deployments.delete.mutate({ id }),
  logs: (replicaId: string, tail = 300) => client.deployments.logs.query({ replicaId, tail }),
  nodes: () => client.fleet.nodes.query(),
  samples: (nodeId: string, since: Date) => client.fleet.samples.query({ nodeId, since: since.toISOString() }),
};
