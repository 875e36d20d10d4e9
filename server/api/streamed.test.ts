import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchStreamLink, TRPCClientError } from '@trpc/client';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { auditLog } from '../db/schema';
import { DomainError } from '../core/errors';
import { writeAudit } from '../security/audit';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { until } from '../testing/until';
import { createApiContext } from './context';
import { eventQueue } from './event-queue';
import { startApiTestServer } from './testing/api-test-server';
import { transformer } from './transformer';
import { registerProcedures, router, streamingProcedure } from './trpc';

// The frame chat.send and arena.start share (trpc.ts's guard for streamed procedures), on a real socket
// and a real audit chain: a procedure made for the test plays each ending (success, refusal before the
// stream, an error after it, the client leaving).
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let server: http.Server;
let base: string;
let cookie: string;
type Play = (call: { say: string; audit: { with(f: { target?: string; detail?: Record<string, unknown> }): void; entry: (o: 'success', d: Record<string, unknown>) => object }; signal: AbortSignal; emit(text: string): void }) => Promise<void>;
let play: Play;

const testRouter = router({
  test: router({
    stream: streamingProcedure(1024)
      .input(z.object({ say: z.string() }))
      .mutation(async function* ({ ctx, input, signal }) {
        yield* eventQueue<{ text: string }>((emit) => play({ say: input.say, audit: ctx.streamAudit, signal: signal!, emit: (text) => emit({ text }) }));
      }),
  }),
});
registerProcedures(testRouter);

beforeAll(async () => {
  t = await createTestDatabase('streamed');
  api = await startApiTestServer({ db: t.db, masterKey: Buffer.alloc(32, 3) });
  cookie = (await api.userSession('user')).cookie;
  const deps = { db: t.db, env: api.env, masterKey: Buffer.alloc(32, 3), gatewayUrl: '' };
  server = http.createServer((req, res) => {
    void nodeHTTPRequestHandler({ router: testRouter, req, res, path: (req.url ?? '').split('?')[0]!.slice('/api/trpc/'.length), createContext: () => createApiContext(deps, req, res) });
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

const client = (headers: Record<string, string> = { cookie }) =>
  createTRPCClient<typeof testRouter>({ links: [httpBatchStreamLink({ url: `${base}/api/trpc`, transformer, headers })] });

async function call(say: string, opts: { headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  const texts: string[] = [];
  try {
    for await (const e of await client(opts.headers).test.stream.mutate({ say }, { signal: opts.signal })) texts.push(e.text);
    return { texts, error: undefined };
  } catch (e) {
    if (!(e instanceof TRPCClientError)) throw e;
    return { texts, error: { message: e.message, status: (e.data as { httpStatus: number }).httpStatus } };
  }
}
const audits = async (target: string) => t.db.select().from(auditLog).where(and(eq(auditLog.action, 'test.stream'), eq(auditLog.target, target)));
const lastAudit = async () => (await t.db.select().from(auditLog).where(eq(auditLog.action, 'test.stream'))).sort((a, b) => a.id - b.id).at(-1)!;

describe('streamed procedures', () => {
  it('stream their events, and write their own audit row with what they named along the way', async () => {
    play = async ({ say, audit, emit }) => {
      audit.with({ target: 'conv-1', detail: { model: 'm' } });
      emit(say);
      await writeAudit(t.db, audit.entry('success', { n: 1 }) as never);
    };
    expect(await call('hello')).toEqual({ texts: ['hello'], error: undefined });
    const rows = await audits('conv-1');
    expect(rows.map((r) => [r.outcome, r.detail])).toEqual([['success', { n: 1, model: 'm' }]]);
  });

  it('refuse before the stream with the refusal’s status, audited as denied or failure', async () => {
    play = async () => {
      throw new DomainError('BAD_REQUEST', 'say: required');
    };
    expect((await call('x', { headers: {} })).error?.status).toBe(401);
    expect((await lastAudit()).outcome).toBe('denied');
    expect((await call('x', { headers: { cookie, origin: 'https://evil.example' } })).error?.status).toBe(403);
    expect((await lastAudit()).outcome).toBe('denied');
    expect(await call('x')).toEqual({ texts: [], error: { message: 'say: required', status: 400 } });
    expect(await lastAudit()).toMatchObject({ outcome: 'failure', detail: { error: 'BAD_REQUEST' } });
  });

  it('end with an error after the stream started; an unexpected one says only "Internal error", audited INTERNAL', async () => {
    play = async ({ audit, emit }) => {
      audit.with({ target: 'conv-2' });
      emit('partial');
      throw new Error('secret detail of a crash');
    };
    expect(await call('x')).toEqual({ texts: ['partial'], error: { message: 'Internal error', status: 500 } });
    expect((await audits('conv-2')).map((r) => [r.outcome, r.detail])).toEqual([['failure', { error: 'INTERNAL' }]]);
  });

  it('abort the run when the client leaves (the stop button), audited as CLIENT_CLOSED', async () => {
    let aborted = false;
    play = async ({ audit, emit, signal }) => {
      audit.with({ target: 'conv-3' });
      emit('first');
      await new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))));
    };
    const controller = new AbortController();
    const events = await client().test.stream.mutate({ say: 'x' }, { signal: controller.signal });
    // The first event arrived; then the user presses stop.
    for await (const _ of events) break;
    controller.abort();
    await until('the run aborted', async () => aborted);
    await until('the audit row', async () => (await audits('conv-3'))[0]);
    expect((await audits('conv-3')).map((r) => [r.outcome, r.detail])).toEqual([['failure', { error: 'CLIENT_CLOSED' }]]);
  });
});
