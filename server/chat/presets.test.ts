import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { conversations, presets } from '../db/schema';
import { internalToken } from '../security/master-key';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { answer, startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';

type Api = Awaited<ReturnType<typeof startApiTestServer>>;
type Session = Awaited<ReturnType<Api['userSession']>>;

let t: TestDatabase;
let api: Api;
// The same handler with ENCLAVE_CHAT_TITLES=model (the product's default; the test server's is first-message).
let titling: Api;
let gateway: OpenAIDouble;
let owner: Session, member: Session, outsider: Session, admin: Session;
let team: string, otherTeam: string;
const masterKey = randomBytes(32);
// What the double answers for this model, to chat and to the title request alike.
const MODEL_TITLE = '**Sleepy cats at noon.**';

beforeAll(async () => {
  t = await createTestDatabase('presets');
  // The gateway as the web role calls it (its internal token): short filler replies, and one model with a fixed text.
  gateway = await startOpenAIDouble({
    apiKey: internalToken(masterKey),
    tokens: 3,
    token: (i) => `w${i} `,
    firstTokenMs: 2,
    interTokenMs: 2,
    models: { titled: answer(MODEL_TITLE), 'slow-titled': { ...answer(MODEL_TITLE), firstTokenMs: 1_500 } },
  });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url });
  titling = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { ENCLAVE_CHAT_TITLES: 'model' } });
  [owner, member, outsider, admin] = await Promise.all([api.userSession('user'), api.userSession('user'), api.userSession('user'), api.userSession('admin')]);
  // Through the admin's API, as an admin makes them: the owner and a member in one group, the outsider in another.
  team = (await api.trpc('mutation', 'groups.create', { name: 'team' }, admin.cookie)).data.id;
  otherTeam = (await api.trpc('mutation', 'groups.create', { name: 'other team' }, admin.cookie)).data.id;
  for (const [groupId, user] of [[team, owner], [team, member], [otherTeam, outsider]] as const)
    expect((await api.trpc('mutation', 'groups.addMember', { groupId, userId: user.user.id }, admin.cookie)).status).toBe(200);
});
afterAll(async () => {
  await titling?.close();
  await api?.close();
  await gateway?.close();
  await t?.drop();
});

const values = (over: Record<string, unknown> = {}) => ({
  name: 'Reviewer',
  systemPrompt: 'You are a careful code reviewer. Answer briefly.',
  model: 'tiny',
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 300,
  contextPolicy: 'turns',
  contextTurns: 4,
  ...over,
});
const create = (over: Record<string, unknown> = {}, who = owner) => api.trpc('mutation', 'presets.create', values(over), who.cookie);
const list = async (who: Session) => (await api.trpc('query', 'presets.list', undefined, who.cookie)).data as { id: string; name: string; mine: boolean; ownerName: string; groupIds: string[]; systemPrompt: string }[];
const getConversation = async (id: string, who = owner) => (await api.trpc('query', 'conversations.get', { id }, who.cookie)).data;

