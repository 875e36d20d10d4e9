import path from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, screenshotDir, sendAndWait, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

// Two llamacpp deployments of stories260K on this machine's CPU: the bundled one, and "stories-b"
// created here. stories260K writes children's stories: these tests assert mechanics, never content.
let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
let experimentUrl = '';
const pageErrors: string[] = [];

/** Calls a tRPC procedure from inside the signed-in page (same origin, the session cookie). */
async function trpc(kind: 'query' | 'mutation', procedure: string, input?: unknown): Promise<any> {
  return page.evaluate(
    async ([k, p, i]) => {
      const res =
        k === 'query'
          ? await fetch(`/api/trpc/${p}${i === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(i))}`}`)
          : await fetch(`/api/trpc/${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(i ?? null) });
      const body = await res.json();
      if (!res.ok) throw new Error(`${p}: ${res.status} ${body?.error?.message}`);
      // Answers are superjson: the plain JSON part is enough here.
      return body.result.data.json;
    },
    [kind, procedure, input] as const,
  );
}

const fullShot = (name: string) => page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });

beforeAll(async () => {
  enclave = await startEnclave('experiments');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
  await waitForModel(page);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('A/B experiments', () => {
  it('deploys a second llamacpp deployment of stories260K', async () => {
    const catalog = await trpc('query', 'catalog.list');
    const version = catalog.find((m: { name: string }) => m.name === 'stories260K').versions[0].id;
    await trpc('mutation', 'deployments.create', { name: 'stories-b', modelVersionId: version, spec: { engine: 'llamacpp', replicas: 1 } });
    await expect
      .poll(async () => (await trpc('query', 'deployments.list')).find((d: { name: string }) => d.name === 'stories-b')?.readyReplicas ?? 0, { timeout: 120_000, interval: 1000 })
      .toBeGreaterThanOrEqual(1);
  });

  it('creates and starts an experiment over both from the form, reached from the navigation', async () => {
    await page.click('[data-testid=nav-fleet]');
    await page.click('[data-testid=manage-experiments]');
    await page.waitForURL(/\/experiments$/);
    await page.click('[data-testid=new-experiment]');
    await page.waitForSelector('[data-testid=experiment-form]');
    await page.fill('[data-testid=experiment-name]', 'stories260K');
    await expect.poll(() => page.textContent('[data-testid=experiment-problem]')).toContain('already has this name');
    await page.fill('[data-testid=experiment-name]', 'stories-ab');
    await page.selectOption('[data-testid=variant-deployment] >> nth=0', { label: 'stories260K' });
    await page.selectOption('[data-testid=variant-deployment] >> nth=1', { label: 'stories-b' });
    await screenshot(page, 'experiments-new');
    await page.click('[data-testid=experiment-submit]');
    await page.waitForURL(/\/experiments\/[0-9a-f-]{36}$/);
    experimentUrl = page.url();
    await page.waitForSelector('[data-testid=experiment-status][data-status=running]');
    expect(await page.locator('[data-testid=variant-stats-row]').count()).toBe(2);
  });

  it('chats through the experiment name and rates the reply', async () => {
    await page.goto(`${enclave.url}/`);
    // The picker lists running experiments as models (ready once an arm is).
    await page.waitForSelector('[data-testid=model-picker] option[value="stories-ab"]:not([disabled])', { state: 'attached', timeout: 60_000 });
    await page.selectOption('[data-testid=model-picker]', 'stories-ab');
    let replyId = '';
    for (const prompt of ['Tell me a story about a cat', 'And a dog', 'And a bird']) {
      try {
        replyId = await sendAndWait(page, prompt);
      } catch (err) {
        await screenshot(page, 'experiments-chat-failed');
        const db = new pg.Client({ connectionString: enclave.databaseUrl });
        await db.connect();
        const rows = await db.query('SELECT model, status, error_type, variant_id, e2e_ms FROM request_logs ORDER BY id');
        await db.end();
        throw new Error(`${(err as Error).message}\nrequest_logs: ${JSON.stringify(rows.rows)}`);
      }
    }
    const reply = page.locator(`[data-message-id="${replyId}"]`);
    await reply.locator('[data-testid=thumbs-up]').click();
    await reply.locator('[data-testid=feedback][data-rating="1"]').waitFor();
    await screenshot(page, 'experiments-chat-thumbs');
    // After a reload the thumb is still shown (it is kept on the message).
    await page.reload();
    await page.locator(`[data-message-id="${replyId}"] [data-testid=feedback][data-rating="1"]`).waitFor();
  });

  it('shows per-variant figures, the verdict with its numbers and drawn comparisons', async () => {
    await page.goto(experimentUrl);
    const rows = page.locator('[data-testid=variant-stats-row]');
    await expect
      .poll(async () => {
        const requests = await rows.evaluateAll((els) => els.reduce((n, e) => n + Number(e.getAttribute('data-requests')), 0));
        const up = await rows.evaluateAll((els) => els.reduce((n, e) => n + Number(e.getAttribute('data-up')), 0));
        return [requests, up];
      }, { timeout: 20_000 })
      .toEqual([3, 1]);
    await page.locator('[data-testid=verdict]').waitFor();
    expect(await page.textContent('[data-testid=verdict]')).toMatch(/vs stories|too early|no difference|better|worse/);
    await page.locator('[data-testid=experiment-histogram] svg').waitFor();
    expect(Number(await page.getAttribute('[data-testid=experiment-histogram]', 'data-count'))).toBe(3);
    await fullShot('experiments-detail');
  });

  it('draws latency histograms for the experiment on /latency', async () => {
    await page.click('[data-testid=manage-latency]');
    await page.waitForURL(/\/latency$/);
    await page.selectOption('[data-testid=latency-kind]', 'experiment');
    await expect.poll(() => page.getAttribute('[data-testid=latency-e2e]', 'data-count'), { timeout: 20_000 }).toBe('3');
    await page.locator('[data-testid=latency-ttft] svg').waitFor();
    expect(Number(await page.getAttribute('[data-testid=latency-itl]', 'data-count'))).toBeGreaterThan(0);
    await fullShot('latency-experiment');
    await page.selectOption('[data-testid=latency-kind]', 'deployment');
    await page.selectOption('[data-testid=latency-target]', { label: 'stories-b' });
    await page.locator('[data-testid=latency-e2e]').waitFor();
  });

  it('promotes a variant after confirming', async () => {
    await page.goto(experimentUrl);
    await page.click('[data-testid=promote-candidate]');
    await page.click('[data-testid=confirm]');
    await page.waitForSelector('[data-testid=experiment-status][data-status=promoted]');
    await screenshot(page, 'experiments-promoted');
    expect(pageErrors).toEqual([]);
  });
});
