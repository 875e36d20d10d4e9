import { randomBytes } from 'node:crypto';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import type { StreamedEvent } from '../../api/testing/stream-client';
import { auditLog, battles, conversations, deploymentReplicas, messages } from '../../db/schema';
import { internalToken } from '../../security/master-key';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeModelVersion } from '../../testing/factories';
import { answer, startOpenAIDouble, type OpenAIDouble, type OpenAIDoubleOptions } from '../../testing/openai-double';
import { until } from '../../testing/until';
import { identityNames } from './battles';

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let gateway: OpenAIDouble;
let alice: Awaited<ReturnType<typeof api.userSession>>;
const masterKey = randomBytes(32);

// Names chosen so that none is a substring of another or of any answer.
const ANSWERS = { 'zeta-north': 'Once upon a time there was a small red boat. ', 'omega-south': 'The sun rose over the quiet hills and fields. ', leaky: 'Hello, I am ChatGPT and I like boats. ' };

/** The gateway as the web role calls it (its internal token): each model answers its text word by word; "refuser" has no ready replica. */
const gatewayAnswering = (pieceMs: number): OpenAIDoubleOptions => ({
  apiKey: internalToken(masterKey),
  ...answer('A plain answer from a model.'),
  firstTokenMs: pieceMs,
  interTokenMs: pieceMs,
  models: {
    ...Object.fromEntries(Object.entries(ANSWERS).map(([model, text]) => [model, answer(text)])),
    refuser: { failure: { status: 503, message: "The model 'refuser' has no ready replica", type: 'server_error' } },
  },
});

beforeAll(async () => {
  t = await createTestDatabase('arena');
  gateway = await startOpenAIDouble(gatewayAnswering(2));
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url });
  alice = await api.userSession('user');
  // users, viewers and admins see the two clean models; engineers see zeta-north and the one that names itself.
  await makeDeployment(t.db, { name: 'zeta-north' }, ['http://127.0.0.1:1']);
  await makeDeployment(t.db, { name: 'omega-south', allowedRoles: ['user', 'viewer', 'admin'] }, ['http://127.0.0.1:1']);
  await makeDeployment(t.db, { name: 'leaky', allowedRoles: ['engineer'] }, ['http://127.0.0.1:1']);
  await makeDeployment(t.db, { name: 'refuser', allowedRoles: ['admin'] }, ['http://127.0.0.1:1']);
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await t?.drop();
});

type SseEvent = StreamedEvent;

/** arena.start like the page does: every event, and the raw text to search for names. */
const round = (body: unknown, cookie = alice.cookie, server = api) => server.stream('arena.start', body, { cookie });

const vote = (battleId: string, winner: string, cookie = alice.cookie, server = api) => server.trpc('mutation', 'arena.vote', { battleId, winner }, cookie);
const textOf = (events: SseEvent[], side: 'a' | 'b') => events.filter((e) => e.event === 'delta' && e.data.side === side).map((e) => e.data.text).join('');
const rowCount = async (table: typeof battles | typeof conversations | typeof messages) => (await t.db.select({ n: count() }).from(table))[0]!.n;

