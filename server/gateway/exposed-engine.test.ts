import { afterAll, beforeAll, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from '../core/env';
import { startRemoteAgent } from '../fleet/nodes/remote-agent';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

/**
 * Engines answer plain HTTP with their replica's secret in every request: the gateway never sends that
 * across a public address, and a remote agent refuses to put its engines on one.
 */
let h: GatewayHarness;
let engine: OpenAIDouble;
beforeAll(async () => {
  h = await startGatewayHarness('exposedengine');
  engine = await startOpenAIDouble({ tokens: 2 });
});
afterAll(async () => {
  await h?.close();
  await engine?.close();
});

it('the gateway does not route to a replica reached by plain HTTP at a public address, and does to one at a private address', async () => {
  const exposed = await makeDeployment(h.t.db, {}, ['http://203.0.113.7:8000']);
  const private_ = await makeDeployment(h.t.db, {}, [engine.url]);
  await h.gateway.refresh();
  const caller = await h.keyFor();
  const messages = [{ role: 'user', content: 'hi' }];
  const refused = await h.post('/v1/chat/completions', { model: exposed.deployment.name, messages }, caller.key);
  // Never tried (a failed connection would say so): the replica is simply not in the routing table.
  expect(refused.status).toBe(503);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('no_ready_replica');
  const served = await h.post('/v1/chat/completions', { model: private_.deployment.name, messages }, caller.key);
  expect(served.status).toBe(200);
});

it('a remote agent refuses to start with its engines on a public address, naming it', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-exposed-'));
  try {
    const env = parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_ENGINE_HOST: '203.0.113.7' });
    await expect(startRemoteAgent(env, { joinUrl: 'http://127.0.0.1:9', token: 'ejt-x', inventory: async () => ({ gpus: [], topology: null, processes: null }) })).rejects.toThrow(
      /ENCLAVE_ENGINE_HOST: 203\.0\.113\.7 is 203\.0\.113\.7, not a private address/,
    );
    // A private one passes that check (and fails only later, at the join, for want of a control plane).
    const ok = parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_ENGINE_HOST: '10.0.0.5' });
    await expect(startRemoteAgent(ok, { joinUrl: 'http://127.0.0.1:9', token: 'ejt-x', inventory: async () => ({ gpus: [], topology: null, processes: null }) })).rejects.toThrow(/api\/agent\/join/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
