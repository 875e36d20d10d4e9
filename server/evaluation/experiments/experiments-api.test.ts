import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { auditLog, experimentVariants, experiments, messageFeedback, messages } from '../../db/schema';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { startGatewayHarness, type GatewayHarness } from '../../gateway/testing/harness';
import { makeDeployment } from '../../testing/factories';

let h: GatewayHarness;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const doubles: OpenAIDouble[] = [];
let depA: { id: string; name: string };
let depB: { id: string; name: string };

beforeAll(async () => {
  h = await startGatewayHarness('expapi');
  api = await startApiTestServer({ db: h.t.db, masterKey: h.masterKey, gatewayUrl: h.gateway.url });
  for (let i = 0; i < 2; i++) doubles.push(await startOpenAIDouble({ tokens: 3, interTokenMs: 5 }));
  depA = (await makeDeployment(h.t.db, {}, [doubles[0]!.url])).deployment;
  depB = (await makeDeployment(h.t.db, {}, [doubles[1]!.url])).deployment;
});
afterAll(async () => {
  await api?.close();
  await h?.close();
  await Promise.all(doubles.map((d) => d.close()));
});

/** One chat turn through chat.send (and so through the real gateway); returns the assistant message id. */
async function chatTurn(cookie: string, model: string): Promise<string> {
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, cookie)).data.id as string;
  const turn = await api.stream('chat.send', { conversationId, model, parentId: null, content: 'hello', maxTokens: 3 }, { cookie });
  const meta = turn.events.find((e) => e.event === 'meta');
  expect(meta, JSON.stringify(turn)).toBeDefined();
  return meta!.data.assistantMessageId as string;
}

it('engineers create, start, read and promote experiments; viewers read; users may not; bad input is refused without rows', async () => {
  const engineer = (await api.userSession('engineer')).cookie;
  const viewer = (await api.userSession('viewer')).cookie;
  const user = (await api.userSession('user')).cookie;
  const input = {
    name: 'chat-ab',
    variants: [
      { label: 'control', deploymentId: depA.id, weight: 1 },
      { label: 'candidate', deploymentId: depB.id, weight: 1 },
    ],
  };
  expect((await api.trpc('mutation', 'experiments.create', input, viewer)).status).toBe(403);
  expect((await api.trpc('query', 'experiments.list', undefined, user)).status).toBe(403);
  const bad = [
    { ...input, name: depA.name },
    { ...input, variants: input.variants.slice(0, 1) },
    { ...input, variants: [input.variants[0], { ...input.variants[1], weight: 0 }] },
    { ...input, variants: [input.variants[0], { ...input.variants[1], label: 'control' }] },
    { ...input, variants: [input.variants[0], { ...input.variants[1], deploymentId: '00000000-0000-4000-8000-000000000000' }] },
    { ...input, startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-01T00:00:00Z' },
    { ...input, name: "x'; DROP TABLE experiments; --" },
    'not an object',
  ];
  for (const b of bad) {
    const r = await api.trpc('mutation', 'experiments.create', b, engineer);
    expect([400, 409], JSON.stringify(r.error)).toContain(r.status);
  }
  expect((await h.t.db.select().from(experiments)).length).toBe(0);
  expect((await h.t.db.select().from(experimentVariants)).length).toBe(0);

  const created = await api.trpc('mutation', 'experiments.create', input, engineer);
  expect(created.status).toBe(200);
  const id = created.data.id as string;
  expect((await api.trpc('mutation', 'experiments.create', input, engineer)).status).toBe(409);
  expect((await api.trpc('mutation', 'experiments.stop', { id }, engineer)).status).toBe(409); // a draft is not running
  expect((await api.trpc('mutation', 'experiments.start', { id }, engineer)).status).toBe(200);
  await h.gateway.refresh();

  const listed = (await api.trpc('query', 'experiments.list', undefined, viewer)).data;
  expect(listed[0]).toMatchObject({ name: 'chat-ab', status: 'running' });
  expect(listed[0].variants.map((v: { label: string; deploymentName: string }) => [v.label, v.deploymentName])).toEqual([
    ['candidate', depB.name],
    ['control', depA.name],
  ]);

  // Chat through the experiment; the reply remembers its arm; feedback counts for that arm.
  const alice = await api.userSession('user');
  const offered = (await api.trpc('query', 'models.list', undefined, alice.cookie)).data as { name: string; engine: string }[];
  expect(offered).toContainEqual(expect.objectContaining({ name: 'chat-ab', engine: 'experiment' }));
  const mallory = await api.userSession('user');
  const messageId = await chatTurn(alice.cookie, 'chat-ab');
  const [stored] = await h.t.db.select().from(messages).where(eq(messages.id, messageId));
  const servedBy = stored!.metadata.servedBy as { variant: string; variantId: string };
  expect(['control', 'candidate']).toContain(servedBy.variant);

  expect((await api.trpc('mutation', 'experiments.feedback', { messageId, rating: 1 }, mallory.cookie)).status).toBe(404);
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId, rating: 2 }, alice.cookie)).status).toBe(400);
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId: 'nope', rating: 1 }, alice.cookie)).status).toBe(400);
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId, rating: -1 }, alice.cookie)).status).toBe(200);
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId, rating: 1 }, alice.cookie)).status).toBe(200);
  const fb = await h.t.db.select().from(messageFeedback);
  expect(fb).toEqual([expect.objectContaining({ messageId, rating: 1, experimentId: id, variantId: servedBy.variantId, model: 'chat-ab' })]);
  const [after] = await h.t.db.select().from(messages).where(eq(messages.id, messageId));
  expect(after!.metadata.feedback).toBe(1);
  const userMessage = await h.t.db.select().from(messages).where(and(eq(messages.role, 'user')));
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId: userMessage[0]!.id, rating: 1 }, alice.cookie)).status).toBe(400);

  // The gateway buffers request logs: write them now.
  await h.gateway.flushLogs();
  const armOf = (r: any) => r.stats.find((s: { variantId: string }) => s.variantId === servedBy.variantId);
  const report = (await api.trpc('query', 'experiments.get', { id }, viewer)).data;
  const arm = armOf(report);
  expect(arm).toMatchObject({ requests: 1, errors: 0, thumbsUp: 1, thumbsDown: 0 });
  expect(arm.e2e.p50).toBeGreaterThan(0);
  expect(report.comparisons).toHaveLength(1);
  expect(report.comparisons[0].overall).toBe('too_early');

  // Clearing the thumb removes the row.
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId, rating: 0 }, alice.cookie)).status).toBe(200);
  expect(await h.t.db.select().from(messageFeedback)).toEqual([]);

  const other = listed[0].variants[0].id as string;
  expect((await api.trpc('mutation', 'experiments.promote', { id, variantId: '00000000-0000-4000-8000-000000000000' }, engineer)).status).toBe(400);
  expect((await api.trpc('mutation', 'experiments.promote', { id, variantId: other }, viewer)).status).toBe(403);
  // Another engineer may read it, but only its creator or an admin decides where its traffic goes.
  const stranger = (await api.userSession('engineer')).cookie;
  expect((await api.trpc('mutation', 'experiments.promote', { id, variantId: other }, stranger)).error?.message).toBe('Only the creator of this experiment or an admin may do this');
  expect((await api.trpc('mutation', 'experiments.stop', { id }, stranger)).status).toBe(403);
  expect((await api.trpc('mutation', 'experiments.promote', { id, variantId: other }, engineer)).status).toBe(200);
  const [row] = await h.t.db.select().from(experiments).where(eq(experiments.id, id));
  expect(row).toMatchObject({ status: 'promoted', winnerVariantId: other });
  const audits = await h.t.db.select().from(auditLog).where(sql`${auditLog.action} LIKE 'experiments.%'`);
  expect(audits.map((a) => `${a.action}:${a.outcome}`)).toEqual(
    expect.arrayContaining(['experiments.create:success', 'experiments.start:success', 'experiments.promote:success', 'experiments.promote:denied']),
  );
});

