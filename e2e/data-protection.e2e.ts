import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, signIn, startEnclave, waitForModel, waitForNewReply, assistantIds, type RunningEnclave } from './harness';

/**
 * Data protection through the real product (issue 13): an admin tests text on /admin/data-protection
 * and makes the bundled model's deployment public-only; the chat then refuses a conversation holding an ID
 * number, saying why and keeping the typed text; in mask mode the same message goes through and the
 * conversation's badge shows it was raised to restricted.
 */
const ID = '11010519491231002X';
let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('dataprotection');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

const toasts = () => page.locator('.toast, [role=status], [role=alert]').allTextContents();

async function setPolicy(maxLevel: string, mode: string) {
  await page.goto(`${enclave.url}/admin/data-protection`);
  await page.waitForSelector('[data-testid=dp-max-stories260K]');
  await page.selectOption('[data-testid=dp-max-stories260K]', { label: maxLevel });
  await page.selectOption('[data-testid=dp-mode-stories260K]', mode);
  await page.click('[data-testid=dp-save-stories260K]');
  await expect.poll(() => page.locator('body').textContent()).toMatch(/Saved/);
}

describe('data protection in the browser', () => {
  it('an admin tests text and sees types and counts, then makes the deployment public-only', async () => {
    await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await page.goto(`${enclave.url}/admin/data-protection`);
    await page.waitForSelector('[data-testid=data-protection-page]');
    await page.fill('[data-testid=dp-test-text]', `身份证 ${ID}，电话 13800138000`);
    await page.click('[data-testid=dp-test-run]');
    await expect.poll(() => page.locator('[data-testid=dp-test-result]').textContent()).toMatch(/Level of this text: restricted/);
    expect(await page.locator('[data-testid=dp-test-row]').allTextContents()).toEqual(['Resident ID number1', 'Phone number1']);
    await screenshot(page, 'data-protection-admin');
    await setPolicy('public', 'block');
  });

  it('the chat refuses the conversation above the deployment, keeps the text and says why; masked, it goes through', async () => {
    await page.goto(enclave.url);
    await waitForModel(page);
    const input = page.locator('[data-testid=composer-input]');
    // A new conversation is internal until its owner says otherwise: refused (the gateway reloads the policy within 2 s).
    await expect
      .poll(
        async () => {
          await input.fill('hello there');
          await input.press('Enter');
          await page.waitForTimeout(1_500);
          return (await toasts()).join(' ');
        },
        { timeout: 30_000 },
      )
      .toMatch(/classified internal, above the highest level the deployment 'stories260K' may receive \(public\)/);
    expect(await input.inputValue()).toBe('hello there');

    // The owner declares it public on the header; an ID number still makes the message restricted.
    await page.selectOption('[data-testid=classification-conversation] select', { label: 'public' });
    await expect.poll(toasts).toEqual(expect.arrayContaining([expect.stringMatching(/Level set to public/)]));
    await input.fill(`my ID is ${ID}`);
    await input.press('Enter');
    await expect.poll(async () => (await toasts()).join(' ')).toMatch(/holds cn_id ×1, which makes it restricted/);
    expect(await input.inputValue()).toBe(`my ID is ${ID}`);
    await screenshot(page, 'data-protection-chat-refused');

    // In mask mode the same message is sent with the number replaced, and the badge shows the raise.
    const chatUrl = page.url();
    await setPolicy('public', 'mask');
    await page.goto(chatUrl);
    await waitForModel(page);
    const before = await assistantIds(page);
    await expect
      .poll(
        async () => {
          if ((await assistantIds(page)).length > before.length) return true;
          await input.fill(`my ID is ${ID}`);
          await input.press('Enter');
          await page.waitForTimeout(2_000);
          return (await assistantIds(page)).length > before.length;
        },
        { timeout: 30_000 },
      )
      .toBe(true);
    await waitForNewReply(page, before);
    await expect.poll(() => page.locator('[data-testid=classification-raised]').textContent()).toBe('restricted');
    await screenshot(page, 'data-protection-chat-masked');
    expect(pageErrors).toEqual([]);
  });
});
