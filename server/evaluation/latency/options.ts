import { asc } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments } from '../../db/schema';
import { listLoadTests } from '../loadtest/store';
import { listExperiments } from '../experiments/service';

type Viewer = Parameters<typeof listLoadTests>[1];

/** What the latency page can be pointed at: deployments, model names, experiments and their variants, and the load tests this user may see. */
export async function latencyOptions(db: Db, user: Viewer) {
  const deps = await db.select({ id: deployments.id, name: deployments.name }).from(deployments).orderBy(asc(deployments.name));
  const exps = await listExperiments(db);
  const runs = await listLoadTests(db, user);
  return {
    deployments: deps,
    models: [...new Set([...deps.map((d) => d.name), ...exps.map((e) => e.name)])].sort(),
    experiments: exps.map((e) => ({ id: e.id, name: e.name, variants: e.variants.map((v) => ({ id: v.id, label: v.label })) })),
    loadTests: runs.map((r) => ({ id: r.id, name: r.name, status: r.status, createdAt: r.createdAt })),
  };
}