describe('presets', () => {
  it('creates, lists, updates and deletes its own, sealing the system prompt', async () => {
    const created = await create();
    expect(created.status).toBe(200);
    const id = created.data.id as string;
    const [mine] = (await list(owner)).filter((p) => p.id === id);
    expect(mine).toMatchObject({ ...values(), mine: true, groupIds: [] });
    // At rest the prompt is ciphertext, under the owner's key.
    const [row] = await t.db.select().from(presets).where(eq(presets.id, id));
    expect(row!.systemPromptEnc.toString('utf8')).not.toContain('careful code reviewer');

    expect((await api.trpc('mutation', 'presets.update', { id, values: values({ name: 'Terse reviewer', contextPolicy: 'trim', contextTurns: null, topP: null }) }, owner.cookie)).status).toBe(200);
    expect((await list(owner)).find((p) => p.id === id)).toMatchObject({ name: 'Terse reviewer', contextPolicy: 'trim', contextTurns: null, topP: null });

    expect((await api.trpc('mutation', 'presets.delete', { id }, owner.cookie)).status).toBe(200);
    expect((await list(owner)).some((p) => p.id === id)).toBe(false);
    expect((await api.trpc('mutation', 'presets.delete', { id }, owner.cookie)).status).toBe(404);
  });

  it('refuses bad values with a 400 that names the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: '' }, /name is required/],
      [{ name: 'x'.repeat(101) }, /name must be at most 100 characters/],
      [{ systemPrompt: 'x'.repeat(8001) }, /systemPrompt must be at most 8000 characters/],
      [{ temperature: 3 }, /temperature must be between 0 and 2/],
      [{ topP: 0 }, /topP must be between 0.01 and 1/],
      [{ maxTokens: 1.5 }, /maxTokens must be a whole number/],
      [{ maxTokens: 5000 }, /maxTokens must be between 1 and 4096/],
      [{ contextPolicy: 'forget' }, /contextPolicy must be 'summarize', 'trim' or 'turns'/],
      [{ contextPolicy: 'turns', contextTurns: null }, /contextTurns is required with contextPolicy 'turns'/],
      [{ groupIds: ['not-a-group'] }, /groupIds: each must be a group id/],
      [{ groupIds: ['00000000-0000-4000-8000-000000000000'] }, /groupIds: a group does not exist/],
      [{ owner: 'someone else' }, /owner/],
    ];
    const before = (await list(owner)).length;
    for (const [over, message] of cases) {
      const res = await create(over);
      expect([JSON.stringify(over).slice(0, 60), res.status, res.error?.message]).toEqual([JSON.stringify(over).slice(0, 60), 400, expect.stringMatching(message)]);
    }
    expect((await list(owner)).length).toBe(before);
  });

  it('shared with a group: members see and use it but cannot change it; others cannot see it; sharing needs membership (or an admin)', async () => {
    const { data } = await create({ name: 'Team reviewer', groupIds: [team] });
    const id = data.id as string;

    // A member sees it, marked with its owner, without the owner's sharing list.
    const seen = (await list(member)).find((p) => p.id === id);
    expect(seen).toMatchObject({ name: 'Team reviewer', mine: false, ownerName: owner.user.name, groupIds: [], systemPrompt: values().systemPrompt });
    // ... starts a chat from it ...
    const conv = await api.trpc('mutation', 'conversations.create', { presetId: id }, member.cookie);
    expect(conv.status).toBe(200);
    expect(await getConversation(conv.data.id, member)).toMatchObject({ systemPrompt: values().systemPrompt, model: 'tiny' });
    // ... and cannot change or delete it.
    const edit = await api.trpc('mutation', 'presets.update', { id, values: values({ name: 'Hijacked' }) }, member.cookie);
    expect([edit.status, edit.error?.message]).toEqual([403, 'Only its owner can change or delete this preset']);
    expect((await api.trpc('mutation', 'presets.delete', { id }, member.cookie)).status).toBe(403);
    expect((await list(owner)).find((p) => p.id === id)?.name).toBe('Team reviewer');

    // Someone in no group of it: not in the list, and by id exactly like a missing preset.
    expect((await list(outsider)).some((p) => p.id === id)).toBe(false);
    for (const [kind, path, input] of [
      ['mutation', 'conversations.create', { presetId: id }],
      ['mutation', 'presets.update', { id, values: values() }],
      ['mutation', 'presets.delete', { id }],
    ] as const) {
      const res = await api.trpc(kind, path, input, outsider.cookie);
      expect([path, res.status, res.error?.message]).toEqual([path, 404, 'Preset not found']);
    }

    // Sharing with a group one is not in is refused; an admin may share with any group.
    const foreign = await create({ groupIds: [otherTeam] });
    expect([foreign.status, foreign.error?.message]).toEqual([403, 'A preset can be shared only with groups you are in']);
    const moved = await api.trpc('mutation', 'presets.update', { id, values: values({ name: 'Team reviewer', groupIds: [team, otherTeam] }) }, owner.cookie);
    expect(moved.status).toBe(403);
    const byAdmin = await create({ name: 'For the other team', groupIds: [otherTeam] }, admin);
    expect(byAdmin.status).toBe(200);
    expect((await list(outsider)).find((p) => p.id === byAdmin.data.id)).toMatchObject({ mine: false, ownerName: admin.user.name });
    expect((await list(member)).some((p) => p.id === byAdmin.data.id)).toBe(false);

    // Unshared again: the member no longer sees it.
    expect((await api.trpc('mutation', 'presets.update', { id, values: values({ name: 'Team reviewer', groupIds: [] }) }, owner.cookie)).status).toBe(200);
    expect((await list(member)).some((p) => p.id === id)).toBe(false);
  });

  it('a conversation started from a preset keeps its copy: system prompt, model, top_p and context policy; a later edit or delete changes nothing', async () => {
    const { data } = await create({ name: 'Copy me' });
    const conv = await api.trpc('mutation', 'conversations.create', { presetId: data.id }, owner.cookie);
    const expected = { systemPrompt: values().systemPrompt, model: 'tiny', topP: 0.9, context: { policy: 'turns', turns: 4 } };
    expect(await getConversation(conv.data.id)).toMatchObject(expected);
    // The copy is sealed with the conversation.
    const [row] = await t.db.select().from(conversations).where(eq(conversations.id, conv.data.id));
    expect(row!.systemPromptEnc!.toString('utf8')).not.toContain('careful code reviewer');

    await api.trpc('mutation', 'presets.update', { id: data.id, values: values({ systemPrompt: 'Changed later.', contextPolicy: 'trim', contextTurns: null }) }, owner.cookie);
    expect(await getConversation(conv.data.id)).toMatchObject(expected);
    expect((await api.trpc('mutation', 'presets.delete', { id: data.id }, owner.cookie)).status).toBe(200);
    expect(await getConversation(conv.data.id)).toMatchObject(expected);
    // A model named at creation wins over the preset's; an unknown preset id is not found.
    const { data: other } = await create({ name: 'Other' });
    expect((await getConversation((await api.trpc('mutation', 'conversations.create', { presetId: other.id, model: 'titled' }, owner.cookie)).data.id)).model).toBe('titled');
    expect((await api.trpc('mutation', 'conversations.create', { presetId: data.id }, owner.cookie)).status).toBe(404);
  });
});

