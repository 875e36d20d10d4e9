import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { closeQueues, enqueue, queue } from '../core/queues';
import { closeRedis, redis, redisKey } from '../core/redis';
import { internalToken } from '../security/master-key';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { runMaintenance } from '../../workers/maintenance';
import { startKnowledgeWorker } from '../../workers/knowledge';
import { MAX_DOCUMENT_STALLS, SOURCE_GONE_ERROR, STALLED_ERROR, sweepStalledDocuments } from './stalled';

// Documents left unfinished by a worker that died (or a job Redis lost): the sweep queues them again and
// the real knowledge consumer finishes them; one that keeps stalling is failed with words its owner can act
// on. Real PostgreSQL, Redis and BullMQ; the embeddings come from a vLLM double standing in for the gateway.
process.env.REDIS_PREFIX = testRedisPrefix('kbstalled');

type Api = Awaited<ReturnType<typeof startApiTestServer>>;
type Session = Awaited<ReturnType<Api['userSession']>>;

let t: TestDatabase;
let api: Api;
let embeddings: OpenAIDouble;
let worker: Awaited<ReturnType<typeof startKnowledgeWorker>>;
let owner: Session;
let kb: string;
const masterKey = randomBytes(32);
const STALE = { staleAfterMs: 60_000 };

beforeAll(async () => {
  t = await createTestDatabase('kbstalled');
  embeddings = await startOpenAIDouble({ apiKey: internalToken(masterKey) });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: embeddings.url });
  await startWorker();
  owner = await api.userSession('user');
  kb = (await api.trpc('mutation', 'knowledge.create', { name: 'Stalls', embeddingModel: 'embedder', groupIds: [] }, owner.cookie)).data.id;
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await closeQueues();
  await closeRedis();
  await api?.close();
  await embeddings?.close();
  await t?.drop();
});

const startWorker = async () => {
  worker = await startKnowledgeWorker({ db: t.db, masterKey, gatewayUrl: embeddings.url });
};
/** No knowledge consumer running: what is queued stays waiting. */
const stopWorker = async () => {
  await worker.close();
};

type Doc = { id: string; status: string; progress: number; error: string | null; chunkCount: number };
const documentOf = async (id: string) => ((await api.trpc('query', 'knowledge.documents', { kbId: kb }, owner.cookie)).data as Doc[]).find((d) => d.id === id)!;

async function uploadReady(name: string, text: string): Promise<string> {
  const res = await api.request(`/api/knowledge/${kb}/documents?name=${encodeURIComponent(name)}`, { method: 'POST', body: new Uint8Array(Buffer.from(text)), headers: { 'content-type': 'application/octet-stream' }, cookie: owner.cookie });
  expect(res.status).toBe(201);
  const id = ((await res.json()) as { document: { id: string } }).document.id;
  await until(`${name} ready`, async () => (await documentOf(id))?.status === 'ready', 30_000);
  return id;
}

/** As a worker that died mid-embedding leaves it: half the vectors gone, 'embedding', last written ten minutes ago, no job. */
async function leaveStalled(id: string): Promise<void> {
  await t.db.execute(sql`UPDATE kb_chunks SET vector_enc = NULL WHERE document_id = ${id} AND ordinal % 2 = 1`);
  await t.db.execute(sql`UPDATE kb_documents SET status = 'embedding', progress = 0.5, embedded_model = NULL, updated_at = now() - interval '10 minutes' WHERE id = ${id}`);
}

const stallCount = async (id: string) => Number((await redis().get(redisKey('knowledge', 'stalls', id))) ?? 0);
const jobState = async (id: string) => (await (await queue('knowledge').getJob(id))?.getState()) ?? 'none';

