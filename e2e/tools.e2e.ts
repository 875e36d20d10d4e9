import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startToolCallingDouble, type ToolCallingDouble } from '../server/testing/tool-calling-double';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyEnclaveSignature } from '../server/tools/signature';
import { launchBrowser, newContext, screenshot, sendAndWait, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

/**
 * Plugins through webhooks in the browser: an admin registers a tool on /admin/tools and grants it to
 * a group, then chats; the model calls the tool and the reply shows the call as a collapsible block.
 * The bundled stories260K model cannot emit tool calls, so a scripted tool-calling double (a named
 * double speaking OpenAI's streaming protocol) is deployed as an `upstream` deployment; the plugin is an
 * HTTP server in this test that verifies every request's signature and timestamp. Both listen on
 * 127.0.0.1, which this install allows through ENCLAVE_OUTBOUND_ALLOW.
 */
const SECRET = 'e2e-plugin-secret-0123456789';
let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
let engine: ToolCallingDouble;
let plugin: http.Server;
let pluginUrl: string;
const verdicts: ReturnType<typeof verifyEnclaveSignature>[] = [];
const pageErrors: string[] = [];

async function trpc(kind: 'query' | 'mutation', procedure: string, input?: unknown): Promise<any> {
  return page.evaluate(
    async ([k, p, i]) => {
      const res =
        k === 'query'
          ? await fetch(`/api/trpc/${p}${i === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(i))}`}`)
          : await fetch(`/api/trpc/${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(i ?? null) });
      const body = await res.json();
      if (!res.ok) throw new Error(`${p}: ${res.status} ${body?.error?.message}`);
      return body.result.data.json;
    },
    [kind, procedure, input] as const,
  );
}

beforeAll(async () => {
  engine = await startToolCallingDouble({ arguments: { city: 'Reykjavik' } });
  plugin = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verdict = verifyEnclaveSignature({ secret: SECRET, body, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string });
      verdicts.push(verdict);
      if (!verdict.ok) return res.writeHead(401).end(verdict.reason);
      const { arguments: args } = JSON.parse(body) as { arguments: { city: string } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ forecast: `snow in ${args.city}` }));
    });
  });
  await new Promise<void>((resolve) => plugin.listen(0, '127.0.0.1', resolve));
  pluginUrl = `http://127.0.0.1:${(plugin.address() as AddressInfo).port}/weather`;
  enclave = await startEnclave('tools', { ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1' });
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
  await waitForModel(page);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
  await engine?.close();
  await new Promise((resolve) => plugin?.close(resolve));
});

describe('tools in the browser', () => {
  it('deploys the tool-calling double as an upstream deployment, and puts the admin in a group', async () => {
    const { id } = await trpc('mutation', 'deployments.create', { name: 'tool-double', spec: { engine: 'upstream', replicas: 1, upstream: { url: `${engine.url}/v1` } } });
    // An external endpoint receives public data only until an admin says otherwise; this one is a double on this host.
    await trpc('mutation', 'dataProtection.setDeploymentPolicy', { deploymentId: id, maxLevel: 3, mode: 'allow' });
    // Tools go only to deployments marked tool-capable (the deployment page's gateway settings).
    await trpc('mutation', 'deployments.setGateway', { id, tools: true });
    await expect
      .poll(async () => ((await trpc('query', 'models.list')) as { name?: string; id?: string; ready: boolean }[]).some((m) => (m.name ?? m.id) === 'tool-double' && m.ready), { timeout: 60_000, interval: 1_000 })
      .toBe(true);
    const me = await trpc('query', 'auth.me');
    const group = await trpc('mutation', 'groups.create', { name: 'weather-fans' });
    await trpc('mutation', 'groups.addMember', { groupId: group.id, userId: me.id });
  });

  it('registers a tool on /admin/tools, reached from the admin menu, and grants it to the group', async () => {
    await page.goto(`${enclave.url}/admin/users`);
    await page.click('[data-testid=manage-tools]');
    await page.waitForSelector('[data-testid=tools-page]');
    await page.click('[data-testid=tool-new]');
    await page.fill('[data-testid=tool-name]', 'weather');
    await page.fill('[data-testid=tool-description]', 'The weather in a city');
    // The example schema in the box is a valid one with a city; the endpoint and secret are this test's.
    await page.fill('[data-testid=tool-endpoint]', pluginUrl);
    await page.fill('[data-testid=tool-secret]', SECRET);
    await page.check('[data-testid=tool-group-weather-fans]');
    await page.click('[data-testid=tool-save]');
    await page.waitForSelector('[data-testid=tool-row]');
    expect(await page.locator('[data-testid=tool-row]').textContent()).toMatch(/weather.*weather-fans/);
    // The secret is never shown again.
    expect(await page.content()).not.toContain(SECRET);
    await screenshot(page, 'tools-admin');
  });

  it('the model calls the tool in a chat, and the reply shows the call, collapsed', async () => {
    await page.goto(enclave.url);
    await waitForModel(page);
    await page.selectOption('[data-testid=model-picker]', 'tool-double');
    const replyId = await sendAndWait(page, 'What is the weather in Reykjavik?').catch(async (e: unknown) => {
      // What the product and the page said, so a failure here names its cause.
      await screenshot(page, 'tools-chat-failed');
      const log = enclave.output().split('\n').filter((l) => !l.includes('"msg":"http"') || l.includes('chat') || l.includes('/v1/'));
      throw new Error(`${String(e)}\npage errors: ${pageErrors.join(' | ')}\nengine requests: ${engine.requests.length}\n${log.slice(-40).join('\n')}`);
    });
    const reply = page.locator(`[data-message-id="${replyId}"]`);
    await expect.poll(() => reply.locator('[data-testid=message-content]').textContent()).toContain('The tool said: {"forecast":"snow in Reykjavik"}');
    const call = reply.locator('[data-testid=tool-call]');
    await expect.poll(() => call.locator('summary').textContent()).toMatch(/Tool weather · ok · \d+ ms/);
    expect(await call.locator('[data-testid=tool-call-result]').isVisible()).toBe(false);
    await call.locator('summary').click();
    expect(await call.locator('[data-testid=tool-call-arguments]').textContent()).toContain('"city": "Reykjavik"');
    expect(await call.locator('[data-testid=tool-call-result]').textContent()).toContain('"forecast": "snow in Reykjavik"');
    expect(verdicts).toEqual([{ ok: true }]);
    await screenshot(page, 'tools-chat');
    // After a reload the call is read back from the reply (its arguments and result sealed at rest).
    await page.reload();
    await expect.poll(() => page.locator(`[data-message-id="${replyId}"] [data-testid=tool-call] summary`).textContent(), { timeout: 30_000 }).toMatch(/Tool weather · ok/);
    expect(pageErrors).toEqual([]);
  });
});
