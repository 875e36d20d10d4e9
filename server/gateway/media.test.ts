import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { deploymentDataPolicies, quotas } from '../db/schema';
import { upstreamReplicaUrl } from '../engines/upstream/driver';
import { makeDeployment } from '../testing/factories';
import { dataUrl, makePng, makeWav } from '../testing/media-fixtures';
import type { OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { readUsage } from './quotas';
import type { GatewayHarness } from './testing/harness';
import { errorOf, MAX_TEST_IMAGE as MAX_IMAGE, startMediaGateway, type MediaGateway } from './testing/media-gateway';

// The double listens on loopback, which the outbound policy refuses to upstreams unless allowed.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';

// Images and audio through the gateway (issue 16, parts 5 and 6), with the OpenAI double playing a vLLM
// vision model, a text-only model, an upstream API, and Whisper-style / speech models.
let m: MediaGateway;
let h: GatewayHarness;
let redis: Redis;
let prefix: string;
let double: OpenAIDouble;
let vision: string;
let textOnly: string;
let audio: string;
let upstreamVision: string;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chatWith = (model: string, url: string, text = 'What is in this picture?') => ({
  model,
  messages: [{ role: 'user', content: [{ type: 'text', text }, { type: 'image_url', image_url: { url } }] }],
});

beforeAll(async () => {
  m = await startMediaGateway('gwmedia', { GATEWAY_MAX_AUDIO_BYTES: String(256 * 1024) });
  ({ h, redis, prefix, double, vision, textOnly } = m);
  audio = (await makeDeployment(h.t.db, { engine: 'vllm', audio: true }, [double.url])).deployment.name;
  const spec = { engine: 'upstream', upstream: { url: `${double.url}/v1`, model: 'gpt-4o' } };
  upstreamVision = (await makeDeployment(h.t.db, { engine: 'upstream', vision: true, spec }, [upstreamReplicaUrl(spec)])).deployment.name;
  await h.gateway.refresh();
});

beforeEach(() => double.clear());

afterAll(() => m?.close());

test('an image reaches a vision deployment byte for byte, and the request is logged without it', async () => {
  const { key, keyId } = await h.keyFor();
  const png = makePng(640, 480);
  const res = await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/png', png)), key);
  expect(res.status).toBe(200);
  await res.json();
  expect(double.requests).toHaveLength(1);
  expect(double.requests[0]!.media).toEqual([{ mediaType: 'image/png', bytes: png.length, sha256: sha(png) }]);
  await h.gateway.flushLogs();
  const rows = await h.t.db.execute<Record<string, unknown>>(sql`SELECT * FROM request_logs WHERE api_key_id = ${keyId}`);
  expect(rows.rows).toHaveLength(1);
  expect(rows.rows[0]).toMatchObject({ status: 200 });
  // No column of the row holds any part of the image.
  expect(JSON.stringify(rows.rows[0])).not.toContain(png.toString('base64').slice(0, 40));
});

test('a deployment without vision refuses images with a 400 naming it, and nothing is forwarded', async () => {
  const { key, keyId } = await h.keyFor();
  const err = await errorOf(await h.post('/v1/chat/completions', chatWith(textOnly, dataUrl('image/png', makePng(8, 8))), key));
  expect(err).toMatchObject({ status: 400, code: 'images_not_supported', param: 'messages' });
  expect(err.message).toContain(`'${textOnly}' does not take images`);
  expect(err.message).toMatch(/vision/);
  expect(double.requests).toHaveLength(0);
  // The same text without the image is served.
  const ok = await h.post('/v1/chat/completions', { model: textOnly, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, key);
  expect(ok.status).toBe(200);
  await h.gateway.flushLogs();
  const rows = await h.t.db.execute<{ status: number; error_type: string | null }>(sql`SELECT status, error_type FROM request_logs WHERE api_key_id = ${keyId} ORDER BY created_at`);
  expect(rows.rows.map((r) => [r.status, r.error_type])).toEqual([
    [400, 'images_not_supported'],
    [200, null],
  ]);
});

test('image URLs are never fetched: http(s) is refused, as are unknown types, bad bytes and oversize images', async () => {
  const { key } = await h.keyFor();
  const http = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, 'https://example.com/cat.png'), key));
  expect(http).toMatchObject({ status: 400, code: 'image_url_not_allowed', param: 'messages[0].content[1].image_url.url' });
  expect(http.message).toMatch(/never downloads from the internet.*data: URL/);
  const plain = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, 'http://10.0.0.1/x.png'), key));
  expect(plain.code).toBe('image_url_not_allowed');
  const notImage = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/png', Buffer.from('GIF89a but not really a png at all'))), key));
  expect(notImage).toMatchObject({ status: 400, code: 'unsupported_image_type' });
  expect(notImage.message).toContain('says image/png but the bytes are image/gif');
  const garbage = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/jpeg', Buffer.from('hello world, no image here'))), key));
  expect(garbage).toMatchObject({ status: 400, code: 'unsupported_image_type' });
  const svg = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/svg+xml', Buffer.from('<svg/>'))), key));
  expect(svg.message).toContain('image/svg+xml are not accepted');
  const big = makePng(400, 400, [1, 2, 3]);
  const noisy = Buffer.concat([big, Buffer.alloc(MAX_IMAGE)]); // a PNG header with trailing bytes past the limit
  const oversize = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/png', noisy)), key));
  expect(oversize).toMatchObject({ status: 400, code: 'image_too_large' });
  expect(oversize.message).toContain(`at most ${MAX_IMAGE} bytes per image`);
  const video = await errorOf(
    await h.post('/v1/chat/completions', { model: vision, messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } }] }] }, key),
  );
  expect(video).toMatchObject({ status: 400, code: 'unsupported_content' });
  expect(double.requests).toHaveLength(0);
});

