import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments, loadTestSamples, loadTests } from '../../db/schema';
import { enqueue, removeQueued } from '../../core/queues';
import { encryptText } from '../../security/encryption';
import { DomainError } from '../../core/errors';
import { outboundUrl } from '../../security/outbound/url';
import type { SessionUser } from '../../security/sessions';
import type { LiveProgress } from './progress';
import type { StageResult } from './run';
import { publicWorkload, sealPrompts } from './sealed-prompts';
import { loadTestSpecSchema, type LoadTestSpec } from './spec';
import type { Summary } from './summary';
import type { TimingError } from './types';
import { afterCommit } from '../../db/after-commit';

// A URL someone typed: under the outbound policy; its key has its own (sealed) field.
const httpUrl = outboundUrl({ credentials: false, query: false });

export const createLoadTestSchema = z.object({
  name: z.string().trim().min(1).max(200),
  target: z.discriminatedUnion('kind', [
    /** A deployment, through the gateway (an internal key minted for the run) or straight to a ready replica. */
    z.object({ kind: z.literal('deployment'), deploymentId: z.string().uuid(), via: z.enum(['gateway', 'replica']).default('gateway') }),
    /** Any OpenAI-compatible base URL (…/v1). */
    z.object({ kind: z.literal('url'), url: httpUrl, model: z.string().trim().min(1).max(200) }),
  ]),
  /** Bearer key for a URL target; stored sealed, never returned. */
  apiKey: z
    .string()
    .regex(/^[\x21-\x7e]{1,4096}$/, 'the API key must be printable characters without spaces')
    .optional(),
  spec: loadTestSpecSchema,
});
export type CreateLoadTestInput = z.input<typeof createLoadTestSchema>;

/** How the worker reaches the target; kept in spec.target, with a sealed key for URL targets. */
export interface StoredTarget {
  kind: 'deployment' | 'url';
  via?: 'gateway' | 'replica';
  keyEnc?: string;
  keyDataKeyId?: number;
}

/** Engineers and admins work on the team's runs (compare, export); anyone else sees their own only. */
export function visibility(user: SessionUser): SQL | undefined {
  return user.role === 'admin' || user.role === 'engineer' ? undefined : eq(loadTests.ownerId, user.id);
}

export async function createLoadTest(db: Db, deps: { masterKey: Buffer; gatewayUrl: string }, user: SessionUser, raw: CreateLoadTestInput) {
  const input = createLoadTestSchema.parse(raw);
  let targetUrl: string;
  let model: string;
  let deploymentId: string | null = null;
  const stored: StoredTarget = { kind: input.target.kind };
  if (input.target.kind === 'deployment') {
    const [dep] = await db.select().from(deployments).where(eq(deployments.id, input.target.deploymentId));
    if (!dep) throw new DomainError('NOT_FOUND', 'No such deployment');
    deploymentId = dep.id;
    model = dep.name;
    stored.via = input.target.via;
    if (input.target.via === 'gateway') targetUrl = `${deps.gatewayUrl.replace(/\/+$/, '')}/v1`;
    // Its replica is the URL a user gave: called through the gateway only, under the outbound policy.
    else if (dep.engine === 'upstream') throw new DomainError('BAD_REQUEST', "target.via: an upstream deployment is tested through the gateway ('gateway')");
    else {
      const [replica] = await db
        .select({ url: deploymentReplicas.url })
        .from(deploymentReplicas)
        .where(and(eq(deploymentReplicas.deploymentId, dep.id), eq(deploymentReplicas.status, 'ready')))
        .limit(1);
      if (!replica) throw new DomainError('CONFLICT', 'The deployment has no ready replica to test directly; use the gateway or wait until it is ready');
      targetUrl = `${replica.url.replace(/\/+$/, '')}/v1`;
    }
    if (input.apiKey) throw new DomainError('BAD_REQUEST', 'A deployment target uses an internal key: send no apiKey');
  } else {
    targetUrl = input.target.url.replace(/\/+$/, '');
    model = input.target.model;
    if (input.apiKey) {
      const { ciphertext, dataKeyId } = await encryptText(db, deps.masterKey, input.apiKey);
      stored.keyEnc = ciphertext.toString('base64');
      stored.keyDataKeyId = dataKeyId;
    }
  }
  if (input.spec.workload.kind === 'replay' && !input.spec.workload.model) input.spec.workload.model = model;
  const [row] = await db
    .insert(loadTests)
    .values({ ownerId: user.id, name: input.name, deploymentId, targetUrl, model, spec: { ...(await sealPrompts(db, deps.masterKey, input.spec, user.id)), target: stored } })
    .returning({ id: loadTests.id });
  // The worker reads the row it is told about: only once that row is committed.
  await afterCommit(() => enqueue('loadtest', { loadTestId: row!.id }));
  return { id: row!.id };
}

