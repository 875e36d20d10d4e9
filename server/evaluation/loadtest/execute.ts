import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deploymentReplicas, loadTestSamples, loadTests } from '../../db/schema';
import { replicaAuthorization } from '../../engines/replica-secret';
import { errorMessage, log } from '../../core/log';
import { createApiKey, revokeApiKey } from '../../security/api-keys';
import { decryptText } from '../../security/encryption';
import { outboundPolicy } from '../../security/outbound/policy';
import { ProgressTracker } from './progress';
import { loadReplay } from './replay';
import { runLoadTest, type Target } from './run';
import { openPrompts } from './sealed-prompts';
import { loadTestSpecSchema } from './spec';
import type { StoredTarget } from './store';
import type { Sample } from './types';
import { claimLoadTest, ownedBy } from './takeover';

export const PROGRESS_EVERY_MS = 500;
const SAMPLE_BATCH = 500;

type Row = typeof loadTests.$inferSelect;

/** The target's URL and headers at run time; `cleanup` revokes a key minted for this run. */
async function resolveTarget(db: Db, row: Row, masterKey: Buffer | undefined): Promise<{ target: Target; cleanup: () => Promise<void>; keyId?: string }> {
  const stored = (row.spec.target ?? { kind: 'url' }) as StoredTarget;
  const headers: Record<string, string> = {};
  let cleanup = async () => {};
  let keyId: string | undefined;
  let url = row.targetUrl;
  if (stored.kind === 'deployment' && stored.via === 'gateway') {
    // An internal key of the owner, for this model only, for this run only: nothing to store, revoked at the end.
    // No concurrency cap: a load test sends as many requests at once as its spec says, on purpose.
    const key = await createApiKey(db, { userId: row.ownerId, name: `load test ${row.id.slice(0, 8)}`, models: [row.model], expiresAt: new Date(Date.now() + 86_400_000), maxConcurrent: 0 });
    headers.authorization = `Bearer ${key.key}`;
    cleanup = async () => void (await revokeApiKey(db, row.ownerId, key.id));
    keyId = key.id;
  } else if (stored.kind === 'deployment' && row.deploymentId) {
    // The replica chosen at creation may have moved: take a ready one now.
    const [replica] = await db
      .select({ id: deploymentReplicas.id, url: deploymentReplicas.url })
      .from(deploymentReplicas)
      .where(and(eq(deploymentReplicas.deploymentId, row.deploymentId), eq(deploymentReplicas.status, 'ready')))
      .limit(1);
    if (!replica) throw new Error('the deployment has no ready replica');
    url = `${replica.url.replace(/\/+$/, '')}/v1`;
    // The engine answers only to its replica's secret, as it does for the gateway.
    if (!masterKey) throw new Error('the worker has no master key to reach a replica directly');
    headers.authorization = replicaAuthorization(masterKey, replica.id);
  } else if (stored.keyEnc && stored.keyDataKeyId !== undefined) {
    if (!masterKey) throw new Error('the worker has no master key to open the stored API key');
    headers.authorization = `Bearer ${await decryptText(db, masterKey, Buffer.from(stored.keyEnc, 'base64'), stored.keyDataKeyId)}`;
  }
  // A URL someone typed goes through the outbound policy; a deployment is reached at Enclave's own addresses.
  const outbound = stored.kind === 'url' ? outboundPolicy().config : undefined;
  return { target: { url, model: row.model, headers, outbound }, cleanup, keyId };
}

/**
 * Runs one load_tests row: claims it (queued → running), streams samples into load_test_samples in
 * batches and progress into the row every PROGRESS_EVERY_MS, stops when the row is cancelled, and ends
 * with the summary (per stage, plus the generator's own timing error).
 */