test('an image to a deployment whose data policy screens content is refused: an image cannot be screened', async () => {
  const { key } = await h.keyFor();
  const [dep] = await h.t.db.execute<{ id: string }>(sql`SELECT id FROM deployments WHERE name = ${upstreamVision}`).then((r) => r.rows);
  // Internal data allowed, confidential refused: the text is screened, the image could hold anything.
  await h.t.db.insert(deploymentDataPolicies).values({ deploymentId: dep!.id, maxLevel: 1, mode: 'block' });
  await h.gateway.refresh();
  const err = await errorOf(await h.post('/v1/chat/completions', chatWith(upstreamVision, dataUrl('image/png', makePng(8, 8))), key));
  expect(err).toMatchObject({ status: 403, code: 'classification_unverifiable' });
  expect(err.message).toContain(`holds images, which cannot be screened for sensitive data, and the deployment '${upstreamVision}' may receive data up to`);
  expect(double.requests).toHaveLength(0);
  // Text alone is screened and sent.
  const text = await h.post('/v1/chat/completions', { model: upstreamVision, messages: [{ role: 'user', content: 'hello' }] }, key);
  expect(text.status).toBe(200);
  // An admin letting it receive every level: the image goes through, under the upstream's model name.
  await h.t.db.update(deploymentDataPolicies).set({ maxLevel: 3 }).where(sql`deployment_id = ${dep!.id}`);
  await h.gateway.refresh();
  double.clear();
  const ok = await h.post('/v1/chat/completions', chatWith(upstreamVision, dataUrl('image/png', makePng(8, 8))), key);
  expect(ok.status).toBe(200);
  expect(double.requests[0]!.body!.model).toBe('gpt-4o');
  expect(double.requests[0]!.media).toHaveLength(1);
});

test('images count toward token quotas at their estimate when the engine reports fewer tokens', async () => {
  const { key, keyId } = await h.keyFor();
  await h.t.db.insert(quotas).values({ subjectKind: 'key', subjectId: keyId, tokensPerDay: 1000 });
  await h.gateway.refresh();
  // 1024×1024, high detail: scaled to 768×768, 4 tiles: 85 + 4 × 170 = 765 prompt tokens at least.
  const res = await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/png', makePng(1024, 1024))), key);
  expect(res.status).toBe(200);
  await res.json();
  await until('the image counted', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).tokensToday >= 765);
  const second = await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/png', makePng(1024, 1024))), key);
  expect(second.status).toBe(200);
  await second.json();
  await until('both counted', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).tokensToday >= 1530);
  const refused = await errorOf(await h.post('/v1/chat/completions', chatWith(vision, dataUrl('image/png', makePng(8, 8))), key));
  expect(refused).toMatchObject({ status: 429 });
});

function transcriptionForm(model: string, audioBytes: Buffer, extra: Record<string, string> = {}) {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(audioBytes)], { type: 'audio/wav' }), 'note.wav');
  form.set('model', model);
  for (const [k, v] of Object.entries(extra)) form.set(k, v);
  return form;
}

const postForm = (path: string, form: FormData, key: string) => fetch(h.gateway.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });

test('a transcription is forwarded as a multipart form to an audio deployment, answered and logged', async () => {
  const { key, keyId } = await h.keyFor();
  const wav = makeWav(1.5);
  const res = await postForm('/v1/audio/transcriptions', transcriptionForm(audio, wav, { language: 'de', response_format: 'json' }), key);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ text: `The double heard ${wav.length} bytes of audio in de.` });
  const got = double.requests[0]!;
  expect(got.path).toBe('/v1/audio/transcriptions');
  expect(got.body).toMatchObject({ model: audio, language: 'de', response_format: 'json' });
  expect(got.media).toEqual([{ mediaType: 'audio/wav', bytes: wav.length, sha256: sha(wav) }]);
  const text = await postForm('/v1/audio/transcriptions', transcriptionForm(audio, wav, { response_format: 'text' }), key);
  expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
  expect(await text.text()).toBe(`The double heard ${wav.length} bytes of audio.`);
  await h.gateway.flushLogs();
  const rows = await h.t.db.execute<{ status: number; model: string; replica_id: string | null }>(sql`SELECT status, model, replica_id FROM request_logs WHERE api_key_id = ${keyId}`);
  expect(rows.rows).toHaveLength(2);
  expect(rows.rows.every((r) => r.status === 200 && r.model === audio && r.replica_id !== null)).toBe(true);
  const metrics = await (await fetch(`${h.gateway.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`enclave_gateway_e2e_seconds_count\\{model="${audio}"[^}]*status="200"\\} 2`));
});

test('audio requests are charged their estimate: 10 tokens per second of audio, one per 4 characters spoken', async () => {
  const { key, keyId } = await h.keyFor();
  await h.t.db.insert(quotas).values({ subjectKind: 'key', subjectId: keyId, tokensPerDay: 1_000_000 });
  await h.gateway.refresh();
  const res = await postForm('/v1/audio/transcriptions', transcriptionForm(audio, makeWav(3)), key);
  expect(res.status).toBe(200);
  await res.json();
  await until('the transcription counted', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).tokensToday === 30);
  const speech = await h.post('/v1/audio/speech', { model: audio, input: 'x'.repeat(40), voice: 'alloy' }, key);
  expect(speech.status).toBe(200);
  await speech.arrayBuffer();
  await until('the speech counted', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).tokensToday === 40);
});

test('transcription input is checked: not audio, too large, not multipart, and a deployment without audio', async () => {
  const { key } = await h.keyFor();
  const notAudio = await errorOf(await postForm('/v1/audio/transcriptions', transcriptionForm(audio, Buffer.from('just some text')), key));
  expect(notAudio).toMatchObject({ status: 400, code: 'unsupported_audio_type', param: 'file' });
  const huge = await errorOf(await postForm('/v1/audio/transcriptions', transcriptionForm(audio, makeWav(10)), key));
  expect(huge).toMatchObject({ status: 413, code: 'audio_too_large' });
  const json = await errorOf(await h.post('/v1/audio/transcriptions', { model: audio, file: 'x' }, key));
  expect(json).toMatchObject({ status: 400, code: 'invalid_body' });
  expect(json.message).toContain('multipart/form-data');
  const language = await errorOf(await postForm('/v1/audio/transcriptions', transcriptionForm(audio, makeWav(0.1), { language: 'English please' }), key));
  expect(language).toMatchObject({ status: 400, param: 'language' });
  const notAudioDeployment = await errorOf(await postForm('/v1/audio/transcriptions', transcriptionForm(textOnly, makeWav(0.1)), key));
  expect(notAudioDeployment).toMatchObject({ status: 400, code: 'audio_not_supported' });
  expect(notAudioDeployment.message).toContain(`'${textOnly}' does not serve /v1/audio/transcriptions`);
  expect(double.requests).toHaveLength(0);
});

test('speech answers audio bytes; keys scoped to other models are refused; the text is screened', async () => {
  const { key, keyId } = await h.keyFor();
  const res = await h.post('/v1/audio/speech', { model: audio, input: 'Hello there, this is Enclave.', voice: 'alloy', response_format: 'wav' }, key);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('audio/wav');
  const wav = Buffer.from(await res.arrayBuffer());
  expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
  expect(wav.toString('latin1', 8, 12)).toBe('WAVE');
  expect(double.requests[0]!.body).toMatchObject({ model: audio, input: 'Hello there, this is Enclave.', voice: 'alloy' });
  const noVoice = await errorOf(await h.post('/v1/audio/speech', { model: audio, input: 'x' }, key));
  expect(noVoice).toMatchObject({ status: 400, param: 'voice' });
  const tooLong = await errorOf(await h.post('/v1/audio/speech', { model: audio, input: 'x'.repeat(4097), voice: 'alloy' }, key));
  expect(tooLong).toMatchObject({ status: 400, param: 'input' });
  const scoped = await h.keyFor('user', [vision]);
  const refused = await errorOf(await h.post('/v1/audio/speech', { model: audio, input: 'hi', voice: 'alloy' }, scoped.key));
  expect(refused).toMatchObject({ status: 403, code: 'model_not_allowed' });
  const wrongMethod = await fetch(`${h.gateway.url}/v1/audio/speech`, { headers: { authorization: `Bearer ${key}` } });
  expect(wrongMethod.status).toBe(405);
  await h.gateway.flushLogs();
  const rows = await h.t.db.execute<{ status: number }>(sql`SELECT status FROM request_logs WHERE api_key_id = ${keyId} ORDER BY created_at`);
  expect(rows.rows.map((r) => r.status)).toEqual([200, 400, 400]);
});