describe('documents stuck after their worker died', () => {
  it('one left in embedding with no job is queued again by the sweep (in the maintenance task) and ends ready, every chunk embedded', async () => {
    const text = Array.from({ length: 40 }, (_, i) => `## Part ${i}\nThe inventory item ${i} is stored on shelf ${i * 3}.`).join('\n\n');
    const id = await uploadReady('inventory.md', text);
    await leaveStalled(id);
    expect(await jobState(id)).toBe('none');

    // Fresh ones (changed within the threshold) are not touched.
    expect(await sweepStalledDocuments(t.db, { staleAfterMs: 3_600_000 })).toEqual({ requeued: [], failed: [] });
    // The maintenance worker's 15-second task runs the sweep (its own threshold: ten minutes is past it).
    const swept = await runMaintenance(t.db, { task: 'nodes' });
    expect(swept.stalledDocuments).toEqual({ requeued: [id], failed: [] });
    const doc = await until('ready again', async () => {
      const d = await documentOf(id);
      return d.status === 'ready' ? d : undefined;
    }, 30_000);
    expect(doc).toMatchObject({ progress: 1, error: null });
    const missing = await t.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM kb_chunks WHERE document_id = ${id} AND vector_enc IS NULL`);
    expect(missing.rows[0]!.n).toBe(0);
    // The job ran to its end: the count is forgotten, a later stall starts again from one.
    await until('stall count cleared', async () => (await stallCount(id)) === 0);
  }, 60_000);

  it('one whose job is still waiting in the queue is left to it', async () => {
    const id = await uploadReady('waiting.md', '# Waiting\nThe queue still holds this one.');
    await stopWorker();
    try {
      await leaveStalled(id);
      await enqueue('knowledge', { documentId: id });
      expect(await jobState(id)).toBe('waiting');
      expect(await sweepStalledDocuments(t.db, STALE)).toEqual({ requeued: [], failed: [] });
      expect(await stallCount(id)).toBe(0);
    } finally {
      await startWorker();
    }
    await until('ready', async () => (await documentOf(id)).status === 'ready', 30_000);
  }, 60_000);

  it(`one that stalls ${MAX_DOCUMENT_STALLS} times is marked failed with a message its owner can act on`, async () => {
    const id = await uploadReady('cursed.md', '# Cursed\nEvery worker that reads this dies.');
    // No consumer takes the queued job: each time "the worker dies" (the job is gone) and the row is left as it was.
    await stopWorker();
    try {
      for (let sweep = 1; sweep < MAX_DOCUMENT_STALLS; sweep++) {
        await leaveStalled(id);
        expect(await sweepStalledDocuments(t.db, STALE)).toEqual({ requeued: [id], failed: [] });
        expect(await jobState(id)).toBe('waiting');
        expect(await stallCount(id)).toBe(sweep);
        await queue('knowledge').remove(id);
      }
      await leaveStalled(id);
      expect(await sweepStalledDocuments(t.db, STALE)).toEqual({ requeued: [], failed: [id] });
      expect(await jobState(id)).toBe('none');
    } finally {
      await startWorker();
    }
    expect(await documentOf(id)).toMatchObject({ status: 'failed', error: STALLED_ERROR });
    expect(STALLED_ERROR).toMatch(/upload the document again/);
    // Failed is final for the sweep: nothing more happens to it.
    expect(await sweepStalledDocuments(t.db, STALE)).toEqual({ requeued: [], failed: [] });
    expect(await stallCount(id)).toBe(0);
  }, 60_000);

  it('one whose upload is no longer stored (no job could finish it) is failed at once, not queued', async () => {
    const id = await uploadReady('gone.md', '# Gone\nThe bytes of this one are lost.');
    await leaveStalled(id);
    await t.db.execute(sql`UPDATE kb_documents SET source_enc = NULL WHERE id = ${id}`);
    expect(await sweepStalledDocuments(t.db, STALE)).toEqual({ requeued: [], failed: [id] });
    expect(await documentOf(id)).toMatchObject({ status: 'failed', error: SOURCE_GONE_ERROR });
    expect(await jobState(id)).toBe('none');
  });
});
