import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../db/schema';
import { DomainError } from '../security/errors';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { until } from '../testing/until';
import { handleStreamingPost, type StreamingCall } from './streaming-post';
import { startApiTestServer } from './testing/api-test-server';

// The frame chat and arena share, on a real socket and a real audit chain: a route made for the test
// plays each ending (success, refusal before the stream, error after it, the client leaving).
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let server: http.Server;
let base: string;
let cookie: string;
let behaviour: (call: StreamingCall) => Promise<{ outcome: 'success'; detail: Record<string, unknown> }>;

beforeAll(async () => {
  t = await createTestDatabase('streamingpost');
  api = await startApiTestServer({ db: t.db, masterKey: Buffer.alloc(32, 3) });
  cookie = (await api.userSession('user')).cookie;
  server = http.createServer((req, res) => {
    void handleStreamingPost({ db: t.db, env: api.env, masterKey: Buffer.alloc(32, 3), gatewayUrl: '' }, req, res, {
      path: '/test/stream',
      action: 'test.stream',
      maxBodyBytes: 1024,
      run: (call) => behaviour(call),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await api?.close();
  await t?.drop();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/test/stream`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: base, ...headers }, body: JSON.stringify(body) });
const audits = async (target: string) => t.db.select().from(auditLog).where(and(eq(auditLog.action, 'test.stream'), eq(auditLog.target, target)));
const lastAudit = async () => (await t.db.select().from(auditLog).where(eq(auditLog.action, 'test.stream'))).sort((a, b) => a.id - b.id).at(-1)!;

describe('streaming, audited POST', () => {
  it('streams events and audits success with what the route named along the way', async () => {
    behaviour = async ({ body, events, auditWith }) => {
      auditWith({ target: 'conv-1', detail: { model: 'm' } });
      events.send('delta', { text: (body as { say: string }).say });
      return { outcome: 'success', detail: { n: 1 } };
    };
    const res = await post({ say: 'hello' });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe('event: delta\ndata: {"text":"hello"}\n\n');
    const [row] = await audits('conv-1');
    expect(row).toMatchObject({ outcome: 'success', detail: { n: 1, model: 'm' } });
  });

  it('refusals before the stream are plain JSON with their status, audited as denied or failure', async () => {
    behaviour = async () => {
      throw new DomainError('BAD_REQUEST', 'say: required');
    };
    const get = await fetch(`${base}/test/stream`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    const anonymous = await post({}, { cookie: '' });
    expect(anonymous.status).toBe(401);
    expect((await lastAudit()).outcome).toBe('denied');
    const crossSite = await post({}, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect((await lastAudit()).outcome).toBe('denied');
    const bad = await post({});
    expect([bad.status, ((await bad.json()) as { error: { message: string } }).error.message]).toEqual([400, 'say: required']);
    expect(await lastAudit()).toMatchObject({ outcome: 'failure', detail: { error: 'BAD_REQUEST' } });
    const big = await post({ say: 'x'.repeat(2000) });
    expect(big.status).toBe(413);
  });

  it('an error after the stream started is an error event; an unexpected one says only "Internal error"', async () => {
    behaviour = async ({ events, auditWith }) => {
      auditWith({ target: 'conv-2' });
      events.send('delta', { text: 'partial' });
      throw new Error('secret detail of a crash');
    };
    const text = await (await post({})).text();
    expect(text).toContain('event: error\ndata: {"message":"Internal error","status":500}');
    expect(text).not.toContain('secret');
    expect((await audits('conv-2'))[0]).toMatchObject({ outcome: 'failure', detail: { error: 'INTERNAL' } });
  });

  it('a client that leaves aborts the run, which is audited as CLIENT_CLOSED', async () => {
    let aborted = false;
    behaviour = async ({ events, signal, auditWith }) => {
      auditWith({ target: 'conv-3' });
      events.send('delta', { text: 'first' });
      await new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))));
      return { outcome: 'success', detail: {} };
    };
    const controller = new AbortController();
    const res = await fetch(`${base}/test/stream`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: base }, body: '{}', signal: controller.signal });
    // The first event arrived; then the user presses stop.
    await res.body!.getReader().read();
    controller.abort();
    await until('the run aborted', async () => aborted);
    await until('the audit row', async () => (await audits('conv-3'))[0]);
    expect((await audits('conv-3'))[0]).toMatchObject({ outcome: 'failure', detail: { error: 'CLIENT_CLOSED' } });
  });
});