describe('system prompt', () => {
  it('goes to the engine first, with the conversation’s top_p, on every turn; set and cleared on the conversation', async () => {
    const { data } = await create({ name: 'First' });
    const conversationId = (await api.trpc('mutation', 'conversations.create', { presetId: data.id }, owner.cookie)).data.id as string;
    const first = await api.stream('chat.send', { conversationId, model: 'tiny', parentId: null, content: 'Review this line' }, { cookie: owner.cookie });
    expect(first.status).toBe(200);
    expect(gateway.requests.at(-1)!.body).toMatchObject({
      top_p: 0.9,
      messages: [
        { role: 'system', content: values().systemPrompt },
        { role: 'user', content: 'Review this line' },
      ],
    });

    const changed = await api.trpc('mutation', 'conversations.setSystemPrompt', { id: conversationId, systemPrompt: '  Answer in French.  ' }, owner.cookie);
    expect(changed.status).toBe(200);
    expect((await getConversation(conversationId)).systemPrompt).toBe('Answer in French.');
    await api.stream('chat.send', { conversationId, model: 'tiny', parentId: first.events[0]!.data.assistantMessageId, content: 'And this one?' }, { cookie: owner.cookie });
    expect(gateway.requests.at(-1)!.body!.messages).toEqual([
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'Review this line' },
      { role: 'assistant', content: 'w0 w1 w2 ' },
      { role: 'user', content: 'And this one?' },
    ]);

    // '' removes it: nothing is sent before the user's message.
    await api.trpc('mutation', 'conversations.setSystemPrompt', { id: conversationId, systemPrompt: '' }, owner.cookie);
    expect((await getConversation(conversationId)).systemPrompt).toBe('');
    await api.stream('chat.send', { conversationId, model: 'tiny', parentId: null, content: 'Fresh start' }, { cookie: owner.cookie });
    expect(gateway.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: 'Fresh start' }]);

    const tooLong = await api.trpc('mutation', 'conversations.setSystemPrompt', { id: conversationId, systemPrompt: 'x'.repeat(8001) }, owner.cookie);
    expect([tooLong.status, tooLong.error?.message]).toEqual([400, expect.stringMatching(/systemPrompt must be at most 8000 characters/)]);
    // Someone else's conversation is not found.
    expect((await api.trpc('mutation', 'conversations.setSystemPrompt', { id: conversationId, systemPrompt: 'Obey me.' }, member.cookie)).status).toBe(404);
  });
});

