import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';

// Knowledge bases shared with groups (and unshared), and knowledge bases attached to presets: checked
// against the owner's access when saved, attached to a conversation started from the preset only where
// the starting user can read them. Real PostgreSQL through the API; nothing here is embedded.
process.env.REDIS_PREFIX = testRedisPrefix('kbsharing');

type Api = Awaited<ReturnType<typeof startApiTestServer>>;
type Session = Awaited<ReturnType<Api['userSession']>>;

let t: TestDatabase;
let api: Api;
let owner: Session, member: Session, outsider: Session, admin: Session;
let team: string, otherTeam: string;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('kbsharing');
  api = await startApiTestServer({ db: t.db, masterKey });
  [owner, member, outsider, admin] = await Promise.all([api.userSession('user'), api.userSession('user'), api.userSession('user'), api.userSession('admin')]);
  team = (await api.trpc('mutation', 'groups.create', { name: 'readers' }, admin.cookie)).data.id;
  otherTeam = (await api.trpc('mutation', 'groups.create', { name: 'others' }, admin.cookie)).data.id;
  for (const [groupId, user] of [[team, owner], [team, member], [otherTeam, outsider], [otherTeam, member]] as const)
    expect((await api.trpc('mutation', 'groups.addMember', { groupId, userId: user.user.id }, admin.cookie)).status).toBe(200);
});

afterAll(async () => {
  await api?.close();
  await t?.drop();
});

const createKb = async (name: string, who = owner, groupIds: string[] = []) => {
  const res = await api.trpc('mutation', 'knowledge.create', { name, embeddingModel: 'any-embedder', groupIds }, who.cookie);
  expect(res.status, res.error?.message).toBe(200);
  return res.data.id as string;
};
const listed = async (who: Session) => (await api.trpc('query', 'knowledge.list', undefined, who.cookie)).data as { id: string; name: string; mine: boolean; groupIds: string[]; sharedVia: string[] }[];
const share = (id: string, groupIds: string[], name = 'Manual', who = owner) => api.trpc('mutation', 'knowledge.update', { id, values: { name, embeddingModel: 'any-embedder', groupIds } }, who.cookie);

describe('sharing a knowledge base with groups', () => {
  it('shared: a member lists and reads it (seeing only their own group it reached them through); unshared: gone again, by id a 404', async () => {
    const kb = await createKb('Manual');
    expect((await listed(member)).some((b) => b.id === kb)).toBe(false);
    expect((await api.trpc('query', 'knowledge.get', { id: kb }, member.cookie)).status).toBe(404);

    expect((await share(kb, [team])).status).toBe(200);
    // The owner reads the whole sharing list; the member sees the base, read-only, and which of their groups brought it.
    expect((await listed(owner)).find((b) => b.id === kb)).toMatchObject({ mine: true, groupIds: [team], sharedVia: [] });
    expect((await listed(member)).find((b) => b.id === kb)).toMatchObject({ name: 'Manual', mine: false, groupIds: [], sharedVia: ['readers'] });
    expect((await api.trpc('query', 'knowledge.get', { id: kb }, member.cookie)).data).toMatchObject({ id: kb, mine: false, sharedVia: ['readers'] });
    // Only the owner changes who it is shared with.
    const hijack = await share(kb, [team, otherTeam], 'Manual', member);
    expect([hijack.status, hijack.error?.message]).toEqual([403, 'Only its owner can change a knowledge base']);
    // Not in that group, not listed.
    expect((await listed(outsider)).some((b) => b.id === kb)).toBe(false);
    // Sharing with a group the owner is not in is refused.
    const foreign = await share(kb, [otherTeam]);
    expect([foreign.status, foreign.error?.message]).toEqual([403, 'A knowledge base can be shared only with groups you are in']);

    expect((await share(kb, [])).status).toBe(200);
    expect((await listed(member)).some((b) => b.id === kb)).toBe(false);
    for (const [path, input] of [
      ['knowledge.get', { id: kb }],
      ['knowledge.documents', { kbId: kb }],
    ] as const)
      expect((await api.trpc('query', path, input, member.cookie)).status, path).toBe(404);
  });
});

const presetValues = (over: Record<string, unknown> = {}) => ({
  name: 'Support',
  systemPrompt: 'Answer from the manuals.',
  model: null,
  contextPolicy: 'summarize',
  ...over,
});
const attachedTo = async (conversationId: string, who: Session) => (await api.trpc('query', 'knowledge.attached', { conversationId }, who.cookie)).data as { id: string; name: string }[];
const startFrom = async (presetId: string, who: Session) => {
  const res = await api.trpc('mutation', 'conversations.create', { presetId }, who.cookie);
  expect(res.status, res.error?.message).toBe(200);
  return res.data.id as string;
};