export async function executeLoadTest(db: Db, id: string, opts: { masterKey?: Buffer } = {}): Promise<void> {
  const claimed = await claimLoadTest(db, id);
  if (!claimed) return; // cancelled before it started, or already taken by a live worker
  const { row, attempt } = claimed;
  if (attempt > 1) log.info('load test taken over from a silent worker, run again from the start', { id, attempt });
  const { target: _t, ...specRaw } = row.spec;
  const abort = new AbortController();
  let pending: Sample[] = [];
  let writes = Promise.resolve();
  let cleanup = async () => {};
  let tracker: ProgressTracker | undefined;
  // The key minted for this run, kept in its progress: a worker taking the run over revokes it (takeover.ts).
  let keyId: string | undefined;

  const flush = () => {
    const batch = pending;
    pending = [];
    const progress = tracker?.snapshot();
    writes = writes.then(async () => {
      for (let i = 0; i < batch.length; i += SAMPLE_BATCH) {
        await db
          .insert(loadTestSamples)
          .values(batch.slice(i, i + SAMPLE_BATCH).map((s) => ({ ...s, loadTestId: id, itlMs: s.itlMs })))
          .onConflictDoNothing();
      }
      if (progress) {
        const [now] = await db
          .update(loadTests)
          // heartbeatAt tells the maintenance sweep this run's worker is alive (see sweepAbandonedLoadTests).
          .set({ progress: { ...(progress as unknown as Record<string, unknown>), attempt, heartbeatAt: Date.now(), ...(keyId ? { keyId } : {}) } })
          .where(ownedBy(id, attempt))
          .returning({ id: loadTests.id });
        if (!now) abort.abort(); // the row left 'running' (cancelled from the UI or CLI), or another worker took it over
      }
    });
    return writes;
  };
  const timer = setInterval(() => void flush().catch((e) => log.warn('load test progress write failed', { id, error: errorMessage(e) })), PROGRESS_EVERY_MS);
  try {
    const spec = loadTestSpecSchema.parse(await openPrompts(db, opts.masterKey, specRaw));
    const stages = spec.mode === 'sweep' ? spec.sweep.stages + 2 : 1;
    tracker = new ProgressTracker(spec.requests * stages);
    if (spec.warmup > 0) tracker.setStage(-1, 'warmup');
    // The page shows "0 / total" from the first poll, not after the first batch.
    await flush();
    const resolved = await resolveTarget(db, row, opts.masterKey);
    cleanup = resolved.cleanup;
    keyId = resolved.keyId;
    if (keyId) await flush();
    const w = spec.workload;
    const replay = w.kind === 'replay' ? await loadReplay(db, w.model ?? row.model, w.hours, Math.min(spec.requests, 10_000)) : [];
    if (w.kind === 'replay' && replay.length === 0) throw new Error(`no successful requests of ${w.model ?? row.model} logged in the last ${w.hours} h to replay`);
    const result = await runLoadTest(spec, resolved.target, {
      signal: abort.signal,
      onStage: (s) => tracker!.setStage(s.stage, s.kind),
      onSamples: (s) => {
        tracker!.add(s);
        pending.push(...s);
      },
    }, replay);
    clearInterval(timer);
    await flush();
    const summary = { ...result.summary, stages: result.stages, timing: result.timing };
    await db
      .update(loadTests)
      .set({ status: result.cancelled ? 'cancelled' : 'succeeded', summary: summary as unknown as Record<string, unknown>, finishedAt: new Date() })
      .where(ownedBy(id, attempt));
    // Cancelled from outside: the row is already 'cancelled'; keep what was measured as its summary.
    if (result.cancelled) await db.update(loadTests).set({ summary: summary as unknown as Record<string, unknown> }).where(and(eq(loadTests.id, id), eq(loadTests.status, 'cancelled')));
  } catch (e) {
    clearInterval(timer);
    await flush().catch(() => {});
    // Messages here are ours or zod's (URLs, counts): never request or response content.
    await db
      .update(loadTests)
      .set({ status: 'failed', error: errorMessage(e).slice(0, 500), finishedAt: new Date() })
      .where(ownedBy(id, attempt));
    log.warn('load test failed', { id, error: errorMessage(e) });
  } finally {
    await cleanup().catch(() => {});
  }
}