/** The spec as a client may see it: no sealed key, and the prompt set as its shape, not its text. */
/** A run's spec as anyone who may see the run sees it: its target without the key, its prompts' shape only. */
export type PublicSpec = Partial<Omit<LoadTestSpec, 'workload'>> & {
  workload?: Record<string, unknown>;
  target?: { kind: StoredTarget['kind']; via?: StoredTarget['via']; hasKey: boolean };
};

// The JSON columns as execute.ts writes them (the table itself types them as any JSON object).
/** Where a run stands, written every 500 ms while it goes (empty while queued). */
export type StoredProgress = Partial<LiveProgress> & { heartbeatAt?: number };
/** A finished (or cancelled) run's figures, with each stage's of a sweep and the load generator's own timing. */
export type StoredSummary = Summary & { stages?: StageResult[]; timing?: TimingError };

export function publicSpec(spec: Record<string, unknown>): PublicSpec {
  const { target, workload, ...rest } = spec as { target?: StoredTarget; workload?: Record<string, unknown> };
  return { ...rest, workload: publicWorkload(workload), target: target ? { kind: target.kind, via: target.via, hasKey: Boolean(target.keyEnc) } : undefined };
}

function publicRow(row: typeof loadTests.$inferSelect) {
  return { ...row, spec: publicSpec(row.spec), progress: row.progress as StoredProgress, summary: row.summary as StoredSummary | null };
}

export async function listLoadTests(db: Db, user: SessionUser) {
  const rows = await db
    .select({
      id: loadTests.id,
      name: loadTests.name,
      status: loadTests.status,
      model: loadTests.model,
      targetUrl: loadTests.targetUrl,
      mode: sql<string>`${loadTests.spec}->>'mode'`,
      progress: loadTests.progress,
      summary: loadTests.summary,
      error: loadTests.error,
      ownerId: loadTests.ownerId,
      createdAt: loadTests.createdAt,
      finishedAt: loadTests.finishedAt,
    })
    .from(loadTests)
    .where(visibility(user))
    .orderBy(desc(loadTests.createdAt))
    .limit(200);
  // The list needs headline figures only, not every stage's distributions.
  return rows.map(({ summary, progress, ...r }) => ({ ...r, progress: progress as StoredProgress, headline: headline(summary) }));
}

function headline(summary: Record<string, unknown> | null) {
  if (!summary) return null;
  const s = summary as { completed?: number; failed?: number; requestThroughput?: number; ttftMs?: { median?: number } | null };
  return { completed: s.completed ?? 0, failed: s.failed ?? 0, requestThroughput: s.requestThroughput ?? 0, ttftMedianMs: s.ttftMs?.median ?? null };
}

/** The run, if this user may see it; NOT_FOUND otherwise (no hint that it exists). */
export async function requireLoadTest(db: Db, user: SessionUser, id: string) {
  const [row] = await db.select().from(loadTests).where(and(eq(loadTests.id, id), visibility(user)));
  if (!row) throw new DomainError('NOT_FOUND', 'No such load test');
  return row;
}

export async function getLoadTest(db: Db, user: SessionUser, id: string) {
  return publicRow(await requireLoadTest(db, user, id));
}

export async function cancelLoadTest(db: Db, user: SessionUser, id: string) {
  const row = await requireLoadTest(db, user, id);
  if (row.ownerId !== user.id && user.role !== 'admin') throw new DomainError('FORBIDDEN', 'Only the owner or an admin can cancel this run');
  if (row.status !== 'queued' && row.status !== 'running') throw new DomainError('CONFLICT', `The run is already ${row.status}`);
  // The row is the truth: the worker polls it and stops; a queued job is removed so it never starts.
  await db
    .update(loadTests)
    .set({ status: 'cancelled', finishedAt: new Date() })
    .where(and(eq(loadTests.id, id), inArray(loadTests.status, ['queued', 'running'])));
  await afterCommit(() => removeQueued('loadtest', { loadTestId: id }).catch(() => {}));
  return { id };
}

export async function samplesOf(db: Db, id: string) {
  return db.select().from(loadTestSamples).where(eq(loadTestSamples.loadTestId, id)).orderBy(loadTestSamples.seq);
}

/** How long a running load test may go without a progress write (every 500 ms) before its worker counts as gone. */
export const ABANDONED_AFTER_MS = 120_000;

/**
 * Marks running load tests whose worker stopped writing progress (killed, crashed, machine gone) as
 * failed, so the list never shows a run "running" forever; the samples measured so far are kept.
 */
export async function sweepAbandonedLoadTests(db: Db, now = Date.now()): Promise<string[]> {
  const rows = await db
    .update(loadTests)
    .set({ status: 'failed', error: 'the worker running this load test stopped (no progress for 2 minutes); samples measured so far are kept', finishedAt: new Date(now) })
    .where(
      and(
        eq(loadTests.status, 'running'),
        sql`coalesce((${loadTests.progress}->>'heartbeatAt')::double precision, extract(epoch from ${loadTests.startedAt}) * 1000) < ${now - ABANDONED_AFTER_MS}`,
      ),
    )
    .returning({ id: loadTests.id });
  return rows.map((r) => r.id);
}
