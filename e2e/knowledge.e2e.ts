import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, sendAndWait, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

// A knowledge base made in the browser: a Markdown document uploaded, read and embedded by the worker
// (stories260K embeddings through the gateway), attached to a chat, and the reply's source shown and opened;
// then declared confidential, and withheld (with a notice under the reply) from a model limited to internal data.
let enclave: RunningEnclave;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const GUIDE = '# Operations guide\n\n## Logistics\n\nThe main warehouse is in Rotterdam near the harbour.\n\n## Office\n\nThe office opens at half past seven.\n';

beforeAll(async () => {
  enclave = await startEnclave('knowledge');
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

/** A chat started with `first`, with the Operations base attached through the picker. */
async function newChatWithOperations(first: string) {
  await page.goto(enclave.url);
  await waitForModel(page);
  await sendAndWait(page, first);
  await page.click('[data-testid=knowledge-picker]');
  // A controlled checkbox: it shows the server's state once the attach is saved, so click and wait for the count.
  await page.click('[data-testid=knowledge-attach][data-kb-name=Operations]');
  await page.waitForFunction(() => document.querySelector('[data-testid=knowledge-picker]')?.textContent?.includes('(1)'));
}

describe('knowledge bases in the browser', () => {
  it('creates a base and uploads a Markdown document that becomes ready', async () => {
    await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await waitForModel(page);
    await page.goto(`${enclave.url}/knowledge`);
    await page.fill('[data-testid=knowledge-name]', 'Operations');
    await page.selectOption('[data-testid=knowledge-model]', 'stories260K');
    await page.click('[data-testid=knowledge-create] button[type=submit]');
    await page.waitForSelector('[data-testid=knowledge-upload]');
    await page.setInputFiles('[data-testid=knowledge-upload]', { name: 'guide.md', mimeType: 'text/markdown', buffer: Buffer.from(GUIDE) });
    await page.waitForSelector('[data-testid=knowledge-document][data-status=ready]', { timeout: 120_000 });
    await screenshot(page, 'knowledge-ready');
  });

  it('attaches it to a chat; the reply cites the document and the passage opens on click', async () => {
    await newChatWithOperations('Hello');
    const replyId = await sendAndWait(page, 'Where is the warehouse?');
    const citation = page.locator(`[data-message-id="${replyId}"] [data-testid=knowledge-citation]`).first();
    await citation.waitFor();
    await page.waitForFunction((id) => document.querySelector(`[data-message-id="${id}"] [data-testid=knowledge-citation]`)?.textContent?.includes('guide.md'), replyId);
    expect(await citation.textContent()).toContain('Operations guide › Logistics');
    await citation.click();
    expect(await page.locator(`[data-message-id="${replyId}"] [data-testid=knowledge-passage]`).textContent()).toContain('The main warehouse is in Rotterdam');
    await screenshot(page, 'knowledge-citation');
    expect(pageErrors).toEqual([]);
  });

  it("a base declared confidential: a model that may receive internal data gets none of its passages, and the reply says how many were withheld and why", async () => {
    // The owner declares the base's level on /knowledge.
    await page.goto(`${enclave.url}/knowledge`);
    const level = page.locator('[data-testid=knowledge-base]', { hasText: 'Operations' }).locator('[data-testid=knowledge-level] select');
    await level.waitFor();
    await level.selectOption({ label: 'confidential' });
    await expect.poll(() => page.locator('body').textContent()).toMatch(/Level set to confidential/);
    await screenshot(page, 'knowledge-level');
    // The admin limits stories260K to internal data (the gateway and the chat read it within seconds).
    await page.goto(`${enclave.url}/admin/data-protection`);
    await page.waitForSelector('[data-testid=dp-max-stories260K]');
    await page.selectOption('[data-testid=dp-max-stories260K]', { label: 'internal' });
    await page.selectOption('[data-testid=dp-mode-stories260K]', 'block');
    await page.click('[data-testid=dp-save-stories260K]');
    await expect.poll(() => page.locator('body').textContent()).toMatch(/Saved/);

    await newChatWithOperations('Hello again');
    const replyId = await sendAndWait(page, 'Where is the warehouse?');
    const notice = page.locator(`[data-message-id="${replyId}"] [data-testid=knowledge-withheld]`);
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/^(1 passage|\d+ passages) from confidential documents (was|were) withheld: stories260K may receive internal data at most\.$/);
    expect(await page.locator(`[data-message-id="${replyId}"] [data-testid=knowledge-citation]`).count()).toBe(0);
    await screenshot(page, 'knowledge-withheld');
    expect(pageErrors).toEqual([]);
  });
});
