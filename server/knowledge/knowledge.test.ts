import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { closeQueues, queue } from '../core/queues';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from '../engines/llamacpp/process';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { startGatewayHarness, type GatewayHarness } from '../gateway/testing/harness';
import { testRedisPrefix } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { startKnowledgeWorker } from '../../workers/knowledge';
import { knowledgeInstruction } from './chat-context';
import { embedTexts } from './embed-client';
import { normalise } from '../core/vectors';
import { nearestChunks } from './vector-index';
import { CORPUS, QUESTIONS } from './testing/corpus';
import { makeDocx, makePdf } from './testing/fixtures';

// Knowledge bases end to end on real services: uploads through the HTTP route, the BullMQ consumer parsing
// and embedding through the real gateway with a real stories260K engine, hybrid search, access control,
// deletion, re-embedding, and a chat turn whose answering model (a vLLM double behind the same gateway)
// receives the numbered passages.
process.env.REDIS_PREFIX = testRedisPrefix('knowledge');

type Api = Awaited<ReturnType<typeof startApiTestServer>>;
type Session = Awaited<ReturnType<Api['userSession']>>;
let h: GatewayHarness;
let engine: StartedLlamaCppEngine;
let chatModel: OpenAIDouble;
let api: Api;
let worker: Awaited<ReturnType<typeof startKnowledgeWorker>>;
let embedder: string, embedderB: string, chatty: string;
let owner: Session, member: Session, outsider: Session;
let team: string;

beforeAll(async () => {
  [engine, chatModel, h] = await Promise.all([
    startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 512, sequences: 1 }),
    startOpenAIDouble({ tokens: 4, token: (i) => `ok${i} ` }),
    startGatewayHarness('knowledge'),
  ]);
  embedder = (await makeDeployment(h.t.db, { name: 'stories260K' }, [engine.url])).deployment.name;
  // The "new model" of a re-embedding: a vLLM embedding deployment (the double's 8-dimensional vectors).
  embedderB = (await makeDeployment(h.t.db, { engine: 'vllm' }, [chatModel.url])).deployment.name;
  chatty = (await makeDeployment(h.t.db, { engine: 'vllm', spec: { maxModelLen: 4096 } }, [chatModel.url])).deployment.name;
  await h.gateway.refresh();
  api = await startApiTestServer({ db: h.t.db, masterKey: h.masterKey, gatewayUrl: h.gateway.url });
  worker = await startKnowledgeWorker({ db: h.t.db, masterKey: h.masterKey, gatewayUrl: h.gateway.url });
  const admin = await api.userSession('admin');
  [owner, member, outsider] = await Promise.all([api.userSession('user'), api.userSession('user'), api.userSession('user')]);
  team = (await api.trpc('mutation', 'groups.create', { name: 'readers' }, admin.cookie)).data.id;
  for (const user of [owner, member]) expect((await api.trpc('mutation', 'groups.addMember', { groupId: team, userId: user.user.id }, admin.cookie)).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await closeQueues();
  await api?.close();
  await h?.close();
  await engine?.stop();
  await chatModel?.close();
});

const createKb = async (name: string, who = owner, groupIds: string[] = []) => {
  const res = await api.trpc('mutation', 'knowledge.create', { name, embeddingModel: embedder, groupIds }, who.cookie);
  expect(res.status, res.error?.message).toBe(200);
  return res.data.id as string;
};

const upload = (kbId: string, name: string, body: Buffer | string, who = owner, type = 'application/octet-stream') =>
  api.request(`/api/knowledge/${kbId}/documents?name=${encodeURIComponent(name)}`, { method: 'POST', body: new Uint8Array(typeof body === 'string' ? Buffer.from(body) : body), headers: { 'content-type': type }, cookie: who.cookie });

async function uploadReady(kbId: string, name: string, body: Buffer | string): Promise<string> {
  const res = await upload(kbId, name, body);
  expect(res.status, await res.clone().text()).toBe(201);
  const id = ((await res.json()) as { document: { id: string } }).document.id;
  const doc = await until(`${name} processed`, async () => {
    const d = (await api.trpc('query', 'knowledge.documents', { kbId }, owner.cookie)).data.find((x: { id: string }) => x.id === id);
    return d && (d.status === 'ready' || d.status === 'failed') ? d : undefined;
  }, 60_000);
  expect(doc, doc.error).toMatchObject({ status: 'ready', progress: 1 });
  return id;
}

