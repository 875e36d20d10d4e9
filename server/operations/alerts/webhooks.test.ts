import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { alertRules, alertWebhooks, alerts } from '../../db/schema';
import { encryptText } from '../../security/encryption';
import { freePort } from '../../core/net/free-port';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { evaluateAlerts } from './evaluate';
import { DEFAULT_RULES } from './kinds';
import type { AlertPayload } from './deliver';
import { sendTestWebhook } from './test-webhook';
import { insertRecordedNode } from './testing/recorded';
import { createWebhook, listWebhooks } from './webhooks';

// The receivers listen on 127.0.0.1, which the outbound policy refuses unless an admin allows it: this
// file allows exactly that address, so the rest of loopback (127.0.0.2) stays refused.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';

const masterKey = randomBytes(32);
/** What every failure to get an HTTP answer says, whatever the port's state. */
const NO_ANSWER = { ok: false, error: 'could not connect, or no valid HTTP answer in time' };
const MIN = 60_000;
let t: TestDatabase;

/** A local receiver: records each POST; `answer` decides its status (or hangs, to test the timeout). */
let received: { path: string; body: AlertPayload }[] = [];
let answer: 'ok' | 'fail' | 'hang' = 'ok';
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push({ path: req.url!, body: JSON.parse(body) });
    if (answer === 'hang') return; // never answers
    res.writeHead(answer === 'ok' ? 200 : 503).end();
  });
});
let base = '';

beforeAll(async () => {
  t = await createTestDatabase('alerthooks');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await t?.drop();
});
beforeEach(async () => {
  received = [];
  answer = 'ok';
  await t.db.execute(sql`truncate alert_rules, alerts, alert_webhooks, gpu_nodes cascade`);
  await t.db.insert(alertRules).values(DEFAULT_RULES.find((r) => r.kind === 'agent_silent')!);
});

