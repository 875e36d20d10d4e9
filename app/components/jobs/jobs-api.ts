'use client';

import { trpc } from '../../lib/trpc';
import type { DatasetOption, EstimateView, JobView, LineageView, MetricView } from './types';

type Query<I, O> = { query(input: I): Promise<O> };
type Mutation<I, O> = { mutate(input: I): Promise<O> };

/**
 * The routers behind these pages (jobs, datasets) were written alongside them; reading them through
 * this declared contract keeps the pages compiling whichever shape a router's rows are typed as,
 * and a contract change is one edit here rather than a blank cell on a page.
 */
interface JobsClient {
  jobs: {
    list: Query<void, JobView[]>;
    get: Query<{ id: string }, JobView>;
    metrics: Query<{ id: string; sinceStep?: number }, MetricView[]>;
    logs: Query<{ id: string }, { lines: string[] } | string[]>;
    cancel: Mutation<{ id: string }, unknown>;
    overrideGate: Mutation<{ id: string; reason: string }, unknown>;
    promoteVersion: Mutation<{ versionId: string }, unknown>;
    estimate: Query<Record<string, unknown>, EstimateView>;
    createFinetune: Mutation<Record<string, unknown>, { id: string }>;
    createQuantize: Mutation<Record<string, unknown>, { id: string }>;
    lineage: Query<{ versionId: string }, LineageView>;
  };
  datasets: { list: Query<void, DatasetOption[]> };
}

const client = trpc as unknown as JobsClient;

export const jobsApi = {
  list: () => client.jobs.list.query(),
  get: (id: string) => client.jobs.get.query({ id }),
  metrics: (id: string, sinceStep?: number) => client.jobs.metrics.query(sinceStep === undefined ? { id } : { id, sinceStep }),
  logs: async (id: string): Promise<string[]> => {
    const answer = await client.jobs.logs.query({ id });
    return Array.isArray(answer) ? answer : answer.lines;
  },
  cancel: (id: string) => client.jobs.cancel.mutate({ id }),
  overrideGate: (id: string, reason: string) => client.jobs.overrideGate.mutate({ id, reason }),
  promote: (versionId: string) => client.jobs.promoteVersion.mutate({ versionId }),
  estimate: (spec: Record<string, unknown>) => client.jobs.estimate.query(spec),
  createFinetune: (spec: Record<string, unknown>) => client.jobs.createFinetune.mutate(spec),
  createQuantize: (spec: Record<string, unknown>) => client.jobs.createQuantize.mutate(spec),
  lineage: (versionId: string) => client.jobs.lineage.query({ versionId }),
  datasets: () => client.datasets.list.query(),
};
