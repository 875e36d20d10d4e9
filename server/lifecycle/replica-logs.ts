import fs from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas } from '../db/schema';
import { notFound } from '../core/errors';

/** Never more than this much of a log file is read, however many lines are asked for. */
export const LOG_READ_LIMIT_BYTES = 1024 * 1024;

/** The last lines of a replica's engine log, read from its log_path on this host (empty when none yet). */
export async function replicaLogTail(db: Db, replicaId: string, tail = 200): Promise<{ lines: string[] }> {
  const [row] = await db.select({ logPath: deploymentReplicas.logPath }).from(deploymentReplicas).where(eq(deploymentReplicas.id, replicaId));
  if (!row) throw notFound('No such replica');
  if (!row.logPath) return { lines: [] };
  const file = await fs.open(row.logPath, 'r').catch(() => null);
  if (!file) return { lines: [] };
  try {
    const { size } = await file.stat();
    const length = Math.min(size, LOG_READ_LIMIT_BYTES);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (length < size) lines.shift(); // the first line was cut by the read window
    if (lines.at(-1) === '') lines.pop();
    return { lines: lines.slice(-tail) };
  } finally {
    await file.close();
  }
}