describe('webhooks', () => {
  it('posts an Alertmanager-shaped payload when an alert fires and again when it resolves, once each', async () => {
    await createWebhook(t.db, masterKey, { name: 'ops', secretUrl: `${base}/hook/s3cr3t-token` });
    const now = Date.now();
    await insertRecordedNode(t.db, 'silent-node', {}, new Date(now - 3 * MIN));
    await evaluateAlerts(t.db, { masterKey, now: new Date(now) });
    expect(received).toHaveLength(1);
    const firing = received[0]!;
    expect(firing.path).toBe('/hook/s3cr3t-token');
    expect(firing.body).toMatchObject({ version: '4', receiver: 'ops', status: 'firing' });
    expect(firing.body.alerts).toEqual([
      expect.objectContaining({
        status: 'firing',
        labels: { alertname: 'Agent silent', kind: 'agent_silent', severity: 'critical', subject: 'silent-node' },
        annotations: { summary: expect.stringContaining('silent for 180 s'), value: '180' },
        startsAt: new Date(now).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
      }),
    ]);
    // Still firing: nothing new to say.
    await evaluateAlerts(t.db, { masterKey, now: new Date(now + 15_000) });
    expect(received).toHaveLength(1);
    // The agent speaks again: one resolved message.
    await t.db.execute(sql`update gpu_nodes set last_heartbeat_at = ${new Date(now + 29_000)}`);
    await evaluateAlerts(t.db, { masterKey, now: new Date(now + 30_000) });
    expect(received).toHaveLength(2);
    expect(received[1]!.body.status).toBe('resolved');
    expect(received[1]!.body.alerts[0]).toMatchObject({ status: 'resolved', endsAt: new Date(now + 30_000).toISOString() });
    await evaluateAlerts(t.db, { masterKey, now: new Date(now + 45_000) });
    expect(received).toHaveLength(2);
  });

  it('a failed delivery is retried on the next evaluation, and the URL never reaches the log', async () => {
    const stderr = vi.spyOn(process.stderr, 'write');
    await createWebhook(t.db, masterKey, { name: 'flaky', secretUrl: `${base}/flaky/tok-abc123` });
    const now = Date.now();
    await insertRecordedNode(t.db, 'n1', {}, new Date(now - 3 * MIN));
    answer = 'fail';
    await evaluateAlerts(t.db, { masterKey, now: new Date(now) });
    expect(received).toHaveLength(1);
    expect((await t.db.select().from(alerts))[0]!.notifiedAt).toBeNull();
    answer = 'ok';
    await evaluateAlerts(t.db, { masterKey, now: new Date(now + 15_000) });
    expect(received).toHaveLength(2);
    expect(received[1]!.body.alerts[0]!.status).toBe('firing');
    expect((await t.db.select().from(alerts))[0]!.notifiedAt).not.toBeNull();
    const logged = stderr.mock.calls.map((c) => String(c[0])).join('');
    stderr.mockRestore();
    expect(logged).toContain('alert webhook delivery failed');
    expect(logged).toContain('HTTP 503');
    expect(logged).not.toContain('tok-abc123');
    expect(logged).not.toContain('/flaky');
  });

  it('a receiver that never answers times out instead of holding the evaluation', async () => {
    const hook = await createWebhook(t.db, masterKey, { name: 'slow', secretUrl: `${base}/slow` });
    answer = 'hang';
    const started = Date.now();
    const result = await sendTestWebhook(t.db, masterKey, hook.id);
    expect(result).toEqual(NO_ANSWER);
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 15_000);

  it('the URL is sealed at rest and listed only by host; the test message reaches the receiver', async () => {
    const hook = await createWebhook(t.db, masterKey, { name: 'chat', secretUrl: `${base}/services/T000/B000/XXXX` });
    expect(hook).not.toHaveProperty('secretUrl');
    expect(hook.host).toBe(new URL(base).host);
    const [row] = await t.db.select().from(alertWebhooks);
    expect(row!.urlEnc.toString('latin1')).not.toContain('XXXX');
    expect(JSON.stringify(await listWebhooks(t.db, masterKey))).not.toContain('XXXX');
    expect(await sendTestWebhook(t.db, masterKey, hook.id)).toEqual({ ok: true, status: 200 });
    expect(received[0]!.body.alerts[0]!.labels.alertname).toBe('Enclave test alert');
  });

  it('refuses URLs that are not http(s)', async () => {
    await expect(createWebhook(t.db, masterKey, { name: 'x', secretUrl: 'file:///etc/passwd' })).rejects.toThrow(/http/);
    await expect(createWebhook(t.db, masterKey, { name: 'x', secretUrl: 'not a url' })).rejects.toThrow();
  });
});

describe('the outbound policy', () => {
  const servers: net.Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  async function tcp(host: string, onSocket: (s: net.Socket) => void) {
    const seen = { connections: 0 };
    const server = net.createServer((socket) => {
      seen.connections++;
      onSocket(socket);
    });
    await new Promise<void>((r) => server.listen(0, host, r));
    servers.push(server);
    return { seen, port: (server.address() as AddressInfo).port };
  }
  async function storedHook(url: string) {
    // Sealed straight into the table, as a webhook saved before the policy (or before its entry left the allow-list).
    const { ciphertext, dataKeyId } = await encryptText(t.db, masterKey, url);
    const [row] = await t.db.insert(alertWebhooks).values({ name: 'old', urlEnc: ciphertext, dataKeyId, enabled: true }).returning();
    return row!.id;
  }

  it.each([
    ['http://169.254.169.254/latest/meta-data/iam/', /cloud metadata address/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata host name/],
    ['http://127.0.0.2:5432/', /127\.0\.0\.2 is a loopback address/],
    ['http://[::1]:9/', /loopback/],
    ['http://[::ffff:127.0.0.2]:9/', /loopback/],
    ['http://2130706434:9/', /loopback/],
    ['http://0x7f.0.0.2:9/', /loopback/],
    ['http://0.0.0.0:9/', /unspecified/],
    ['http://[fe80::1]/', /link-local/],
    ['gopher://10.0.0.1:70/', /http/],
  ])('refuses %s when saved, naming the rule', async (secretUrl, rule) => {
    await expect(createWebhook(t.db, masterKey, { name: 'x', secretUrl })).rejects.toThrow(rule);
  });

  it('accepts a receiver on the private network and Basic credentials in the URL', async () => {
    const hook = await createWebhook(t.db, masterKey, { name: 'lan', secretUrl: 'https://alerts:pw@10.20.30.40:9443/hook?token=abc' });
    expect(hook.host).toBe('10.20.30.40:9443');
  });

  it('the test gives one answer for a closed port, a port that speaks something else and one that never answers', async () => {
    const closed = await storedHook(`http://127.0.0.1:${await freePort()}/hook`);
    const garbage = await tcp('127.0.0.1', (s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'));
    const silent = await tcp('127.0.0.1', () => {});
    const reset = await tcp('127.0.0.1', (s) => s.resetAndDestroy());
    const ids = [closed, await storedHook(`http://127.0.0.1:${garbage.port}/`), await storedHook(`http://127.0.0.1:${silent.port}/`), await storedHook(`http://127.0.0.1:${reset.port}/`)];
    const results = await Promise.all(ids.map((id) => sendTestWebhook(t.db, masterKey, id)));
    expect(results).toEqual([NO_ANSWER, NO_ANSWER, NO_ANSWER, NO_ANSWER]);
    expect([garbage, silent, reset].map((s) => s.seen.connections)).toEqual([1, 1, 1]);
  }, 20_000);

  it('a stored URL the policy refuses gets no connection, and the answer says why', async () => {
    const target = await tcp('127.0.0.2', (s) => s.end());
    const result = await sendTestWebhook(t.db, masterKey, await storedHook(`http://127.0.0.2:${target.port}/hook/tok`));
    expect(result).toEqual({ ok: false, error: 'refused by the outbound policy: 127.0.0.2 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)' });
    expect(target.seen.connections).toBe(0);
  });

  it('a redirect is not followed', async () => {
    const elsewhere = await tcp('127.0.0.1', (s) => s.end());
    answer = 'ok';
    const redirecting = http.createServer((_req, res) => void res.writeHead(307, { location: `http://127.0.0.1:${elsewhere.port}/` }).end());
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
    servers.push(redirecting);
    const hook = await createWebhook(t.db, masterKey, { name: 'moved', secretUrl: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook` });
    expect(await sendTestWebhook(t.db, masterKey, hook.id)).toEqual({ ok: false, status: 307, error: 'HTTP 307 (redirects are not followed)' });
    expect(elsewhere.seen.connections).toBe(0);
  });
});
