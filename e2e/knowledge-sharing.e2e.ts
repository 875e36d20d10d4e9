import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, sendAndWait, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

// A knowledge base shared with a group from /knowledge (the same group ticks as a preset's), and picked
// in the preset form: a chat started from the preset answers from it (the header's picker counts it).
let enclave: RunningEnclave;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('kbsharing');
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('knowledge sharing and presets in the browser', () => {
  it("the owner shares a base with a group on /knowledge, and sees whom it is shared with", async () => {
    await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await waitForModel(page);
    await page.goto(`${enclave.url}/admin/groups`);
    await page.waitForSelector('[data-testid=create-group-form]');
    await page.fill('[data-testid=new-group-name]', 'support-team');
    await page.click('[data-testid=create-group]');
    await page.waitForSelector('[data-testid=group-detail]');

    await page.goto(`${enclave.url}/knowledge`);
    await page.fill('[data-testid=knowledge-name]', 'Handbook');
    await page.waitForSelector('[data-testid=knowledge-model] option[value=stories260K]', { state: 'attached' });
    await page.selectOption('[data-testid=knowledge-model]', 'stories260K');
    await page.click('[data-testid=knowledge-create] button[type=submit]');
    const base = page.locator('[data-testid=knowledge-base]', { hasText: 'Handbook' });
    await base.locator('[data-testid=knowledge-shared-with]', { hasText: 'Only you' }).waitFor();
    await base.locator('[data-testid=knowledge-sharing]').click();
    await base.locator('[data-testid=knowledge-group-support-team]').check();
    await screenshot(page, 'knowledge-sharing-form');
    await base.locator('[data-testid=knowledge-sharing-save]').click();
    await base.locator('[data-testid=knowledge-shared-with]', { hasText: 'Shared with support-team' }).waitFor();
    expect(await base.locator('[data-testid=knowledge-sharing-form]').count()).toBe(0);
    // Saved on the server: still there after a reload.
    await page.reload();
    await page.locator('[data-testid=knowledge-base]', { hasText: 'Handbook' }).locator('[data-testid=knowledge-shared-with]', { hasText: 'Shared with support-team' }).waitFor();
    await screenshot(page, 'knowledge-shared');
  });

  it('a preset picks the base; a chat started from it has the base attached', async () => {
    await page.goto(`${enclave.url}/settings/presets`);
    await page.waitForSelector('[data-testid=preset-form]');
    await page.fill('[data-testid=preset-name]', 'Support desk');
    await page.fill('[data-testid=preset-system-prompt]', 'Answer from the handbook.');
    const tick = page.locator('[data-testid=preset-kb][data-kb-name=Handbook]');
    await tick.check();
    await page.click('[data-testid=preset-submit]');
    const row = page.locator('[data-testid=preset-row]', { hasText: 'Support desk' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Knowledge: Handbook');
    // Editing shows it ticked.
    await row.locator('[data-testid=preset-edit]').click();
    await page.locator('[data-testid=preset-editing]', { hasText: 'Support desk' }).waitFor();
    expect(await tick.isChecked()).toBe(true);
    await screenshot(page, 'preset-knowledge');
    await page.click('[data-testid=preset-cancel]');

    await page.goto(`${enclave.url}/`);
    await page.waitForSelector('[data-testid=chat-empty]');
    await waitForModel(page);
    await page.selectOption('[data-testid=preset-picker]', { label: 'Support desk' });
    expect(await page.locator('[data-testid=preset-picker-knowledge]').textContent()).toBe('Knowledge: Handbook');
    await sendAndWait(page, 'Hello');
    await page.waitForFunction(() => document.querySelector('[data-testid=knowledge-picker]')?.textContent?.includes('(1)'));
    await page.click('[data-testid=knowledge-picker]');
    expect(await page.locator('[data-testid=knowledge-attach][data-kb-name=Handbook]').isChecked()).toBe(true);
    await screenshot(page, 'chat-preset-knowledge');
    expect(pageErrors).toEqual([]);
  });
});
