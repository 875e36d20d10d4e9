import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLoadTestWorker } from '../../../workers/loadtest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { auditLog, loadTests } from '../../db/schema';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { closeQueues, queue } from '../../core/queues';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeLoadTest, makeUser } from '../../testing/factories';
import { until } from '../../testing/until';

/**
 * Finding 16 of issue 9: uploaded load-test prompts were stored in plaintext in load_tests (and so in
 * PostgreSQL's WAL). They are sealed like every other user text; the row keeps only their shape, the
 * API returns only that, and the worker opens them to run the test.
 */
process.env.REDIS_PREFIX = testRedisPrefix('sealedprompts');
// The engine double listens on loopback, which the outbound policy refuses unless allowed.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let worker: { close(): Promise<void> } | undefined;
const masterKey = randomBytes(32);
const PROMPTS = ['MARKER-alpha tell me about rivers', 'MARKER-bravo write a haiku', 'MARKER-charlie list three birds'];

beforeAll(async () => {
  t = await createTestDatabase('sealedprompts');
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1' } });
  engine = await startOpenAIDouble({ tokens: 3 });
}, 60_000);
afterAll(async () => {
  await worker?.close();
  await queue('loadtest').obliterate({ force: true });
  await closeQueues();
  await engine?.close();
  await api?.close();
  await t?.drop();
});

/** The row as PostgreSQL holds it, every column as text: what a dump, a backup or the WAL would carry. */
async function rawRow(id: string): Promise<string> {
  const result = await t.db.execute(sql`SELECT row_to_json(l)::text AS raw FROM load_tests l WHERE id = ${id}`);
  return String(result.rows[0]!.raw);
}

const spec = (prompts: string[]) => ({ mode: 'concurrency', concurrency: 1, requests: prompts.length, workload: { kind: 'prompts', prompts, outputTokens: 3 } });
const finished = (id: string) =>
  until('the run to finish', async () => {
    const [row] = await t.db.select().from(loadTests).where(eq(loadTests.id, id));
    return row && ['succeeded', 'failed'].includes(row.status) && row;
  }, 60_000);

it('seals, at worker start, the plaintext prompt sets stored before, and still runs them', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  const legacy = await makeLoadTest(t.db, { ownerId: owner.id, name: 'from before', targetUrl: `${engine.url}/v1`, model: 'double', spec: { ...spec(['MARKER-legacy one prompt']), target: { kind: 'url' } } });
  expect(await rawRow(legacy.id)).toContain('MARKER-legacy');

  worker = await startLoadTestWorker(t.db, { masterKey });
  expect(await rawRow(legacy.id)).not.toContain('MARKER');
  expect((await t.db.select().from(loadTests).where(eq(loadTests.id, legacy.id)))[0]!.spec.workload).toMatchObject({ kind: 'prompts', promptCount: 1, promptChars: 24, outputTokens: 3 });

  // A queued row from before runs as it would have.
  await queue('loadtest').add('loadtest', { loadTestId: legacy.id }, { jobId: legacy.id });
  expect(await finished(legacy.id)).toMatchObject({ status: 'succeeded', error: null });
  expect(engine.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: 'MARKER-legacy one prompt' }]);
});

it('stores an uploaded prompt set sealed, shows only its shape, and the worker sends the prompts', async () => {
  const engineer = await api.userSession('engineer');
  const created = await api.trpc('mutation', 'loadtests.create', { name: 'sealed', target: { kind: 'url', url: `${engine.url}/v1`, model: 'double' }, spec: spec(PROMPTS) }, engineer.cookie);
  expect(created.status).toBe(200);
  const id = created.data.id as string;

  // Nothing of the prompts' text in the row, in any column; nor in the audit row of its creation.
  expect(await rawRow(id)).not.toContain('MARKER');
  const audits = await t.db.select().from(auditLog).where(eq(auditLog.action, 'loadtests.create'));
  expect(JSON.stringify(audits)).not.toContain('MARKER');

  const done = await finished(id);
  expect(done).toMatchObject({ status: 'succeeded', error: null });
  expect(done.summary).toMatchObject({ completed: 3, failed: 0 });
  // Prompts are used in order: the last request carried the last prompt.
  expect(engine.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: PROMPTS[2] }]);

  const shown = (await api.trpc('query', 'loadtests.get', { id }, engineer.cookie)).data;
  expect(shown.spec.workload).toEqual({ kind: 'prompts', outputTokens: 3, promptCount: 3, promptChars: PROMPTS.join('').length });
  const exported = await (await api.request(`/api/loadtests/${id}/export?format=json`, { cookie: engineer.cookie })).text();
  expect(exported).not.toContain('MARKER');
  expect(exported).not.toContain('promptsEnc');
});
