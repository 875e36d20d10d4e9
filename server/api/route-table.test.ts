import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DomainError } from '../core/errors';
import type { ApiDeps } from './context';
import { sendJson } from './http-util';
import { routeTable } from './route-table';

// The raw routes' dispatcher on a real socket, with routes made for the test.
const dispatch = routeTable([
  { method: 'GET', path: '/api/things/:id/export', handle: async ({ res, params, url }) => sendJson(res, 200, { id: params.id, format: url.searchParams.get('format') }) },
  { method: 'POST', path: '/api/things', handle: async ({ res }) => sendJson(res, 201, { created: true }) },
  { method: 'GET', path: '/api/things/:id/fail', handle: async ({ params }) => { throw new DomainError('NOT_FOUND', `No thing ${params.id}`); } },
]);
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    void dispatch({} as ApiDeps, req, res, new URL(req.url ?? '/', 'http://localhost')).then((handled) => handled || res.writeHead(404).end('unrouted'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

it('matches literal segments and decoded parameters, a trailing slash too', async () => {
  expect(await (await fetch(`${base}/api/things/a%20b/export?format=md`)).json()).toEqual({ id: 'a b', format: 'md' });
  expect((await fetch(`${base}/api/things/`, { method: 'POST', body: '{}' })).status).toBe(201);
  // A malformed escape names nothing rather than throwing.
  expect(await (await fetch(`${base}/api/things/%E0%A4%A/export`)).json()).toEqual({ id: '', format: null });
});

it('answers a known path under another method with 405 naming the allowed one, and leaves unknown paths to the caller', async () => {
  const wrong = await fetch(`${base}/api/things`);
  expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'POST']);
  expect(((await wrong.json()) as { error: { message: string } }).error.message).toBe('Use POST for /api/things');
  const unrouted = await fetch(`${base}/api/things/1/export/more`);
  expect([unrouted.status, await unrouted.text()]).toEqual([404, 'unrouted']);
});

it("turns a handler's DomainError into its JSON answer", async () => {
  const res = await fetch(`${base}/api/things/7/fail`);
  expect([res.status, await res.json()]).toEqual([404, { error: { message: 'No thing 7', code: 'NOT_FOUND', status: 404 } }]);
});
