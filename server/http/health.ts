import type { IncomingMessage, ServerResponse } from 'node:http';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments, type Role } from '../db/schema';
import { checkRedis } from '../core/redis';
import { getSessionUser } from '../security/sessions';

type Check = { ok: boolean; ms: number; error?: string };

async function timed(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs)))]);
    return { ok: true, ms: Math.round((performance.now() - start) * 10) / 10 };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - start), error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Who may see the detail: engine addresses, replica ids and error texts are a map of the install. */
const DETAIL_ROLES: readonly Role[] = ['admin', 'engineer', 'viewer'];

/**
 * PostgreSQL and Redis as this process uses them: a query, and Redis in the configured database (a PING
 * alone passes while the client silently fell back to database 0). Either failing is 'degraded'.
 */
async function dependencies(db: Db) {
  const [postgres, redis] = await Promise.all([timed(() => db.execute(sql`SELECT 1`)), timed(checkRedis)]);
  return { status: postgres.ok && redis.ok ? ('ok' as const) : ('degraded' as const), postgres, redis };
}

/** Each replica that is not history, probed at its own /health (open on both engines, no secret needed). */
async function engines(db: Db) {
  const replicas = await db
    .select({ deployment: deployments.name, engine: deployments.engine, replicaId: deploymentReplicas.id, url: deploymentReplicas.url, status: deploymentReplicas.status })
    .from(deploymentReplicas)
    .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .where(sql`${deploymentReplicas.status} <> 'stopped'`);
  return Promise.all(
    replicas.map(async (r) => ({
      ...r,
      // An upstream is a URL a user gave: only the reconciler's probe calls it, under the outbound policy.
      health: r.engine === 'upstream'
        ? { ok: r.status === 'ready', ms: 0 }
        : r.url
        ? await timed(async () => {
            const res = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(1500) });
            await res.body?.cancel();
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
          })
        : { ok: false, ms: 0, error: 'not started' },
    })),
  );
}

/**
 * GET /api/health. Anyone (a load balancer, a probe) gets the overall status, 200 or 503, and nothing
 * else: engine URLs would tell any local process where to reach a model around the gateway. Signed-in
 * admins, engineers and viewers get the detail; only they make it probe the engines.
 */
export async function handleHealth(db: Db, req: IncomingMessage, res: ServerResponse) {
  const deps = await dependencies(db);
  const user = deps.postgres.ok ? await getSessionUser(db, req).catch(() => null) : null;
  const body = user && DETAIL_ROLES.includes(user.role) ? { ...deps, engines: await engines(db) } : { status: deps.status };
  res.writeHead(deps.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
