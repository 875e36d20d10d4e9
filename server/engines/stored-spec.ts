import type { deployments } from '../db/schema';
import { storedDeploymentSpecSchema, type DeploymentSpec } from './deployment-spec';

type DeploymentRow = Pick<typeof deployments.$inferSelect, 'engine' | 'spec' | 'desiredReplicas'>;

/**
 * The spec of a stored deployment. Rows written before the spec schema (the models directory writes
 * `{ threads, context, sequences }`) are read as llamacpp settings rather than refused, so an upgrade
 * keeps serving them. The row's engine and desired replicas win over the JSON.
 */
export function storedSpec(row: DeploymentRow): DeploymentSpec {
  const raw = (row.spec ?? {}) as Record<string, unknown>;
  const legacy = ['threads', 'context', 'sequences'].filter((k) => k in raw);
  const llamacpp = raw.llamacpp ?? (legacy.length ? Object.fromEntries(legacy.map((k) => [k, raw[k]])) : undefined);
  const parsed = storedDeploymentSpecSchema.safeParse({ ...raw, llamacpp, engine: row.engine, replicas: row.desiredReplicas });
  if (parsed.success) return parsed.data;
  // A stored spec that no longer validates still has an engine: run it with defaults rather than not at all.
  return storedDeploymentSpecSchema.parse({ engine: row.engine, replicas: row.desiredReplicas, ...(row.engine === 'upstream' ? { upstream: raw.upstream } : {}) });
}
