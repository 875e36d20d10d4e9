import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditLog, datasets } from '../db/schema';
import { openDatasetRows } from '../lifecycle/datasets/store';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startApiTestServer } from './testing/api-test-server';

let t: TestDatabase;
let dir: string;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let small: Awaited<ReturnType<typeof startApiTestServer>>;
let engineer: { cookie: string; user: { id: string } };
const masterKey = randomBytes(32);
const SMALL_LIMIT = 4096;

beforeAll(async () => {
  t = await createTestDatabase('dsupload');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-ds-upload-'));
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dir } });
  small = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dir, ENCLAVE_DATASET_MAX_BYTES: String(SMALL_LIMIT) } });
  engineer = await api.userSession('engineer');
});
afterAll(async () => {
  await api?.close();
  await small?.close();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const storedFiles = () => (fs.existsSync(path.join(dir, 'datasets')) ? fs.readdirSync(path.join(dir, 'datasets')) : []);
const lines = (rows: Array<string | object>) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

function upload(body: string, query: Record<string, string> = {}, opts: { cookie?: string; headers?: Record<string, string>; server?: typeof api } = {}) {
  const q = new URLSearchParams({ name: 'stories', ...query });
  return (opts.server ?? api).request(`/api/datasets?${q}`, {
    method: 'POST',
    body,
    cookie: opts.cookie ?? engineer.cookie,
    headers: { 'content-type': 'application/x-ndjson', ...opts.headers },
  });
}

/** A phrase that must never appear in the sealed bytes. */
const SECRET = 'the-violet-submarine-sings';
const samples = {
  openai: Array.from({ length: 12 }, (_, i) => ({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `${SECRET} ${i}?` }, { role: 'assistant', content: `Answer ${i}.` }] })),
  alpaca: Array.from({ length: 12 }, (_, i) => ({ instruction: `${SECRET} ${i}`, input: i % 2 ? 'with input' : '', output: `Output ${i}.` })),
  sharegpt: Array.from({ length: 12 }, (_, i) => ({ conversations: [{ from: 'human', value: `${SECRET} ${i}` }, { from: 'gpt', value: `Reply ${i}.` }] })),
};

describe('good files', () => {
  test.each(Object.keys(samples) as (keyof typeof samples)[])('%s: a row, a sealed file without the plaintext, and the rows decrypt back', async (format) => {
    const text = lines(samples[format]);
    const res = await upload(text, { heldOut: '0.3', seed: '11' });
    expect(res.status).toBe(201);
    const { dataset } = (await res.json()) as { dataset: { id: string; format: string; rows: number; sha256: string; split: { trainRows: number; heldOutRows: number; seed: number } } };
    expect(dataset).toMatchObject({ format, rows: 12, sha256: createHash('sha256').update(text).digest('hex') });
    expect(dataset.split.seed).toBe(11);
    expect(dataset.split.trainRows + dataset.split.heldOutRows).toBe(12);

    const [row] = await t.db.select().from(datasets).where(eq(datasets.id, dataset.id));
    expect(row).toMatchObject({ ownerId: engineer.user.id, name: 'stories', format, rows: 12, sizeBytes: Buffer.byteLength(text) });
    expect(row!.stats).toMatchObject({ rows: 12, tokenizer: { kind: 'estimate' } });
    const sealed = fs.readFileSync(path.join(dir, row!.storagePath));
    expect(sealed.includes(Buffer.from(SECRET))).toBe(false);
    expect(sealed.includes(Buffer.from('Be brief'))).toBe(false);

    const back = [];
    for await (const r of openDatasetRows(t.db, masterKey, dataset.id, { part: 'all', dataDir: dir })) back.push(r);
    expect(back).toHaveLength(12);
    expect(back[3]!.messages.some((m) => m.content.startsWith(`${SECRET} 3`))).toBe(true);

    const audit = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'datasets.upload'), eq(auditLog.target, dataset.id)));
    expect(audit.map((a) => a.outcome)).toEqual(['success']);
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });

  test('the router lists, gets and previews the upload', async () => {
    const res = await upload(lines(samples.sharegpt), { name: 'listed' });
    const { dataset } = (await res.json()) as { dataset: { id: string } };
    expect(res.status).toBe(201);
    const list = await api.trpc('query', 'datasets.list', undefined, engineer.cookie);
    expect(list.error).toBeUndefined();
    expect(list.data.map((d: { id: string }) => d.id)).toContain(dataset.id);
    const got = await api.trpc('query', 'datasets.get', { id: dataset.id }, engineer.cookie);
    expect(got.data).toMatchObject({ id: dataset.id, name: 'listed', format: 'sharegpt', ownerEmail: expect.stringContaining('engineer-') });
    expect(got.data.stats.tokenHistogram.length).toBeGreaterThan(0);
    const preview = await api.trpc('query', 'datasets.preview', { id: dataset.id, limit: 2 }, engineer.cookie);
    expect(preview.data.rows).toEqual([
      { index: 0, part: expect.stringMatching(/^(train|heldOut)$/), messages: [{ role: 'user', content: `${SECRET} 0` }, { role: 'assistant', content: 'Reply 0.' }] },
      { index: 1, part: expect.stringMatching(/^(train|heldOut)$/), messages: [{ role: 'user', content: `${SECRET} 1` }, { role: 'assistant', content: 'Reply 1.' }] },
    ]);
    const bad = await api.trpc('query', 'datasets.preview', { id: dataset.id, limit: 100000 }, engineer.cookie);
    expect(bad.status).toBe(400);
  });
});

