import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { apiFiles, quotas } from '../db/schema';
import { makePng } from '../testing/media-fixtures';
import type { OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { readUsage } from './quotas';
import type { GatewayHarness } from './testing/harness';
import { errorOf, MAX_TEST_IMAGE as MAX_IMAGE, startMediaGateway, type MediaGateway } from './testing/media-gateway';

// Images uploaded through /v1/files and referred to in chat requests as image_url "enclave-file:<id>"
// (issue 16, part 5), with the OpenAI double playing a vLLM vision model and a text-only model.
let m: MediaGateway;
let h: GatewayHarness;
let double: OpenAIDouble;
let vision: string;
let textOnly: string;
/** What one person's uploads may hold together here. */
const STORED_CAP = 1024 * 1024;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chatWith = (model: string, part: Record<string, unknown>) => ({
  model,
  messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, part] }],
});
const ref = (id: string, detail?: string) => ({ type: 'image_url', image_url: { url: `enclave-file:${id}`, ...(detail ? { detail } : {}) } });

beforeAll(async () => {
  m = await startMediaGateway('gwfiles', { GATEWAY_MAX_STORED_FILE_BYTES: String(STORED_CAP) });
  ({ h, double, vision, textOnly } = m);
});
beforeEach(() => double.clear());
afterAll(() => m?.close());