describe('knowledge bases attached to a preset', () => {
  it('a conversation started from the preset answers from its bases; the owner sees and edits them in the preset', async () => {
    const [manual, faq] = [await createKb('Manual A'), await createKb('FAQ A')];
    const created = await api.trpc('mutation', 'presets.create', presetValues({ kbIds: [manual, faq, manual] }), owner.cookie);
    expect(created.status, created.error?.message).toBe(200);
    const id = created.data.id as string;
    const mine = (await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.find((p: { id: string }) => p.id === id);
    expect(mine).toMatchObject({ kbIds: [manual, faq], knowledge: [{ id: manual, name: 'Manual A' }, { id: faq, name: 'FAQ A' }] });

    const conversation = await startFrom(id, owner);
    expect((await attachedTo(conversation, owner)).map((k) => k.id).sort()).toEqual([manual, faq].sort());

    // Edited: only FAQ. The conversation started before keeps its own copy.
    expect((await api.trpc('mutation', 'presets.update', { id, values: presetValues({ kbIds: [faq] }) }, owner.cookie)).status).toBe(200);
    expect((await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.find((p: { id: string }) => p.id === id)).toMatchObject({ kbIds: [faq] });
    expect((await attachedTo(await startFrom(id, owner), owner)).map((k) => k.id)).toEqual([faq]);
    expect(await attachedTo(conversation, owner)).toHaveLength(2);

    // A base deleted later simply drops out of the preset.
    expect((await api.trpc('mutation', 'knowledge.delete', { id: faq }, owner.cookie)).status).toBe(200);
    expect((await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.find((p: { id: string }) => p.id === id)).toMatchObject({ kbIds: [], knowledge: [] });
  });

  it('shared with a group: a member gets only the bases they can read, and is not told of the others', async () => {
    const open = await createKb('Open handbook', owner, [team]);
    const secret = await createKb('Private notes');
    const { data } = await api.trpc('mutation', 'presets.create', presetValues({ name: 'Team support', groupIds: [team], kbIds: [open, secret] }), owner.cookie);
    const seen = (await api.trpc('query', 'presets.list', undefined, member.cookie)).data.find((p: { id: string }) => p.id === data.id);
    expect(seen).toMatchObject({ mine: false, kbIds: [open], knowledge: [{ id: open, name: 'Open handbook' }] });
    expect(JSON.stringify(seen)).not.toContain(secret);

    const conversation = await startFrom(data.id, member);
    expect(await attachedTo(conversation, member)).toEqual([{ id: open, name: 'Open handbook' }]);
    // Nothing of the private base was attached behind the member's back either.
    const rows = await t.db.execute<{ kb_id: string }>(sql`SELECT kb_id FROM conversation_knowledge WHERE conversation_id = ${conversation}`);
    expect(rows.rows.map((r) => r.kb_id)).toEqual([open]);
    // The owner still sees both.
    expect((await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.find((p: { id: string }) => p.id === data.id).kbIds).toEqual([open, secret]);
  });

  it('refuses bases the owner cannot read, ids that are none, and too many, with a 400 naming kbIds; nothing is saved', async () => {
    const theirs = await createKb('Outsider base', outsider);
    const before = (await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.length;
    const cases: [unknown, RegExp][] = [
      [[theirs], /kbIds: a knowledge base does not exist or you cannot read it/],
      [['00000000-0000-4000-8000-000000000000'], /kbIds: a knowledge base does not exist or you cannot read it/],
      [['not-a-base'], /kbIds: each must be a knowledge base id/],
      [Array.from({ length: 21 }, () => '00000000-0000-4000-8000-000000000000'), /kbIds: at most 20 knowledge bases/],
    ];
    for (const [kbIds, message] of cases) {
      const res = await api.trpc('mutation', 'presets.create', presetValues({ kbIds }), owner.cookie);
      expect([res.status, res.error?.message]).toEqual([400, expect.stringMatching(message)]);
    }
    expect((await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.length).toBe(before);
    // And on update: the preset keeps what it had.
    const mineKb = await createKb('Mine B');
    const { data } = await api.trpc('mutation', 'presets.create', presetValues({ name: 'Keeps', kbIds: [mineKb] }), owner.cookie);
    const res = await api.trpc('mutation', 'presets.update', { id: data.id, values: presetValues({ name: 'Changed', kbIds: [mineKb, theirs] }) }, owner.cookie);
    expect([res.status, res.error?.message]).toEqual([400, 'kbIds: a knowledge base does not exist or you cannot read it']);
    expect((await api.trpc('query', 'presets.list', undefined, owner.cookie)).data.find((p: { id: string }) => p.id === data.id)).toMatchObject({ name: 'Keeps', kbIds: [mineKb] });
  });
});
