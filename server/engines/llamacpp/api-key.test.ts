import fs from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from './process';
import { postJson, TEST_MODEL_PATH } from './test-support';

// The built-in engine behaves as vLLM does with --api-key: /v1 needs the key, /health and /metrics do not.
const KEY = 'enc-replica-test-secret';
let engine: StartedLlamaCppEngine;
beforeAll(async () => {
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 1024, sequences: 1, apiKey: KEY });
});
afterAll(async () => {
  await engine?.stop();
});

const body = { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 };

describe('the replica secret on the built-in engine', () => {
  it.each([
    ['no Authorization', {}],
    ['a wrong key', { authorization: 'Bearer enc-replica-other' }],
    ['the key as a prefix', { authorization: `Bearer ${KEY.slice(0, -1)}` }],
    ['the key with more after it', { authorization: `Bearer ${KEY}x` }],
    ['the key without a scheme', { authorization: KEY }],
    ['another scheme', { authorization: `Basic ${KEY}` }],
  ])('%s: 401 in OpenAI error shape on every /v1 path, known or not', async (_label, headers) => {
    for (const [method, path] of [['POST', '/v1/chat/completions'], ['POST', '/v1/completions'], ['GET', '/v1/models'], ['POST', '/v1/embeddings']] as const) {
      const res = await fetch(`${engine.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'POST' ? JSON.stringify(body) : undefined });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(await res.json()).toEqual({ error: { message: expect.stringMatching(/replica's secret.*Enclave gateway/), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
  });

  it('answers with the key (the scheme in any case, as vLLM accepts it)', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await postJson(`${engine.url}/v1/chat/completions`, body, { headers: { 'content-type': 'application/json', authorization: `${scheme} ${KEY}` } });
      expect(res.status).toBe(200);
    }
    expect((await fetch(`${engine.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  });

  it('leaves /health and /metrics open: probes and scrapers carry no secret, and neither shows content', async () => {
    expect((await fetch(`${engine.url}/health`)).status).toBe(200);
    expect((await fetch(`${engine.url}/metrics`)).status).toBe(200);
  });

  it('refuses a keyless 6 MiB body before reading it, and the client still gets the 401', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      let answered = 0;
      const req = request(`${engine.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-length': 6 * 1024 * 1024 } }, (res) => {
        answered = res.statusCode!;
        res.resume();
        res.on('end', () => resolve(answered));
      });
      req.on('error', (e) => (answered ? resolve(answered) : reject(e)));
      req.end(Buffer.alloc(6 * 1024 * 1024, 'x'));
    });
    expect(status).toBe(401);
  });

  it('keeps the secret off its command line and out of its logs', async () => {
    expect(fs.readFileSync(`/proc/${engine.pid}/cmdline`, 'utf8')).not.toContain(KEY);
    expect(engine.logs().join('\n')).not.toContain(KEY);
  });
});