const chunksOf = async (documentId: string) =>
  (await h.t.db.execute<{ id: string; ordinal: number; page: number | null; char_start: number; char_end: number; has_vector: boolean }>(
    sql`SELECT id, ordinal, page, char_start, char_end, vector_enc IS NOT NULL AS has_vector FROM kb_chunks WHERE document_id = ${documentId} ORDER BY ordinal`,
  )).rows;

const search = (kbIds: string[], query: string, who = owner, k = 5) => api.trpc('query', 'knowledge.search', { kbIds, query, k }, who.cookie);

describe('ingestion', () => {
  let kb: string;
  const docs: Record<string, string> = {};
  beforeAll(async () => {
    kb = await createKb('Handbook', owner, [team]);
    docs.pdf = await uploadReady(kb, 'report.pdf', makePdf([['Quarterly report', 'Revenue grew by twelve percent.'], ['Logistics', 'The main warehouse is in Rotterdam near the harbour.']]));
    docs.docx = await uploadReady(kb, 'policy.docx', makeDocx([{ heading: 'Travel policy', level: 1 }, { text: 'Economy class for flights under six hours.' }, { heading: 'Hotels', level: 2 }, { text: 'Hotels up to 150 euros a night.' }]));
    docs.md = await uploadReady(kb, 'guide.md', '# Setup\nInstall the agent first.\n## Firewall\nOpen port 8443 for the agent.\n');
    docs.html = await uploadReady(kb, 'faq.html', '<html><script>steal()</script><body><h1>FAQ</h1><h2>Billing</h2><p>Invoices are sent on the <b>first</b> of the month &amp; payable in 14 days.</p></body></html>');
    docs.txt = await uploadReady(kb, 'notes.txt', 'The canteen serves soup on Tuesdays.');
  }, 240_000);

  it('every kind is parsed, chunked with its source position, embedded (64 dimensions) and searchable', async () => {
    const pdfChunks = await chunksOf(docs.pdf!);
    expect(pdfChunks.map((c) => c.page)).toEqual([1, 2]);
    expect(pdfChunks.every((c) => c.has_vector && c.char_end > c.char_start)).toBe(true);
    const passages = await Promise.all(Object.values(docs).map(async (d) => Promise.all((await chunksOf(d)).map(async (c) => (await api.trpc('query', 'knowledge.passage', { chunkId: c.id }, owner.cookie)).data))));
    const [pdf, docx, md, html, txt] = passages;
    expect(pdf![1]).toMatchObject({ documentName: 'report.pdf', page: 2, text: expect.stringContaining('warehouse is in Rotterdam') });
    expect(docx!.map((p: { heading: string[] }) => p.heading)).toEqual([['Travel policy'], ['Travel policy', 'Hotels']]);
    expect(md!.map((p: { heading: string[] }) => p.heading)).toEqual([['Setup'], ['Setup', 'Firewall']]);
    expect(html![0]).toMatchObject({ heading: ['FAQ', 'Billing'], text: 'Invoices are sent on the first of the month & payable in 14 days.' });
    expect(JSON.stringify(html)).not.toContain('steal');
    expect(txt![0]).toMatchObject({ heading: [], page: null, text: 'The canteen serves soup on Tuesdays.' });
    const vectorBytes = await h.t.db.execute<{ n: number }>(sql`SELECT length(vector_enc) AS n FROM kb_chunks WHERE document_id = ${docs.txt} LIMIT 1`);
    // key id (4) + iv (12) + tag (16) + 64 float32s.
    expect(vectorBytes.rows[0]!.n).toBe(4 + 12 + 16 + 64 * 4);

    const hits = (await search([kb], 'Where is the warehouse?')).data;
    expect(hits[0]).toMatchObject({ documentName: 'report.pdf', page: 2 });
    expect((await search([kb], 'port for the firewall')).data[0]).toMatchObject({ documentName: 'guide.md', heading: ['Setup', 'Firewall'] });
  });

  it('stores no plain text: chunk text, names and vectors are sealed, the full-text index holds only keyed hashes', async () => {
    const raw = await h.t.db.execute<{ blob: string }>(
      sql`SELECT encode(string_agg(content_enc || coalesce(vector_enc, ''::bytea), ''::bytea), 'escape') AS blob FROM kb_chunks WHERE kb_id = ${kb}`,
    );
    expect(raw.rows[0]!.blob).not.toMatch(/Rotterdam|warehouse|canteen/);
    const names = await h.t.db.execute<{ blob: string }>(sql`SELECT encode(string_agg(name_enc, ''::bytea), 'escape') AS blob FROM kb_documents WHERE kb_id = ${kb}`);
    expect(names.rows[0]!.blob).not.toContain('report');
    const terms = await h.t.db.execute<{ n: number; width: number }>(sql`SELECT count(*)::int AS n, max(length(term))::int AS width FROM kb_chunk_terms WHERE kb_id = ${kb}`);
    expect(terms.rows[0]).toEqual({ n: expect.any(Number), width: 8 });
    expect(terms.rows[0]!.n).toBeGreaterThan(20);
  });

  it("another user's base is invisible: not listed, not found by id, not searched, not attachable; a group member reads but cannot change it", async () => {
    const [chunk] = await chunksOf(docs.pdf!);
    expect((await api.trpc('query', 'knowledge.list', undefined, outsider.cookie)).data).toEqual([]);
    for (const [path, input] of [
      ['knowledge.get', { id: kb }],
      ['knowledge.documents', { kbId: kb }],
      ['knowledge.passage', { chunkId: chunk!.id }],
    ] as const)
      expect((await api.trpc('query', path, input, outsider.cookie)).status, path).toBe(404);
    expect((await search([kb], 'warehouse Rotterdam', outsider)).data).toEqual([]);
    for (const [path, input] of [
      ['knowledge.update', { id: kb, values: { name: 'mine now', embeddingModel: embedder } }],
      ['knowledge.delete', { id: kb }],
      ['knowledge.deleteDocument', { id: docs.pdf }],
    ] as const)
      expect((await api.trpc('mutation', path, input, outsider.cookie)).status, path).toBe(404);
    expect((await upload(kb, 'x.txt', 'planted', outsider)).status).toBe(404);
    const theirs = (await api.trpc('mutation', 'conversations.create', { title: 'theirs' }, outsider.cookie)).data.id;
    expect((await api.trpc('mutation', 'knowledge.attach', { conversationId: theirs, kbId: kb }, outsider.cookie)).status).toBe(404);

    // Shared with the member's group: listed (without whom it is shared with), searchable; changing it is the owner's.
    const listed = (await api.trpc('query', 'knowledge.list', undefined, member.cookie)).data;
    expect(listed).toMatchObject([{ id: kb, name: 'Handbook', mine: false, groupIds: [], documents: 5, ready: 5 }]);
    expect((await search([kb], 'warehouse Rotterdam', member)).data[0]).toMatchObject({ documentName: 'report.pdf' });
    expect((await api.trpc('mutation', 'knowledge.deleteDocument', { id: docs.pdf }, member.cookie)).status).toBe(403);
    expect((await upload(kb, 'x.txt', 'planted', member)).status).toBe(403);
    // And the owner's own conversation cannot be attached by anyone else.
    const ownerConversation = (await api.trpc('mutation', 'conversations.create', { title: 'mine' }, owner.cookie)).data.id;
    expect((await api.trpc('mutation', 'knowledge.attach', { conversationId: ownerConversation, kbId: kb }, member.cookie)).status).toBe(404);
  });

  it('deleting a document deletes its chunks, vectors and index terms; it is no longer found', async () => {
    const id = await uploadReady(kb, 'temporary.md', '# Temporary\nThe zeppelin hangar is in Friedrichshafen.');
    expect((await search([kb], 'zeppelin hangar')).data[0]).toMatchObject({ documentName: 'temporary.md' });
    const chunkIds = (await chunksOf(id)).map((c) => c.id);
    expect((await api.trpc('mutation', 'knowledge.deleteDocument', { id }, owner.cookie)).status).toBe(200);
    expect(await chunksOf(id)).toEqual([]);
    const terms = await h.t.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM kb_chunk_terms WHERE chunk_id = ANY(${`{${chunkIds.join(',')}}`}::uuid[])`);
    expect(terms.rows[0]!.n).toBe(0);
    expect((await search([kb], 'zeppelin hangar')).data).toEqual([]);
  });

  it('refuses what it cannot read with a clear answer; a broken PDF fails with its reason on the document', async () => {
    const bad = async (res: Response) => ({ status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message });
    expect(await bad(await upload(kb, 'photo.png', Buffer.from([0x89, 0x50])))).toMatchObject({ status: 415, message: expect.stringMatching(/PDF, DOCX, Markdown/) });
    expect(await bad(await upload(kb, 'empty.md', ''))).toMatchObject({ status: 400, message: 'The file is empty' });
    expect(await bad(await upload(kb, 'a.md', '# x', owner, 'text/markdown'))).toMatchObject({ status: 415 });
    expect(await bad(await upload(kb, 'big.txt', Buffer.alloc(20 * 1024 * 1024 + 1, 0x61)))).toMatchObject({ status: 413 });
    const res = await upload(kb, 'broken.pdf', '%PDF-1.4\nthis is not really a pdf');
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { document: { id: string } }).document.id;
    const failed = await until('broken.pdf failed', async () => {
      const d = (await api.trpc('query', 'knowledge.documents', { kbId: kb }, owner.cookie)).data.find((x: { id: string }) => x.id === id);
      return d?.status === 'failed' ? d : undefined;
    });
    expect(failed.error).toMatch(/PDF could not be read|No text was found/);
    await api.trpc('mutation', 'knowledge.deleteDocument', { id }, owner.cookie);
  });

  it("changing the base's embedding deployment embeds every document again with the new one", async () => {
    const res = await api.trpc('mutation', 'knowledge.update', { id: kb, values: { name: 'Handbook', embeddingModel: embedderB, groupIds: [team] } }, owner.cookie);
    expect(res.data).toEqual({ reembedding: 5 });
    let last: unknown;
    await until('re-embedded', async () => {
      const rows = await h.t.db.execute<{ status: string; error: string | null; embedded_model: string }>(sql`SELECT status, error, embedded_model FROM kb_documents WHERE kb_id = ${kb}`);
      if (rows.rows.some((r) => r.status === 'failed')) throw new Error(`re-embedding failed: ${JSON.stringify(rows.rows)}`);
      last = rows.rows;
      return rows.rows.every((r) => r.status === 'ready' && r.embedded_model === embedderB);
    }, 60_000).catch(async (e) => {
      throw new Error(`${e}: ${JSON.stringify(last)} ${JSON.stringify(await queue('knowledge').getJobCounts())} ${JSON.stringify((await queue('knowledge').getJobs(['completed','failed','active','waiting','delayed','prioritized'])).map((j) => [j.id, j.finishedOn, j.failedReason]))}`);
    });
    const hits = (await search([kb], 'Where is the warehouse?')).data;
    expect(hits[0]).toMatchObject({ documentName: 'report.pdf', vectorScore: expect.any(Number) });
    const dims = await h.t.db.execute<{ n: number }>(sql`SELECT DISTINCT length(vector_enc) AS n FROM kb_chunks WHERE kb_id = ${kb}`);
    expect(dims.rows).toEqual([{ n: 4 + 12 + 16 + 8 * 4 }]);
  }, 90_000);
});

describe('retrieval quality', () => {
  it('recall@5 on the bundled corpus (hybrid, and each side alone)', async () => {
    const kb = await createKb('Corpus');
    const docIds: Record<string, string> = {};
    for (const [name, text] of Object.entries(CORPUS)) docIds[name] = await uploadReady(kb, name, text);
    let hybrid = 0;
    let vectorOnly = 0;
    let textOnly = 0;
    for (const q of QUESTIONS) {
      const hits = (await search([kb], q.question, owner, 20)).data as { documentName: string; vectorScore?: number; textScore?: number }[];
      if (hits.slice(0, 5).some((h) => h.documentName === q.answer)) hybrid++;
      // The vector side alone: the question embedded as the owner, the base's nearest chunks.
      const [qv] = await embedTexts({ gatewayUrl: h.gateway.url, masterKey: h.masterKey }, owner.user.id, embedder, [q.question]);
      const nearest = await nearestChunks(h.t.db, h.masterKey, { id: kb, embeddingModel: embedder }, normalise(qv!), 5);
      const docsOfNearest = await h.t.db.execute<{ document_id: string }>(sql`SELECT document_id FROM kb_chunks WHERE id = ANY(${`{${nearest.map((n) => n.chunkId).join(',')}}`}::uuid[])`);
      if (docsOfNearest.rows.some((r) => r.document_id === docIds[q.answer])) vectorOnly++;
      const byText = hits.filter((h) => h.textScore !== undefined).sort((a, b) => b.textScore! - a.textScore!);
      if (byText.slice(0, 5).some((h) => h.documentName === q.answer)) textOnly++;
    }
    const n = QUESTIONS.length;
    console.log(`knowledge recall@5 over ${n} questions: hybrid ${(hybrid / n).toFixed(2)}, full-text alone ${(textOnly / n).toFixed(2)}, stories260K vectors alone ${(vectorOnly / n).toFixed(2)}`);
    expect(hybrid / n).toBeGreaterThanOrEqual(0.9);
  }, 240_000);
});

describe('chat', () => {
  it('a conversation with a base attached gets numbered passages in its system context; the reply records its citations', async () => {
    const kb = await createKb('Chat base');
    await uploadReady(kb, 'handbook.pdf', makePdf([['Welcome', 'Read this first.'], ['Logistics', 'The main warehouse is in Rotterdam near the harbour.']]));
    const conversationId = (await api.trpc('mutation', 'conversations.create', { title: 'kb chat' }, owner.cookie)).data.id as string;
    expect((await api.trpc('mutation', 'knowledge.attach', { conversationId, kbId: kb }, owner.cookie)).status).toBe(200);
    expect((await api.trpc('query', 'knowledge.attached', { conversationId }, owner.cookie)).data).toEqual([{ id: kb, name: 'Chat base' }]);

    const turn = await api.stream('chat.send', { conversationId, model: chatty, parentId: null, content: 'Where is the warehouse?' }, { cookie: owner.cookie });
    expect(turn.status).toBe(200);
    // The done event carries them too, so the browser shows the sources without reloading.
    expect(turn.events.some((e: { data?: { citations?: { page: number }[] } }) => e.data?.citations?.[0]?.page === 2)).toBe(true);
    const sent = chatModel.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
    expect(sent.messages[0]!.role).toBe('system');
    expect(sent.messages[0]!.content, sent.messages[0]!.content).toContain('[1] handbook.pdf (page 2)\nLogistics\nThe main warehouse is in Rotterdam');
    expect(sent.messages.at(-1)).toEqual({ role: 'user', content: 'Where is the warehouse?' });
    const conversation = (await api.trpc('query', 'conversations.get', { id: conversationId }, owner.cookie)).data;
    const reply = conversation.messages.find((m: { role: string }) => m.role === 'assistant');
    expect(reply.metadata.citations[0]).toMatchObject({ n: 1, page: 2, chunkId: expect.any(String), documentId: expect.any(String) });
    // The metadata is not sealed: it names no document, heading or text.
    expect(JSON.stringify(reply.metadata)).not.toMatch(/handbook|Rotterdam/);
    expect((await api.trpc('query', 'knowledge.passage', { chunkId: reply.metadata.citations[0].chunkId }, owner.cookie)).data).toMatchObject({ documentName: 'handbook.pdf', page: 2 });

    // Nothing relevant: the model is told to say the documents do not cover it, and nothing is cited.
    await api.stream('chat.send', { conversationId, model: chatty, parentId: null, content: 'Qwertyuiop zxcvbnm?' }, { cookie: owner.cookie });
    expect((chatModel.requests.at(-1)!.body as { messages: { content: string }[] }).messages[0]!.content).toMatch(/hold no passage relevant/);

    // Detached: the turn goes out without it.
    await api.trpc('mutation', 'knowledge.detach', { conversationId, kbId: kb }, owner.cookie);
    await api.stream('chat.send', { conversationId, model: chatty, parentId: null, content: 'Where is the warehouse?' }, { cookie: owner.cookie });
    expect((chatModel.requests.at(-1)!.body as { messages: { role: string }[] }).messages.map((m) => m.role)).toEqual(['user']);
  }, 120_000);

  it("erasing a person removes their bases with every document, passage and index term (counted in the erasure report)", async () => {
    const admin = await api.userSession('admin');
    const leaving = await api.userSession('user');
    const kb = await createKb('Leaving', leaving);
    await upload(kb, 'x.md', '# Gone\nThe vault code is 1234.', leaving).then((r) => expect(r.status).toBe(201));
    await until('processed', async () => (await h.t.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM kb_chunks WHERE kb_id = ${kb}`)).rows[0]!.n > 0);
    const erased = await api.trpc('mutation', 'users.erase', { id: leaving.user.id, confirmationText: leaving.email }, admin.cookie);
    expect(erased.status, erased.error?.message).toBe(200);
    expect(erased.data.deleted).toMatchObject({ knowledgeBases: 1 });
    const left = await h.t.db.execute<{ n: number }>(sql`SELECT (SELECT count(*) FROM kb_chunks WHERE kb_id = ${kb}) + (SELECT count(*) FROM kb_chunk_terms WHERE kb_id = ${kb}) + (SELECT count(*) FROM kb_documents WHERE kb_id = ${kb}) AS n`);
    expect(Number(left.rows[0]!.n)).toBe(0);
  });

  it('the instruction numbers passages within its room and says so when there are none', () => {
    const p = (n: number) => ({ chunkId: `c${n}`, documentId: 'd', documentName: `doc${n}.md`, kbId: 'k', page: null, heading: ['A', 'B'], text: 'x'.repeat(300), score: 1 });
    const { text, citations } = knowledgeInstruction([p(1), p(2), p(3)], 700);
    expect(citations.map((c) => c.n)).toEqual([1, 2]);
    expect(text).toContain('[2] doc2.md (A › B)');
    expect(knowledgeInstruction([]).text).toMatch(/no passage relevant/);
  });
});
