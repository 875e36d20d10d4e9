import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTests } from '../../db/schema';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import type { SessionUser } from '../../security/sessions';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeLoadTest, makeUser } from '../../testing/factories';
import { runEngine } from './engine';
import { executeLoadTest } from './execute';
import { runLoadTest } from './run';
import { loadTestSpecSchema } from './spec';
import { createLoadTest, createLoadTestSchema } from './store';

// The double listens on 127.0.0.1, which the outbound policy refuses unless an admin allows it: this
// file allows exactly that address, so the rest of loopback (127.0.0.2) stays refused.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
process.env.REDIS_PREFIX = testRedisPrefix('loadtest-policy');
const outbound = { allow: '127.0.0.1', ownEndpoints: [] };

let engine: OpenAIDouble;
let t: TestDatabase;
/** A listener on 127.0.0.2 that counts the connections it gets (it should get none). */
let refused: { server: net.Server; port: number; connections: number };

beforeAll(async () => {
  t = await createTestDatabase('loadtest-policy');
  engine = await startOpenAIDouble({ firstTokenMs: 5, interTokenMs: 1, tokens: 3 });
  const server = net.createServer((s) => {
    refused.connections++;
    s.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  refused = { server, port: (server.address() as AddressInfo).port, connections: 0 };
});
afterAll(async () => {
  refused?.server.close();
  await engine?.close();
  await t?.drop();
});

const spec = loadTestSpecSchema.parse({ mode: 'concurrency', concurrency: 2, requests: 4, workload: { kind: 'random', inputTokens: 4, outputTokens: 2 } });

describe('a URL target is checked when saved', () => {
  it.each([
    ['http://169.254.169.254/latest/v1', /cloud metadata address/],
    ['http://127.0.0.2:8000/v1', /127\.0\.0\.2 is a loopback address/],
    ['http://[::1]:8000/v1', /loopback/],
    ['http://0x7f.0.0.2/v1', /loopback/],
    ['ftp://10.0.0.1/v1', /http/],
    ['https://user:pw@api.example.com/v1', /user name or password/],
    ['https://api.example.com/v1?k=v', /query/],
  ])('%s is refused, naming target.url', (url, rule) => {
    const parsed = createLoadTestSchema.safeParse({ name: 'x', target: { kind: 'url', url, model: 'm' }, spec });
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues.find((i) => i.path.join('.') === 'target.url');
    expect(issue?.message).toMatch(rule);
  });

  it('a host on the private network or the internet is accepted', () => {
    for (const url of ['http://10.1.2.3:8000/v1', 'https://api.example.com/v1'])
      expect(createLoadTestSchema.safeParse({ name: 'x', target: { kind: 'url', url, model: 'm' }, spec }).success).toBe(true);
  });
});

it("an upstream deployment is tested through the gateway only: its replica is a URL a user gave", async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  const url = `http://127.0.0.2:${refused.port}`;
  const { deployment } = await makeDeployment(t.db, { engine: 'upstream', spec: { engine: 'upstream', upstream: { url } } }, [url]);
  const user: SessionUser = { id: owner.id, email: owner.email, name: owner.name, role: 'engineer', locale: 'en' };
  const input = { name: 'direct', target: { kind: 'deployment' as const, deploymentId: deployment.id, via: 'replica' as const }, spec };
  await expect(createLoadTest(t.db, { masterKey: randomBytes(32), gatewayUrl: 'http://127.0.0.1:9' }, user, input)).rejects.toMatchObject({
    code: 'BAD_REQUEST',
    message: expect.stringMatching(/^target\.via: an upstream deployment is tested through the gateway/),
  });
  expect(await t.db.select().from(loadTests).where(eq(loadTests.name, 'direct'))).toEqual([]);
});

describe('and when it runs', () => {
  it('a run whose target the policy refuses fails before any connection, saying why', async () => {
    const target = { url: `http://127.0.0.2:${refused.port}/v1`, model: 'm', headers: {}, outbound };
    await expect(runLoadTest(spec, target)).rejects.toThrow(/^refused by the outbound policy: 127\.0\.0\.2 is a loopback address/);
    expect(refused.connections).toBe(0);
  });

  it('each shard connects only where the policy allows (what a name resolves to when the run is under way)', async () => {
    const jobs = [0, 1].map((seq) => ({ seq, stage: 0, atMs: null, prompt: { kind: 'random' as const, tokens: 4, seed: seq }, maxTokens: 2 }));
    const run = { url: `http://127.0.0.2:${refused.port}/v1`, headers: {}, api: 'chat' as const, model: 'm', ignoreEos: false, texts: [], timeoutMs: 5_000, jobs, concurrency: 2, outbound };
    const { samples } = await runEngine(run);
    expect(samples.map((s) => s.error)).toEqual(['refused by the outbound policy', 'refused by the outbound policy']);
    expect(refused.connections).toBe(0);
  });

  it('an allow-listed target is measured as usual', async () => {
    const r = await runLoadTest(spec, { url: `${engine.url}/v1`, model: 'double', headers: {}, outbound });
    expect(r.samples.map((s) => s.error)).toEqual([null, null, null, null]);
  });

  it('a stored run (saved before the policy) is failed by the worker with the reason', async () => {
    const owner = await makeUser(t.db);
    const row = await makeLoadTest(t.db, { ownerId: owner.id, name: 'old', targetUrl: `http://127.0.0.2:${refused.port}/v1`, spec: { ...spec, target: { kind: 'url' } } });
    await executeLoadTest(t.db, row.id, { masterKey: randomBytes(32) });
    const [after] = await t.db.select().from(loadTests).where(eq(loadTests.id, row.id));
    expect(after).toMatchObject({ status: 'failed', error: expect.stringMatching(/^refused by the outbound policy: 127\.0\.0\.2 is a loopback address/) });
    expect(refused.connections).toBe(0);
  });
});
