import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments, users, type Role } from '../db/schema';

/** Small row builders for tests: each returns the inserted row. */
export async function makeUser(db: Db, over: Partial<typeof users.$inferInsert> & { role?: Role } = {}) {
  const [row] = await db
    .insert(users)
    .values({
      email: `u-${randomBytes(4).toString('hex')}@example.test`,
      passwordHash: 'not-a-real-hash',
      role: 'user',
      ...over,
    })
    .returning();
  return row!;
}

export async function makeDeployment(
  db: Db,
  over: Partial<typeof deployments.$inferInsert> = {},
  replicaUrls: string[] = [],
) {
  const [dep] = await db
    .insert(deployments)
    .values({ name: `m-${randomBytes(3).toString('hex')}`, engine: 'llamacpp', status: 'ready', ...over })
    .returning();
  const replicas = [];
  for (const url of replicaUrls) {
    const [r] = await db.insert(deploymentReplicas).values({ deploymentId: dep!.id, url, status: 'ready' }).returning();
    replicas.push(r!);
  }
  return { deployment: dep!, replicas };
}