describe('broken files: 400 with line numbers, no row, no file', () => {
  const cases: [string, Array<string | object>, Record<string, string>, { line: number; reason: RegExp }[]][] = [
    ['wrong JSON', [samples.openai[0]!, '{"messages": [', samples.openai[1]!, 'not json at all'], {}, [{ line: 2, reason: /^invalid JSON/ }, { line: 4, reason: /^invalid JSON/ }]],
    ['missing roles', [samples.openai[0]!, { messages: [{ content: 'hi' }, { role: 'assistant', content: 'x' }] }, { messages: [{ role: 'user', content: 'only a question' }] }], {}, [{ line: 2, reason: /messages\[0\] has no "role"/ }, { line: 3, reason: /no assistant turn/ }]],
    ['empty content', [samples.sharegpt[0]!, { conversations: [{ from: 'human', value: '   ' }, { from: 'gpt', value: 'x' }] }, samples.sharegpt[1]!], {}, [{ line: 2, reason: /conversations\[0\]\.value is empty/ }]],
    ['mixed formats', [samples.alpaca[0]!, samples.alpaca[1]!, samples.openai[0]!, samples.alpaca[2]!, samples.sharegpt[0]!], {}, [{ line: 3, reason: /mixed formats: this line is openai but the file is alpaca \(from line 1\)/ }, { line: 5, reason: /mixed formats/ }]],
    ['another format than the declared one', [samples.alpaca[0]!, samples.alpaca[1]!], { format: 'openai' }, [{ line: 1, reason: /not the declared openai/ }, { line: 2, reason: /not the declared openai/ }]],
  ];
  test.each(cases)('%s', async (_name, rows, query, expected) => {
    const before = await t.db.$count(datasets);
    const res = await upload(lines(rows), query);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string }; lines: { line: number; reason: string }[]; truncated: boolean; errorCount: number };
    expect(body.lines.map((l) => l.line)).toEqual(expected.map((e) => e.line));
    body.lines.forEach((l, i) => expect(l.reason).toMatch(expected[i]!.reason));
    expect(body).toMatchObject({ truncated: false, errorCount: expected.length });
    expect(body.error.message).toMatch(/nothing was stored/);
    expect(await t.db.$count(datasets)).toBe(before);
    expect(storedFiles().filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  test('past 100 bad lines the list is cut and says how many there were; an empty file is refused', async () => {
    const rows = Array.from({ length: 150 }, () => '{"messages": 1}');
    const body = (await (await upload(lines(rows))).json()) as { lines: unknown[]; truncated: boolean; errorCount: number };
    expect(body).toMatchObject({ truncated: true, errorCount: 150 });
    expect(body.lines).toHaveLength(100);
    const empty = await upload('\n\n');
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/has no rows/);
  });

  test('hostile bytes: invalid UTF-8 and a line longer than 4 MiB are line errors, not a crash', async () => {
    const good = lines(samples.openai.slice(0, 3));
    const bytes = Buffer.concat([Buffer.from(good), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from(`{"messages": "${'x'.repeat(5 * 1024 * 1024)}"}\n`), Buffer.from(good)]);
    const res = await api.request('/api/datasets?name=hostile', { method: 'POST', body: bytes, cookie: engineer.cookie, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { lines: { line: number; reason: string }[] };
    expect(body.lines).toEqual([
      { line: 4, reason: 'the line is not valid UTF-8' },
      { line: 5, reason: expect.stringMatching(/longer than 4194304 bytes/) },
    ]);
    for (const [kind, p, input] of [
      ['query', 'datasets.get', { id: "'; drop table datasets; --" }],
      ['query', 'datasets.preview', { id: 'x', limit: 1 }],
      ['mutation', 'datasets.delete', { id: '00000000-0000-0000-0000-000000000000' }],
    ] as const)
      expect([p, (await api.trpc(kind, p, input, engineer.cookie)).status]).toEqual([p, 404]);
    expect((await api.trpc('query', 'datasets.get', { id: 42 }, engineer.cookie)).status).toBe(400);
  });

  test('bad parameters are 400 before anything is stored', async () => {
    const good = lines(samples.openai);
    const expectations: [Record<string, string>, RegExp][] = [
      [{ name: '' }, /name/],
      [{ heldOut: '1.5' }, /heldOut/],
      [{ heldOut: 'abc' }, /heldOut/],
      [{ seed: '-1' }, /seed/],
      [{ format: 'csv' }, /format/],
      [{ tokenizerVersionId: 'nope' }, /tokenizerVersionId/],
      [{ tokenizerVersionId: '00000000-0000-4000-8000-000000000000' }, /no such model version/],
      [{ heldOut: '0.0001' }, /split cannot be made: .* holds out none/],
    ];
    const before = storedFiles().length;
    for (const [query, message] of expectations) {
      const res = await upload(good, query);
      expect([JSON.stringify(query), res.status]).toEqual([JSON.stringify(query), 400]);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    expect(storedFiles().length).toBe(before);
  });
});

describe('limits and access', () => {
  test('oversized: 413 from the declared length, and 413 mid-stream for a chunked body, leaving nothing', async () => {
    const before = storedFiles().length;
    const big = lines(Array.from({ length: 100 }, () => samples.openai[0]!));
    const res = await upload(big, {}, { server: small });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(`limit of ${SMALL_LIMIT} bytes`);

    // No Content-Length: the limit is found while streaming, after part of the file was sealed.
    const url = new URL(`${small.base}/api/datasets?name=chunked`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', cookie: engineer.cookie, 'transfer-encoding': 'chunked' } }, (r) => {
        r.resume();
        resolve(r.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 100; i++) req.write(lines([samples.openai[0]!]));
      req.end();
    });
    expect(status).toBe(413);
    // The partial file is removed before the refusal is sent: nothing to wait for.
    expect(storedFiles().length).toBe(before);
  });

  test('a client that hangs up mid-upload leaves no row and no file', async () => {
    const before = { rows: await t.db.$count(datasets), files: storedFiles().length };
    await new Promise<void>((resolve) => {
      const req = http.request(`${api.base}/api/datasets?name=dropped`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', cookie: engineer.cookie, 'content-length': '10000000' } });
      req.on('error', () => resolve());
      req.write(lines(samples.openai), () => setTimeout(() => req.destroy(), 200));
    });
    // The server notices the closed socket, deletes its partial file and audits the failure.
    await expect.poll(async () => (await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'datasets.upload'), eq(auditLog.outcome, 'failure')))).some((a) => a.detail.name === 'dropped')).toBe(true);
    expect(await t.db.$count(datasets)).toBe(before.rows);
    expect(storedFiles().length).toBe(before.files);
  });

  test('role user or viewer: 403; signed out: 401; cross-site or form-typed: 403, audited as denied', async () => {
    const text = lines(samples.openai);
    for (const role of ['user', 'viewer']) {
      const { cookie } = await api.userSession(role);
      expect((await upload(text, {}, { cookie })).status).toBe(403);
      expect((await api.trpc('query', 'datasets.list', undefined, cookie)).status).toBe(403);
    }
    expect((await upload(text, {}, { cookie: 'enclave_session=nope' })).status).toBe(401);
    expect((await upload(text, {}, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
    expect((await upload(text, {}, { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    expect((await upload(text, {}, { headers: { 'content-type': 'text/plain' } })).status).toBe(403);
    expect((await api.request('/api/datasets', { method: 'GET', cookie: engineer.cookie })).status).toBe(405);
    const denied = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'datasets.upload'), eq(auditLog.outcome, 'denied')));
    expect(denied.length).toBeGreaterThanOrEqual(5);
  });

  test("another user's dataset is invisible; an admin sees it, and an admin's preview is audited", async () => {
    const res = await upload(lines(samples.alpaca), { name: 'private' });
    const { dataset } = (await res.json()) as { dataset: { id: string } };
    const other = await api.userSession('engineer');
    expect((await api.trpc('query', 'datasets.list', undefined, other.cookie)).data.map((d: { id: string }) => d.id)).not.toContain(dataset.id);
    for (const [kind, p, input] of [
      ['query', 'datasets.get', { id: dataset.id }],
      ['query', 'datasets.preview', { id: dataset.id, limit: 1 }],
      ['mutation', 'datasets.delete', { id: dataset.id }],
    ] as const) {
      const r = await api.trpc(kind, p, input, other.cookie);
      expect([p, r.status]).toEqual([p, 404]);
    }
    const admin = await api.userSession('admin');
    expect((await api.trpc('query', 'datasets.list', undefined, admin.cookie)).data.map((d: { id: string }) => d.id)).toContain(dataset.id);
    const preview = await api.trpc('query', 'datasets.preview', { id: dataset.id, limit: 1 }, admin.cookie);
    expect(preview.data.rows).toHaveLength(1);
    const reads = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'datasets.preview'), eq(auditLog.target, dataset.id)));
    expect(reads.map((r) => [r.actorUserId, r.detail.read])).toEqual([[admin.user.id, true]]);
    expect(JSON.stringify(reads)).not.toContain(SECRET);

    const deleted = await api.trpc('mutation', 'datasets.delete', { id: dataset.id }, engineer.cookie);
    expect(deleted.status).toBe(200);
    expect(await t.db.$count(datasets, eq(datasets.id, dataset.id))).toBe(0);
    expect(storedFiles()).not.toContain(`${dataset.id}.jsonl.enc`);
  });

  test('a ~100 MB upload streams through in bounded memory', async () => {
    const target = 100 * 1024 * 1024;
    let sent = 0;
    let n = 0;
    const hash = createHash('sha256');
    // Generated as it is sent: neither the test nor the server ever holds the whole file.
    const body = Readable.from(
      (function* () {
        while (sent < target) {
          let chunk = '';
          for (let i = 0; i < 500; i++, n++)
            chunk += `${JSON.stringify({ messages: [{ role: 'user', content: `Tell me story ${n} about a cat.` }, { role: 'assistant', content: `Once upon a time, in story ${n}, a cat and a dog played in the sun all day long.` }] })}\n`;
          const bytes = Buffer.from(chunk);
          sent += bytes.length;
          hash.update(bytes);
          yield bytes;
        }
      })(),
    );
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    try {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${api.base}/api/datasets?name=big&heldOut=0.05`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', cookie: engineer.cookie } }, (r) => {
          let text = '';
          r.on('data', (c) => (text += c));
          r.on('end', () => resolve({ status: r.statusCode!, body: text }));
        });
        req.on('error', reject);
        body.pipe(req);
      });
      expect(res.status).toBe(201);
      const { dataset } = JSON.parse(res.body) as { dataset: { id: string; rows: number; sizeBytes: number; sha256: string } };
      expect(dataset).toMatchObject({ rows: n, sizeBytes: sent, sha256: hash.digest('hex') });
      const [row] = await t.db.select().from(datasets).where(eq(datasets.id, dataset.id));
      // Frame headers and tags only: a few bytes per MiB over the plaintext.
      expect(fs.statSync(path.join(dir, row!.storagePath)).size).toBeLessThan(sent + 10_000);
    } finally {
      clearInterval(sampler);
    }
    console.log(`100 MB upload: ${((Date.now() - started) / 1000).toFixed(1)} s, rss growth ${((peak - before) / 2 ** 20).toFixed(0)} MiB`);
    // Less than the file itself: it was never held whole.
    expect(peak - before).toBeLessThan(96 * 1024 * 1024);
  }, 120_000);
});
