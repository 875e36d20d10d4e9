import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentReplicas, loadTests } from '../../db/schema';
import { replicaSecret } from '../../engines/replica-secret';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeLoadTest, makeUser } from '../../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { executeLoadTest } from './execute';
import { loadTestSpecSchema } from './spec';

// A load test straight at a replica (past the gateway) must open it with the replica's own secret: the
// vLLM double refuses /v1 without it, as vLLM does with VLLM_API_KEY.
let t: TestDatabase;
let double: OpenAIDouble | undefined;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('loadtestreplica');
});
afterAll(async () => {
  await double?.close();
  await t?.drop();
});

it('a run against a replica sends its secret and is measured without errors', async () => {
  const { deployment, replicas } = await makeDeployment(t.db, { name: 'direct-double' }, ['http://127.0.0.1:9']);
  const replica = replicas[0]!;
  double = await startOpenAIDouble({ served: { servedName: 'direct-double' }, apiKey: replicaSecret(masterKey, replica.id), tokens: 2 });
  await t.db.update(deploymentReplicas).set({ url: double.url }).where(eq(deploymentReplicas.id, replica.id));

  const owner = await makeUser(t.db, { role: 'engineer' });
  const spec = loadTestSpecSchema.parse({ mode: 'concurrency', concurrency: 2, requests: 4, workload: { kind: 'random', inputTokens: 4, outputTokens: 2 } });
  const row = await makeLoadTest(t.db, { ownerId: owner.id, name: 'direct', deploymentId: deployment.id, model: 'direct-double', spec: { ...spec, target: { kind: 'deployment', via: 'replica' } } });
  await executeLoadTest(t.db, row.id, { masterKey });

  const [after] = await t.db.select().from(loadTests).where(eq(loadTests.id, row.id));
  expect(after!.status, after!.error ?? '').toBe('succeeded');
  expect(double.requests.map((r) => r.headers.authorization)).toEqual(Array(4).fill(`Bearer ${replicaSecret(masterKey, replica.id)}`));
  expect(double.received).toBe(4);
});
