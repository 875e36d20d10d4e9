import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assistantIds, launchBrowser, newContext, screenshot, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

/**
 * Quotas through the real product: an admin sets a daily token budget for every user on /admin/quotas,
 * the chat's meter shows it being used, and once it is spent the next turn is refused with a message
 * naming the limit, the account and when it resets. Then groups on /admin/groups: a deployment granted
 * to a group leaves the model picker of everyone outside it, and comes back once the admin joins.
 */
let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('quotas');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

/** Sends one message and waits for its reply to finish, or for the quota's refusal. */
async function sendTurn(text: string) {
  const before = await assistantIds(page);
  await page.fill('[data-testid=composer-input]', text);
  await page.press('[data-testid=composer-input]', 'Enter');
  await page.waitForFunction(
    (known) =>
      document.querySelector('[data-testid=quota-message]') !== null ||
      [...document.querySelectorAll('[data-testid=message-assistant]')].some((e) => {
        const id = e.getAttribute('data-message-id') ?? '';
        return !known.includes(id) && !id.startsWith('local-') && e.getAttribute('data-streaming') === 'false';
      }),
    before,
    { timeout: 60_000 },
  );
}

describe('quotas in the browser', () => {
  it('an admin sets a daily token budget for every user', async () => {
    await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await page.goto(`${enclave.url}/admin/quotas`);
    await page.waitForSelector('[data-testid=quotas-page]');
    // The form fills itself from the saved quotas once they load: typing before that is overwritten.
    await page.waitForSelector('[data-testid=quota-default_user] button[type=submit]:not([disabled])');
    // A refused value names its field.
    await page.fill('[data-testid=default_user-tokensPerDay]', '-5');
    await page.click('[data-testid=quota-default_user] button[type=submit]');
    await expect.poll(() => page.locator('.toast, [role=status], [role=alert]').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/tokensPerDay/)]));
    await page.fill('[data-testid=default_user-tokensPerDay]', '40');
    await page.click('[data-testid=quota-default_user] button[type=submit]');
    await expect.poll(() => page.locator('body').textContent()).toMatch(/Quota saved/);
    await screenshot(page, 'quotas-admin');
  });

  it('the chat shows the meter, then the message when the budget is spent', async () => {
    await page.goto(enclave.url);
    await waitForModel(page);
    // The meter reads the saved quota at once; the gateways reload quota rows every 2 s, so a turn sent
    // sooner is not yet held to it. Turns go on until one is refused; by then the meter shows the spend.
    await expect.poll(() => page.locator('[data-testid=quota-meter]').textContent(), { timeout: 30_000 }).toMatch(/Today: 0 of 40 tokens/);
    let refused = false;
    for (let turn = 0; turn < 6 && !refused; turn++) {
      await sendTurn('Tell me a story about a cat');
      refused = (await page.locator('[data-testid=quota-message]').count()) > 0;
    }
    const message = page.locator('[data-testid=quota-message]');
    await message.waitFor({ timeout: 30_000 });
    await expect.poll(async () => Number(/Today: ([\d,]+) of 40/.exec((await page.locator('[data-testid=quota-meter]').textContent()) ?? '')?.[1]?.replace(/,/g, '') ?? 0), { timeout: 30_000 }).toBeGreaterThan(40);
    expect(await message.textContent()).toMatch(/You have reached a quota\. Quota reached: tokens per day for user admin@example\.test: \d+ used of 40; resets at \d{4}-\d\d-\d\dT00:00:00Z/);
    await screenshot(page, 'quotas-chat-refused');
    expect(pageErrors).toEqual([]);
  });

  it('a deployment granted to a group leaves the picker of everyone outside it', async () => {
    const options = () => page.locator('[data-testid=model-picker] option').allTextContents();
    await page.goto(`${enclave.url}/admin/groups`);
    await page.waitForSelector('[data-testid=create-group-form]');
    await page.fill('[data-testid=new-group-name]', 'ml-team');
    await page.click('[data-testid=create-group]');
    // Created groups open for managing at once.
    await page.waitForSelector('[data-testid=group-detail]');
    await page.waitForSelector('[data-testid=group-grant-deployment] option:has-text("stories260K")', { state: 'attached' });
    await page.selectOption('[data-testid=group-grant-deployment]', { label: 'stories260K' });
    await page.click('[data-testid=group-grant-submit]');
    await page.waitForSelector('[data-testid=group-grant]:has-text("stories260K")');

    await page.goto(enclave.url);
    await expect.poll(async () => (await options()).join(','), { timeout: 30_000 }).not.toMatch(/stories260K/);

    await page.goto(`${enclave.url}/admin/groups`);
    await page.click('[data-testid=manage-group]');
    await page.waitForSelector(`[data-testid=group-add-member] option:has-text("${enclave.adminEmail}")`, { state: 'attached' });
    await page.selectOption('[data-testid=group-add-member]', { label: enclave.adminEmail });
    await page.click('[data-testid=group-add-member-submit]');
    await page.waitForSelector(`[data-testid=group-member]:has-text("${enclave.adminEmail}")`);
    await expect.poll(() => page.locator('[data-testid=group-row]').first().textContent()).toMatch(/ml-team.*1.*stories260K/);
    await screenshot(page, 'groups-admin');

    await page.goto(enclave.url);
    await waitForModel(page);
    expect(pageErrors).toEqual([]);
  });
});