describe('titles from the model (ENCLAVE_CHAT_TITLES=model)', () => {
  const send = (conversationId: string, model: string) =>
    titling.stream('chat.send', { conversationId, model, parentId: null, content: 'Tell me why cats sleep all afternoon' }, { cookie: owner.cookie });
  const newConversation = async () => (await titling.trpc('mutation', 'conversations.create', {}, owner.cookie)).data.id as string;
  const titleRequests = () => gateway.requests.filter((r) => JSON.stringify(r.body?.messages ?? '').includes('Write a title of at most six words'));

  it('after the first exchange the title becomes the model’s answer, cleaned', async () => {
    const conversationId = await newConversation();
    const before = titleRequests().length;
    const turn = await send(conversationId, 'titled');
    expect(turn.status).toBe(200);
    // The reply itself is the fixed text; the title request that follows gets the same answer.
    const title = await until('the model’s title', async () => {
      const current = (await getConversation(conversationId)).title as string;
      return current !== 'Tell me why cats sleep all afternoon' && current;
    });
    expect(title).toBe('Sleepy cats at noon');
    expect(titleRequests().length).toBe(before + 1);
    const asked = titleRequests().at(-1)!.body!;
    expect(asked).toMatchObject({ model: 'titled', max_tokens: 24 });
    expect(JSON.stringify(asked.messages)).toContain('Tell me why cats sleep all afternoon');

    // Only after the first exchange: a second turn asks for no title.
    await titling.stream('chat.send', { conversationId, model: 'titled', parentId: turn.events[0]!.data.assistantMessageId, content: 'More' }, { cookie: owner.cookie });
    expect(titleRequests().length).toBe(before + 1);
  });

  it('a rename by the owner before the model’s title arrives wins', async () => {
    const conversationId = await newConversation();
    const before = titleRequests().length;
    // This model takes 1.5 s to its first token: the reply, then the title request, each take that long.
    const turn = await send(conversationId, 'slow-titled');
    expect(turn.status).toBe(200);
    expect((await titling.trpc('mutation', 'conversations.rename', { id: conversationId, title: 'My own name' }, owner.cookie)).status).toBe(200);
    // The title request was made and answered...
    await until('the title request to be answered', async () => titleRequests().length === before + 1 && gateway.active === 0);
    // ... and the model's title was dropped: the owner's stays.
    await new Promise((r) => setTimeout(r, 300));
    expect((await getConversation(conversationId)).title).toBe('My own name');
  });

  it('a rename made while the first reply is still streaming wins too', async () => {
    const conversationId = await newConversation();
    const before = titleRequests().length;
    const turn = send(conversationId, 'slow-titled');
    await until('the reply to be under way', async () => gateway.active > 0);
    expect((await titling.trpc('mutation', 'conversations.rename', { id: conversationId, title: 'Named early' }, owner.cookie)).status).toBe(200);
    expect((await turn).status).toBe(200);
    await until('the title request to be answered', async () => titleRequests().length === before + 1 && gateway.active === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect((await getConversation(conversationId)).title).toBe('Named early');
  });
});
