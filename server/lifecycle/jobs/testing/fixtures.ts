import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../../db/client';
import { and, eq } from 'drizzle-orm';
import { allocations, jobMetrics, jobs } from '../../../db/schema';
import { until } from '../../../testing/until';
import { registerVersion } from '../../catalog';
import { TRAINER_DOUBLE_ENTRY } from '../../finetune/testing/trainer-double';

/** An hf base version: a directory with Llama-3-8B's config.json (the estimator's captured copy); no weights needed by the double. */
export async function makeHfBase(db: Db, dir: string, modelName = 'llama-3-8b') {
  const location = path.join(dir, modelName);
  fs.mkdirSync(location, { recursive: true });
  fs.copyFileSync(path.resolve(__dirname, '../../../gpu/estimator/configs/meta-llama-3-8b.json'), path.join(location, 'config.json'));
  return registerVersion(db, { modelName, format: 'hf', location });
}

/** ENCLAVE_TRAINER_COMMAND for the trainer double (node with tsx), as a JSON array so paths may hold spaces. */
export const TRAINER_DOUBLE_COMMAND = JSON.stringify([process.execPath, '--import', 'tsx', TRAINER_DOUBLE_ENTRY]);

export const tempDir = (label: string) => fs.mkdtempSync(path.join(os.tmpdir(), `enclave-${label}-`));

/** Settings for the trainer double, read when it starts (TRAINER_DOUBLE_* in trainer-double.ts). */
export function trainerDoubleKnobs(steps: number, stepMs: number): void {
  process.env.TRAINER_DOUBLE_STEPS = String(steps);
  process.env.TRAINER_DOUBLE_STEP_MS = String(stepMs);
  process.env.TRAINER_DOUBLE_CHECKPOINT_EVERY = '5';
}

export const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Reading a job's row, metrics and allocations while it runs; `db` is read lazily (set in beforeAll). */
export function jobProbes(db: () => Db) {
  const row = async (id: string) => (await db().select().from(jobs).where(eq(jobs.id, id)))[0]!;
  return {
    row,
    // On a timeout, say where the job stood: a flaky wait is diagnosed from the message alone.
    waitStatus: (id: string, status: string, ms = 30_000) =>
      until(`job ${status}`, async () => ((await row(id)).status === status ? row(id) : undefined), ms).catch(async (e: Error) => {
        const { status: now, attempts, error, progress, lastCheckpoint, logTail, pid } = await row(id);
        throw new Error(`${e.message}; job is ${JSON.stringify({ now, attempts, error, pid, progress, lastCheckpoint, logTail: logTail.slice(-6) })}`);
      }),
    stepsOf: async (id: string) =>
      (await db().select().from(jobMetrics).where(and(eq(jobMetrics.jobId, id), eq(jobMetrics.kind, 'step')))).map((m) => m.step).sort((a, b) => a - b),
    activeAllocations: async (id: string) => (await db().select().from(allocations).where(eq(allocations.holderId, id))).filter((a) => !a.releasedAt),
  };
}

/** Supervisor timings for tests: fast polls and flushes, a short lease so a crashed worker's jobs free up quickly. */
export const FAST_TRAINING_TIMINGS = { pollMs: 50, flushMs: 100, leaseMs: 1_500, sweepMs: 300, stopGraceMs: 2_000 } as const;