function upload(key: string, bytes: Buffer, opts: { type?: string; name?: string; purpose?: string | null } = {}) {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(bytes)], { type: opts.type ?? 'image/png' }), opts.name ?? 'cat.png');
  if (opts.purpose !== null) form.set('purpose', opts.purpose ?? 'vision');
  return fetch(`${h.gateway.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
}

const call = (method: string, path: string, key: string) => fetch(h.gateway.url + path, { method, headers: { authorization: `Bearer ${key}` } });

interface FileObject {
  id: string;
  object: string;
  bytes: number;
  filename: string;
  purpose: string;
  media_type: string;
  width: number;
  height: number;
}

const rowsOf = async (userId: string) => h.t.db.select().from(apiFiles).where(eq(apiFiles.userId, userId));

test('an uploaded image is stored sealed, described, and reaches a vision deployment as a data: URL byte for byte', async () => {
  const { key, keyId, userId } = await h.keyFor();
  const png = makePng(640, 480);
  const res = await upload(key, png);
  expect(res.status).toBe(200);
  const file = (await res.json()) as FileObject;
  expect(file).toMatchObject({ object: 'file', bytes: png.length, filename: 'cat.png', purpose: 'vision', status: 'processed', media_type: 'image/png', width: 640, height: 480 });
  // Sealed: neither the bytes nor the name are in the row in clear.
  const [row] = await rowsOf(userId);
  expect(row!.contentEnc.includes(png.subarray(16, 48))).toBe(false);
  expect(row!.filenameEnc!.toString('latin1')).not.toContain('cat.png');
  expect(row!.apiKeyId).toBe(keyId);

  expect(await (await call('GET', `/v1/files/${file.id}`, key)).json()).toEqual(file);
  const content = await call('GET', `/v1/files/${file.id}/content`, key);
  expect(content.headers.get('content-type')).toBe('image/png');
  expect(Buffer.from(await content.arrayBuffer()).equals(png)).toBe(true);
  expect(await (await call('GET', '/v1/files', key)).json()).toEqual({ object: 'list', data: [file] });

  const chat = await h.post('/v1/chat/completions', chatWith(vision, ref(file.id)), key);
  expect(chat.status).toBe(200);
  await chat.json();
  expect(double.requests).toHaveLength(1);
  expect(double.requests[0]!.media).toEqual([{ mediaType: 'image/png', bytes: png.length, sha256: sha(png) }]);
  expect(JSON.stringify(double.requests[0]!.body)).not.toContain('enclave-file:');

  // OpenAI's image_file part names the same file; raw bytes upload too.
  const gif = Buffer.concat([Buffer.from('GIF89a'), Buffer.from([3, 0, 2, 0]), Buffer.alloc(20)]);
  const raw = await fetch(`${h.gateway.url}/v1/files?purpose=vision&filename=dot.gif`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/gif' }, body: new Uint8Array(gif) });
  expect(raw.status).toBe(200);
  const gifFile = (await raw.json()) as FileObject;
  expect(gifFile).toMatchObject({ filename: 'dot.gif', media_type: 'image/gif', width: 3, height: 2, bytes: gif.length });
  double.clear();
  const both = await h.post(
    '/v1/chat/completions',
    { model: vision, messages: [{ role: 'user', content: [{ type: 'image_file', image_file: { file_id: file.id } }, ref(gifFile.id, 'low')] }] },
    key,
  );
  expect(both.status).toBe(200);
  await both.json();
  expect(double.requests[0]!.media!.map((m) => m.mediaType)).toEqual(['image/png', 'image/gif']);

  await h.gateway.flushLogs();
  const logs = await h.t.db.execute<{ status: number; model: string; deployment_id: string | null }>(sql`SELECT status, model, deployment_id FROM request_logs WHERE api_key_id = ${keyId} ORDER BY created_at`);
  // Upload, describe, content, list, chat, upload, chat: each logged once; the files requests name no model.
  expect(logs.rows.map((r) => [r.status, r.model === '' ? '' : 'model'])).toEqual([
    [200, ''],
    [200, ''],
    [200, ''],
    [200, ''],
    [200, 'model'],
    [200, ''],
    [200, 'model'],
  ]);
  expect(JSON.stringify(logs.rows)).not.toContain(png.toString('base64').slice(0, 40));
});

test("another user's file is not found: not described, not deleted, not usable in a chat request", async () => {
  const owner = await h.keyFor();
  const other = await h.keyFor();
  const file = (await (await upload(owner.key, makePng(8, 8))).json()) as FileObject;
  expect(await errorOf(await call('GET', `/v1/files/${file.id}`, other.key))).toMatchObject({ status: 404, code: 'file_not_found' });
  expect(await errorOf(await call('GET', `/v1/files/${file.id}/content`, other.key))).toMatchObject({ status: 404, code: 'file_not_found' });
  expect(await errorOf(await call('DELETE', `/v1/files/${file.id}`, other.key))).toMatchObject({ status: 404, code: 'file_not_found' });
  expect(await (await call('GET', '/v1/files', other.key)).json()).toEqual({ object: 'list', data: [] });
  const refused = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, ref(file.id)), other.key));
  expect(refused).toMatchObject({ status: 404, code: 'file_not_found', param: 'messages[0].content[1].image_url.url' });
  expect(refused.message).toContain(file.id);
  const viaImageFile = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, { type: 'image_file', image_file: { file_id: file.id } }), other.key));
  expect(viaImageFile).toMatchObject({ status: 404, param: 'messages[0].content[1].image_file.file_id' });
  for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000', "'; drop table api_files; --"]) {
    expect(await errorOf(await h.post('/v1/chat/completions', chatWith(vision, ref(id)), owner.key))).toMatchObject({ status: 404, code: 'file_not_found' });
    expect(await errorOf(await call('GET', `/v1/files/${encodeURIComponent(id)}`, owner.key))).toMatchObject({ status: 404, code: 'file_not_found' });
  }
  expect(double.requests).toHaveLength(0);
  // The owner deletes it: gone for them too.
  expect(await (await call('DELETE', `/v1/files/${file.id}`, owner.key)).json()).toEqual({ id: file.id, object: 'file', deleted: true });
  expect(await rowsOf(owner.userId)).toHaveLength(0);
  expect(await errorOf(await h.post('/v1/chat/completions', chatWith(vision, ref(file.id)), owner.key))).toMatchObject({ status: 404 });
});

test('a deployment without vision refuses a referenced image like an inline one, and nothing is forwarded', async () => {
  const { key } = await h.keyFor();
  const file = (await (await upload(key, makePng(8, 8))).json()) as FileObject;
  const err = await errorOf(await h.post('/v1/chat/completions', chatWith(textOnly, ref(file.id)), key));
  expect(err).toMatchObject({ status: 400, code: 'images_not_supported', param: 'messages' });
  expect(err.message).toContain(`'${textOnly}' does not take images`);
  expect(double.requests).toHaveLength(0);
});

test('referenced images count toward token quotas at their estimate', async () => {
  const { key, keyId } = await h.keyFor();
  await h.t.db.insert(quotas).values({ subjectKind: 'key', subjectId: keyId, tokensPerDay: 1000 });
  await h.gateway.refresh();
  // Quotas are reloaded every 100 ms; the upload itself costs no tokens.
  await new Promise((r) => setTimeout(r, 300));
  const file = (await (await upload(key, makePng(1024, 1024))).json()) as FileObject;
  const res = await h.post('/v1/chat/completions', chatWith(vision, ref(file.id)), key);
  expect(res.status).toBe(200);
  await res.json();
  await until('the image counted', async () => (await readUsage(m.redis, m.prefix, { kind: 'key', id: keyId })).tokensToday >= 765);
});

test('bad uploads are refused with a clear error and leave no row', async () => {
  const { key, userId } = await h.keyFor();
  const garbage = await errorOf(await upload(key, Buffer.from('hello, this is not an image'), { type: 'image/png' }));
  expect(garbage).toMatchObject({ status: 400, code: 'unsupported_image_type', param: 'file' });
  expect(garbage.message).toContain('not a PNG, JPEG, WebP or GIF');
  const svg = await errorOf(await upload(key, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), { type: 'image/svg+xml', name: 'x.svg' }));
  expect(svg).toMatchObject({ status: 400, code: 'unsupported_image_type' });
  const mismatch = await errorOf(await upload(key, makePng(4, 4), { type: 'image/jpeg', name: 'x.jpg' }));
  expect(mismatch.message).toContain('says image/jpeg but the bytes are image/png');
  expect(await errorOf(await upload(key, makePng(4, 4), { type: 'image/jpg', name: 'x.jpg' }))).toMatchObject({ message: expect.stringContaining('says image/jpeg but the bytes are image/png') });
  const oversize = await errorOf(await upload(key, Buffer.concat([makePng(4, 4), Buffer.alloc(MAX_IMAGE)])));
  expect(oversize).toMatchObject({ status: 400, code: 'image_too_large', param: 'file' });
  expect(oversize.message).toContain(`at most ${MAX_IMAGE} bytes per image`);
  const huge = await errorOf(await upload(key, Buffer.concat([makePng(4, 4), Buffer.alloc(4 * MAX_IMAGE)])));
  expect(huge).toMatchObject({ status: 413 });
  const purpose = await errorOf(await upload(key, makePng(4, 4), { purpose: 'fine-tune' }));
  expect(purpose).toMatchObject({ status: 400, param: 'purpose' });
  expect(purpose.message).toContain('purpose=vision');
  expect(await errorOf(await upload(key, makePng(4, 4), { purpose: null }))).toMatchObject({ status: 400, param: 'purpose' });
  const noFile = new FormData();
  noFile.set('purpose', 'vision');
  expect(await errorOf(await fetch(`${h.gateway.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: noFile }))).toMatchObject({ status: 400, param: 'file' });
  const json = await errorOf(await h.post('/v1/files', { file: 'x', purpose: 'vision' }, key));
  expect(json).toMatchObject({ status: 400, code: 'invalid_body' });
  expect(json.message).toContain('multipart/form-data');
  const broken = await errorOf(await fetch(`${h.gateway.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'multipart/form-data; boundary=x' }, body: 'not a form' }));
  expect(broken).toMatchObject({ status: 400, code: 'invalid_body' });
  expect(await rowsOf(userId)).toHaveLength(0);
});

test('the files routes: methods, paths and keys', async () => {
  const { key } = await h.keyFor();
  expect((await call('PUT', '/v1/files', key)).status).toBe(405);
  expect((await call('POST', '/v1/files/00000000-0000-4000-8000-000000000000', key)).status).toBe(405);
  expect((await call('GET', '/v1/files/a/content/x', key)).status).toBe(404);
  expect((await call('GET', '/v1/files/a/other', key)).status).toBe(404);
  const wrong = await call('DELETE', '/v1/files/00000000-0000-4000-8000-000000000000/content', key);
  expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'GET']);
  expect(await errorOf(await call('GET', '/v1/files', 'sk-enc-nope'))).toMatchObject({ status: 401 });
  const noKey = await fetch(`${h.gateway.url}/v1/files`, { method: 'POST', body: 'x' });
  expect(noKey.status).toBe(401);
  // http(s) URLs stay refused next to file references.
  const http = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }), key));
  expect(http).toMatchObject({ status: 400, code: 'image_url_not_allowed' });
  const badImageFile = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, { type: 'image_file', image_file: { file_id: 42 } }), key));
  expect(badImageFile).toMatchObject({ status: 400, param: 'messages[0].content[1].image_file.file_id' });
});

test("a person's files go with their data keys, as an erasure destroys them before the account", async () => {
  const a = await h.keyFor();
  const b = await h.keyFor();
  expect((await upload(a.key, makePng(4, 4))).status).toBe(200);
  expect((await upload(b.key, makePng(4, 4))).status).toBe(200);
  await h.t.db.execute(sql`DELETE FROM data_keys WHERE owner_user_id = ${a.userId}`);
  await h.t.db.execute(sql`DELETE FROM users WHERE id = ${a.userId}`);
  expect(await rowsOf(a.userId)).toHaveLength(0);
  expect(await rowsOf(b.userId)).toHaveLength(1);
});

test("one person's uploads are bounded together; the refusal says how much is held and how to make room, and a deletion makes it", async () => {
  const { key, userId } = await h.keyFor();
  const other = await h.keyFor();
  const file = Buffer.concat([makePng(4, 4), Buffer.alloc(60_000)]);
  const kept: FileObject[] = [];
  for (;;) {
    const res = await upload(key, file);
    if (res.status !== 200) {
      const full = await errorOf(res);
      expect(full).toMatchObject({ status: 413, code: 'file_storage_full', param: 'file' });
      expect(full.message).toMatch(/Your uploaded files hold [\d.]+ MiB and this one 0\.1 MiB; together they may hold 1\.0 MiB \(GATEWAY_MAX_STORED_FILE_BYTES\)\. Delete files/);
      break;
    }
    kept.push((await res.json()) as FileObject);
    expect(kept.length).toBeLessThan(100);
  }
  expect(kept).toHaveLength(Math.floor(STORED_CAP / file.length));
  expect(await rowsOf(userId)).toHaveLength(kept.length); // the refused one left no row
  // Another person's room is their own.
  expect((await upload(other.key, file)).status).toBe(200);
  expect((await call('DELETE', `/v1/files/${kept[0]!.id}`, key)).status).toBe(200);
  expect((await upload(key, file)).status).toBe(200);
});
