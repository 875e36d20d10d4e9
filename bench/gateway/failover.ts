import { randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { sql } from 'drizzle-orm';
import { createApiKey } from '../../server/security/api-keys';
import { createTestDatabase } from '../../server/testing/database';
import { makeDeployment, makeUser } from '../../server/testing/factories';
import { startChild, type Child } from './children';

/**
 * npm run bench:failover — one of two replicas is killed (SIGKILL) in the middle of a load of plain and
 * streaming requests through the real gateway (issue 14). Counted: failed plain requests (target 0: a
 * failed try moves to the other replica before any byte), streams cut on the dead replica (they were on
 * it), and how many requests still tried the dead replica, with the set-aside on and, for comparison,
 * off (GATEWAY_BREAKER_FAILURES at a million).
 */

/** Sends requests `concurrency` at a time until `until` (ms since epoch); counts outcomes. */
async function load(url: string, key: string, model: string, stream: boolean, concurrency: number, until: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 16, stream });
  const out = { sent: 0, ok: 0, failed: 0, cut: 0 };
  const one = () =>
    new Promise<void>((resolve) => {
      out.sent++;
      const req = http.request(url + '/v1/chat/completions', { method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode !== 200) out.failed++;
          // A stream that began on the killed replica ends with the gateway's error event.
          else if (stream && !text.includes('[DONE]')) out.cut++;
          else out.ok++;
          resolve();
        });
        res.on('error', () => {
          out.failed++;
          resolve();
        });
      });
      req.on('error', () => {
        out.failed++;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) await one();
    }),
  );
  agent.destroy();
  return out;
}

async function run(label: string, breakerFailures: number) {
  const t = await createTestDatabase('failover');
  const procs: Child[] = [];
  try {
    const user = await makeUser(t.db, { role: 'admin' });
    const { key } = await createApiKey(t.db, { userId: user.id, name: 'bench', maxConcurrent: 0 });
    const [a, b] = [await startChild('engine-process.ts', ['20', '20', '16']), await startChild('engine-process.ts', ['20', '20', '16'])];
    procs.push(a, b);
    const { deployment, replicas } = await makeDeployment(t.db, { name: 'failover' }, [a.url, b.url]);
    const gateway = await startChild('gateway-process.ts', [], {
      DATABASE_URL: t.url,
      ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex'),
      ENCLAVE_DATA_DIR: os.tmpdir(),
      GATEWAY_RATE_LIMIT_PER_MINUTE: '0',
      GATEWAY_BREAKER_FAILURES: String(breakerFailures),
      NODE_ENV: 'production',
    });
    procs.push(gateway);
    const started = Date.now();
    const until = started + 6_000;
    const killAt = started + 2_000;
    const killer = new Promise<void>((r) =>
      setTimeout(() => {
        process.kill(b.pid, 'SIGKILL');
        r();
      }, killAt - Date.now()),
    );
    const [plain, streams] = await Promise.all([load(gateway.url, key, deployment.name, false, 20, until), load(gateway.url, key, deployment.name, true, 20, until), killer]);
    await gateway.stop(); // flushes the request log
    const deadId = replicas[1]!.id;
    let rows: { retried: number; on_dead: number }[] = [];
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = (await t.db.execute<{ retried: number; on_dead: number; total: number }>(sql`SELECT count(*) FILTER (WHERE retries > 0)::int AS retried, count(*) FILTER (WHERE replica_id = ${deadId} AND status <> 200)::int AS on_dead, count(*)::int AS total FROM request_logs`)).rows as never;
      if ((rows[0] as unknown as { total: number }).total >= plain.sent + streams.sent) break;
    }
    const r = rows[0]!;
    const result = { label, plain, streams, triedDeadThenRetried: r.retried, endedOnDead: r.on_dead };
    console.log(
      `${label.padEnd(24)} plain: ${plain.sent} sent, ${plain.failed} failed | streams: ${streams.sent} sent, ${streams.failed} failed, ${streams.cut} cut mid-stream | requests that tried the dead replica and moved on: ${r.retried}; ended on it: ${r.on_dead}`,
    );
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await t.drop();
  }
}

const results = [await run('set-aside on (3 failures)', 3), await run('set-aside off', 1_000_000)];
console.log(JSON.stringify({ bench: 'failover', machine: { cpus: os.cpus().length, node: process.version, load: os.loadavg()[0] }, results }));
process.exit(0);
