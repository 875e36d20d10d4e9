import type { IncomingMessage, ServerResponse } from 'node:http';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments } from '../db/schema';
import { redis } from '../redis';

async function timed<T>(fn: () => Promise<T>, timeoutMs = 2000): Promise<{ ok: boolean; ms: number; error?: string }> {
  const start = performance.now();
  try {
    await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs))]);
    return { ok: true, ms: Math.round((performance.now() - start) * 10) / 10 };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - start), error: e instanceof Error ? e.message : String(e) };
  }
}

/** Reports PostgreSQL, Redis and each engine replica (probing its own /health); 503 when a dependency is down. */
export async function healthReport(db: Db) {
  const [postgres, redisStatus] = await Promise.all([timed(() => db.execute(sql`SELECT 1`)), timed(() => redis().ping())]);
  const replicas = postgres.ok
    ? await db
        .select({ deployment: deployments.name, engine: deployments.engine, replicaId: deploymentReplicas.id, url: deploymentReplicas.url, status: deploymentReplicas.status })
        .from(deploymentReplicas)
        .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
        .where(sql`${deploymentReplicas.status} <> 'stopped'`)
    : [];
  const engines = await Promise.all(
    replicas.map(async (r) => ({
      ...r,
      health: r.url ? await timed(async () => {
        const res = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(1500) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      }) : { ok: false, ms: 0, error: 'not started' },
    })),
  );
  const ok = postgres.ok && redisStatus.ok;
  return { status: ok ? 'ok' : 'degraded', postgres, redis: redisStatus, engines };
}

export async function handleHealth(db: Db, _req: IncomingMessage, res: ServerResponse) {
  const report = await healthReport(db);
  res.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(report));
}
