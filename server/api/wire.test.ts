import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startApiTestServer } from './testing/api-test-server';
import { transformer } from './transformer';

// How tRPC values travel (transformer.ts), read on the wire itself.
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let cookie: string;

beforeAll(async () => {
  t = await createTestDatabase('wire');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32) });
  cookie = (await api.userSession('user')).cookie;
});
afterAll(async () => {
  await api?.close();
  await t?.drop();
});

it('answers in superjson: a date arrives as a Date', async () => {
  await api.trpc('mutation', 'conversations.create', { title: 'dated' }, cookie);
  const raw = (await (await api.request('/api/trpc/conversations.list', { cookie })).json()) as { result: { data: { json: { updatedAt: string }[]; meta: unknown } } };
  expect(typeof raw.result.data.json[0]!.updatedAt).toBe('string');
  expect(raw.result.data.meta).toBeDefined();
  const decoded = transformer.output.deserialize(raw.result.data) as { updatedAt: unknown }[];
  expect(decoded[0]!.updatedAt).toBeInstanceOf(Date);
});

it('keeps error shapes plain JSON, as scripts and the listener’s own refusals write them', async () => {
  const res = await api.request('/api/trpc/conversations.list');
  expect(res.status).toBe(401);
  expect(await res.json()).toMatchObject({ error: { message: 'Sign in first', data: { code: 'UNAUTHORIZED', httpStatus: 401 } } });
});

it('reads inputs as the plain JSON sent: superjson metadata in an input builds nothing', async () => {
  const envelope = { json: { title: 'from meta' }, meta: { values: { title: ['Date'] } } };
  const created = await api.trpc('mutation', 'conversations.create', envelope, cookie);
  expect(created.status).toBe(200);
  // The envelope's keys are not the procedure's fields: no title was taken from it.
  const got = await api.trpc('query', 'conversations.get', { id: created.data.id }, cookie);
  expect(got.data.title).not.toBe('from meta');
});