it('feedback on a plain deployment reply is tagged with the deployment', async () => {
  const bob = await api.userSession('user');
  const messageId = await chatTurn(bob.cookie, depA.name);
  expect((await api.trpc('mutation', 'experiments.feedback', { messageId, rating: -1 }, bob.cookie)).status).toBe(200);
  const [row] = await h.t.db.select().from(messageFeedback).where(eq(messageFeedback.messageId, messageId));
  expect(row).toMatchObject({ rating: -1, deploymentId: depA.id, experimentId: null, variantId: null });
});

it('latency procedures: viewers read, users may not, hostile input is a 400, and a load test must be visible to the caller', async () => {
  const viewer = (await api.userSession('viewer')).cookie;
  const user = (await api.userSession('user')).cookie;
  await h.gateway.flushLogs();
  const ok = await api.trpc('query', 'experiments.latency', { scope: { kind: 'deployment', id: depA.id }, metric: 'e2e', hours: 24 }, viewer);
  expect(ok.status).toBe(200);
  expect(ok.data.series[0].count).toBeGreaterThan(0); // the chat turns of the first test went to depA at least once
  expect(ok.data.series[0].buckets.at(-1).le).toBeNull(); // +Inf travels as null
  expect((await api.trpc('query', 'experiments.latency', { scope: { kind: 'deployment', id: depA.id }, metric: 'e2e' }, user)).status).toBe(403);
  for (const bad of [
    { scope: { kind: 'table', id: depA.id }, metric: 'e2e' },
    { scope: { kind: 'model', name: "x' OR 1=1 --" }, metric: 'e2e; DROP TABLE request_logs' },
    { scope: { kind: 'deployment', id: 'not-a-uuid' }, metric: 'ttft' },
    { scope: { kind: 'model', name: 'm' }, metric: 'ttft', hours: -1 },
  ]) expect((await api.trpc('query', 'experiments.latency', bad, viewer)).status).toBe(400);
  const injected = await api.trpc('query', 'experiments.latency', { scope: { kind: 'model', name: "x' OR 1=1 --" }, metric: 'ttft' }, viewer);
  expect([injected.status, injected.data.series]).toEqual([200, []]);
  const hidden = await api.trpc('query', 'experiments.latency', { scope: { kind: 'loadTest', id: '00000000-0000-4000-8000-000000000000' }, metric: 'ttft' }, viewer);
  expect(hidden.status).toBe(404);
  const options = await api.trpc('query', 'experiments.latencyOptions', undefined, viewer);
  expect(options.data.deployments.map((d: { name: string }) => d.name)).toContain(depA.name);
});