describe('arena rounds', () => {
  it('streams both answers side by side without ever sending a model name, stores them encrypted, and reveals the names only after the vote', async () => {
    const { status, events, raw } = await round({ content: 'Tell me about boats', maxTokens: 50 });
    expect(status).toBe(200);
    expect(events[0]!.event).toBe('meta');
    // Only what the page needs, and nothing that could name a model.
    expect(events[0]!.data).toEqual({ conversationId: expect.any(String), userMessageId: expect.any(String), maxTokens: 50 });
    for (const e of events.filter((x) => x.event === 'delta')) expect(Object.keys(e.data).sort()).toEqual(['side', 'text']);
    expect(Object.keys(events.at(-1)!.data)).toEqual(['battleId']);
    expect(events.at(-1)!.event).toBe('end');
    expect(events.filter((e) => e.event === 'sideDone').map((e) => e.data.side).sort()).toEqual(['a', 'b']);
    for (const name of ['zeta-north', 'omega-south', 'zeta', 'omega']) expect(raw.toLowerCase()).not.toContain(name);
    const answers = [textOf(events, 'a'), textOf(events, 'b')].sort();
    expect(answers).toEqual([ANSWERS['omega-south'], ANSWERS['zeta-north']].sort());

    // Both models got the same prompt, as alice (so the gateway applies her access and logs).
    const sent = gateway.requests.slice(-2);
    expect(sent.map((r) => r.body?.model).sort()).toEqual(['omega-south', 'zeta-north']);
    for (const r of sent) expect([r.headers['x-enclave-user-id'], r.body?.messages]).toEqual([alice.user.id, [{ role: 'user', content: 'Tell me about boats' }]]);

    const { battleId } = events.at(-1)!.data;
    const { conversationId, userMessageId } = events[0]!.data;
    const before = await api.trpc('query', 'conversations.get', { id: conversationId }, alice.cookie);
    expect(before.data.messages).toHaveLength(3);
    expect(before.data.messages.filter((m: any) => m.parentId === userMessageId).map((m: any) => m.metadata.arena.side).sort()).toEqual(['a', 'b']);
    expect(JSON.stringify(before.data)).not.toMatch(/zeta|omega/);
    const mine = await api.trpc('query', 'arena.myBattles', undefined, alice.cookie);
    expect(mine.data.battles[0]).toMatchObject({ id: battleId, winner: null, modelA: null, modelB: null });
    const stored = await t.db.select().from(messages).where(eq(messages.conversationId, conversationId));
    for (const m of stored) expect(m.contentEnc.toString('utf8')).not.toMatch(/boat|sun rose/);

    const voted = await vote(battleId, 'a');
    expect(voted.status).toBe(200);
    const modelA = voted.data.modelA as string;
    expect(textOf(events, 'a')).toBe(ANSWERS[modelA as keyof typeof ANSWERS]);
    expect(voted.data).toMatchObject({ battleId, winner: 'a', excluded: false, excludedReason: null });
    expect([voted.data.modelA, voted.data.modelB].sort()).toEqual(['omega-south', 'zeta-north']);
    const after = await api.trpc('query', 'conversations.get', { id: conversationId }, alice.cookie);
    const sideA = after.data.messages.find((m: any) => m.metadata.arena?.side === 'a');
    expect(sideA.model).toBe(modelA);
    expect((await api.trpc('query', 'arena.myBattles', undefined, alice.cookie)).data.battles[0]).toMatchObject({ id: battleId, winner: 'a', modelA });

    const audit = await t.db.select().from(auditLog);
    expect(audit.map((r) => [r.action, r.outcome])).toEqual(expect.arrayContaining([['arena.start', 'success'], ['arena.vote', 'success']]));
    expect(audit.find((r) => r.action === 'arena.vote')!.target).toBe(battleId);
    expect(JSON.stringify(audit)).not.toContain('Tell me about boats');
  });

  it('takes one vote per battle, only from its own user, with a clear error for anything malformed', async () => {
    const { events } = await round({ content: 'Another question' });
    const { battleId } = events.at(-1)!.data;
    const bob = await api.userSession('user');
    expect((await vote(battleId, 'b', bob.cookie)).error).toMatchObject({ message: 'Battle not found', data: { code: 'NOT_FOUND' } });
    expect((await vote(battleId, 'left')).error?.data.code).toBe('BAD_REQUEST');
    expect((await vote('not-a-uuid', 'a')).error?.data.code).toBe('NOT_FOUND');
    expect((await vote(battleId, 'a', '')).error?.data.code).toBe('UNAUTHORIZED');
    expect((await vote(battleId, 'tie')).status).toBe(200);
    const again = await vote(battleId, 'b');
    expect([again.status, again.error?.message]).toEqual([409, 'You have already voted on this battle']);
    const [row] = await t.db.select().from(battles).where(eq(battles.id, battleId));
    expect(row!.winner).toBe('tie');
  });

  it('keeps a vote whose answer names a model, but marks it excluded with the reason and leaves it out of the ratings', async () => {
    const engineer = await api.userSession('engineer');
    const { events } = await round({ content: 'Who are you?' }, engineer.cookie);
    const { battleId } = events.at(-1)!.data;
    const before = (await api.trpc('query', 'arena.leaderboard', undefined, alice.cookie)).data;
    const voted = await vote(battleId, 'a', engineer.cookie);
    expect(voted.data).toMatchObject({ excluded: true, excludedReason: expect.stringContaining('chatgpt') });
    const after = (await api.trpc('query', 'arena.leaderboard', undefined, alice.cookie)).data;
    expect(after.excludedVotes).toBe(before.excludedVotes + 1);
    expect(after.countedVotes).toBe(before.countedVotes);
    expect(after.rows.map((r: any) => r.model)).not.toContain('leaky');
  });

  it('shows a leaderboard to every role, with ratings, intervals, Elo and vote counts', async () => {
    const viewer = await api.userSession('viewer');
    const board = await api.trpc('query', 'arena.leaderboard', undefined, viewer.cookie);
    expect(board.status).toBe(200);
    expect(board.data.countedVotes).toBe(2);
    expect(board.data.rows).toHaveLength(2);
    for (const row of board.data.rows) {
      expect(row.low).toBeLessThanOrEqual(row.rating);
      expect(row.high).toBeGreaterThanOrEqual(row.rating);
      expect(row.votes).toBe(2);
      expect(typeof row.elo).toBe('number');
    }
    expect((await api.trpc('query', 'arena.leaderboard', undefined, '')).status).toBe(401);
  });

  it('refuses rounds it cannot run with a clear error and writes nothing', async () => {
    const admin = await api.userSession('admin');
    const before = [await rowCount(conversations), await rowCount(messages), await rowCount(battles)];
    const cases: [body: unknown, cookie: string, status: number, message: RegExp][] = [
      ['not an object', alice.cookie, 400, /JSON object/],
      [[1, 2], alice.cookie, 400, /JSON object/],
      [{ content: '   ' }, alice.cookie, 400, /content cannot be empty/],
      [{ content: 'x'.repeat(32_001) }, alice.cookie, 400, /at most 32000/],
      [{ content: 'hi', maxTokens: 0 }, alice.cookie, 400, /maxTokens must be between/],
      [{ content: 'hi', model: 'zeta-north' }, alice.cookie, 400, /Unknown field\(s\): model/],
      [{ content: 'hi' }, '', 401, /Sign in/],
    ];
    for (const [body, cookie, status, message] of cases) {
      const res = await round(body, cookie);
      expect([res.status, res.error?.message]).toEqual([status, expect.stringMatching(message)]);
    }
    // The admin can see "refuser", which the gateway turns away: retried until that pair comes up.
    let refused: Awaited<ReturnType<typeof round>> | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = await round({ content: 'hi', maxTokens: 2 }, admin.cookie);
      if (r.status !== 200) refused = r;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.error?.message).toBe('One of the two models could not take the request; try a new round');
    const adminRounds = gateway.requests.filter((r) => r.body?.model === 'refuser').length;
    expect(adminRounds).toBeGreaterThan(0);

    // With only one ready model there is no pair.
    await t.db.update(deploymentReplicas).set({ status: 'starting' });
    const lonely = await round({ content: 'hi' });
    expect([lonely.status, lonely.error?.message]).toEqual([409, 'The arena needs at least two ready models you may use']);
    await t.db.update(deploymentReplicas).set({ status: 'ready' });

    const getRes = await api.request('/api/trpc/arena.start', { cookie: alice.cookie });
    expect(getRes.status).toBe(405);
    const crossSite = await api.stream('arena.start', { content: 'hi' }, { cookie: alice.cookie, headers: { origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    // Only the admin's successful rounds wrote rows: each one conversation, three messages, one battle.
    const adminBattles = (await t.db.select({ n: count() }).from(battles).where(eq(battles.userId, admin.user.id)))[0]!.n;
    expect([await rowCount(conversations), await rowCount(messages), await rowCount(battles)]).toEqual([before[0]! + adminBattles, before[1]! + 3 * adminBattles, before[2]! + adminBattles]);
  });

  it('caps votes per user per day, and refuses new rounds once the cap is reached', async () => {
    const capped = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { ENCLAVE_ARENA_DAILY_VOTES: '2' } });
    try {
      const carol = await capped.userSession('user');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await round({ content: `q${i}`, maxTokens: 3 }, carol.cookie, capped)).events.at(-1)!.data.battleId);
      expect((await vote(ids[0]!, 'a', carol.cookie, capped)).status).toBe(200);
      expect((await vote(ids[1]!, 'both_bad', carol.cookie, capped)).status).toBe(200);
      const third = await vote(ids[2]!, 'b', carol.cookie, capped);
      expect([third.status, third.error?.data.code]).toEqual([429, 'TOO_MANY_REQUESTS']);
      expect(third.error?.message).toMatch(/limit of 2 arena votes/);
      const blocked = await round({ content: 'more' }, carol.cookie, capped);
      expect(blocked.status).toBe(429);
      expect((await capped.trpc('query', 'arena.myBattles', undefined, carol.cookie)).data).toMatchObject({ votesToday: 2, dailyCap: 2 });
      // Another user's cap is their own.
      expect((await vote(ids[2]!, 'b', alice.cookie)).error?.data.code).toBe('NOT_FOUND');
    } finally {
      await capped.close();
    }
  });

  it('checks answers against the deployments’ names and the names of the models behind them', async () => {
    const { version } = await makeModelVersion(t.db, { modelName: 'Wombat-7B', location: '/models/wombat.gguf' });
    await makeDeployment(t.db, { name: 'internal-chat', modelVersionId: version.id });
    expect((await identityNames(t.db, ['internal-chat', 'zeta-north'])).sort()).toEqual(['Wombat-7B', 'internal-chat', 'zeta-north']);
  });

  it('keeps the partial answers of a round the browser stopped, as a battle left out of the ratings', async () => {
    const slow = await startOpenAIDouble(gatewayAnswering(40));
    const slowApi = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: slow.url });
    try {
      const dave = await slowApi.userSession('user');
      await slowApi.stream('arena.start', { content: 'Stop me' }, { cookie: dave.cookie, stopAfterDeltas: 1 });
      const battle = await until('the stopped round to be saved', async () => (await t.db.select().from(battles).where(eq(battles.userId, dave.user.id)))[0]);
      expect(battle).toMatchObject({ excluded: true, excludedReason: 'The round was stopped before both answers finished', winner: null });
      const answers = (await slowApi.trpc('query', 'conversations.get', { id: battle.conversationId }, dave.cookie)).data.messages.filter((m: any) => m.role === 'assistant');
      expect(answers).toHaveLength(2);
      for (const a of answers) expect(a.metadata).toMatchObject({ stopped: true, finishReason: 'stop_requested' });
    } finally {
      await slowApi.close();
      await slow.close();
    }
  });
});
