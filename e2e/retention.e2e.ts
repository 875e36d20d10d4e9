import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, sendAndWait, signIn, signInFirstTime, startEnclave, waitForModel, type RunningEnclave } from './harness';

/**
 * Retention and erasure through the real product: an admin sets a retention policy and places a legal hold
 * on /admin/retention; erasing the held person on /admin/users is refused with the hold's reason; once the
 * hold is lifted, the erasure (the email typed again) shows its verification report, and the person's
 * rows and keys are gone from the database.
 */
let enclave: RunningEnclave;
let browser: Browser;
let admin: Page;
const pageErrors: string[] = [];
const person = { email: 'erin@example.test', oneTime: 'quiet-harbor-lantern-3', password: 'orchid-glacier-violin-7' };
const secret = `Erin's account number is 6222-${Date.now()}`;

beforeAll(async () => {
  enclave = await startEnclave('retention');
  browser = await launchBrowser();
  admin = await (await newContext(browser)).newPage();
  admin.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: enclave.databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const bodyText = (page: Page) => page.locator('body').textContent();

describe('retention and erasure in the browser', () => {
  it('a person with a conversation of their own', async () => {
    await signIn(admin, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await admin.goto(`${enclave.url}/admin/users`);
    await admin.fill('[data-testid=new-user-email]', person.email);
    await admin.fill('[data-testid=new-user-password]', person.oneTime);
    await admin.click('[data-testid=create-user]');
    await expect.poll(() => admin.locator('[data-testid=user-row]').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining(person.email)]));

    const erin = await (await newContext(browser)).newPage();
    erin.on('pageerror', (err) => pageErrors.push(err.message));
    await signInFirstTime(erin, enclave.url, person.email, person.oneTime, person.password);
    await waitForModel(erin);
    await sendAndWait(erin, secret);
    await erin.close();
    const rows = await query<{ n: number }>(`SELECT count(*)::int AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN users u ON u.id = c.user_id WHERE u.email = $1`, [person.email]);
    expect(rows[0]!.n).toBe(2);
  });

  it('an admin sets a policy and places a legal hold; erasing the held person is refused with the reason', async () => {
    await admin.goto(`${enclave.url}/admin/retention`);
    await admin.waitForSelector('[data-testid=retention-page]');
    await admin.waitForSelector('[data-testid=save-conversation-restricted]:not([disabled])');
    await admin.fill('[data-testid=keep-conversation-restricted]', '0');
    await admin.click('[data-testid=save-conversation-restricted]');
    await expect.poll(() => bodyText(admin)).toMatch(/keepDays/);
    await admin.fill('[data-testid=keep-conversation-restricted]', '30');
    await admin.click('[data-testid=save-conversation-restricted]');
    await expect.poll(() => bodyText(admin)).toMatch(/Policy saved/);

    await admin.selectOption('[data-testid=hold-person]', { label: person.email });
    await admin.fill('[data-testid=hold-reason]', 'Matter 2026-042');
    await admin.click('[data-testid=place-hold]');
    await expect.poll(() => admin.locator('[data-testid=hold-row]').allTextContents()).toEqual([expect.stringMatching(/erin@example\.test.*Matter 2026-042.*active/)]);
    await screenshot(admin, 'retention-policies-holds');

    await admin.goto(`${enclave.url}/admin/users`);
    await admin.locator('[data-testid=user-row]', { hasText: person.email }).locator('[data-testid=erase-user]').click();
    await admin.waitForSelector('[data-testid=erase-dialog]');
    // The button stays off until the email is typed exactly.
    await admin.fill('[data-testid=erase-confirm-email]', 'erin@example');
    expect(await admin.locator('[data-testid=erase-confirm]').isDisabled()).toBe(true);
    await admin.fill('[data-testid=erase-confirm-email]', person.email);
    await admin.click('[data-testid=erase-confirm]');
    await expect.poll(() => bodyText(admin)).toMatch(/under legal hold \(Matter 2026-042\); lift the hold first/);
    await admin.keyboard.press('Escape');
  });

  it('once the hold is lifted, the erasure shows its verification report and the database holds nothing of them', async () => {
    await admin.goto(`${enclave.url}/admin/retention`);
    await admin.click('[data-testid=lift-hold]');
    await admin.click('[data-testid=confirm]');
    await expect.poll(() => bodyText(admin)).toMatch(/Hold lifted/);

    await admin.goto(`${enclave.url}/admin/users`);
    await admin.locator('[data-testid=user-row]', { hasText: person.email }).locator('[data-testid=erase-user]').click();
    await admin.fill('[data-testid=erase-confirm-email]', person.email);
    await admin.click('[data-testid=erase-confirm]');
    const report = admin.locator('[data-testid=erasure-report]');
    await report.waitFor({ timeout: 30_000 });
    expect(await report.locator('[data-testid=erasure-deleted]').textContent()).toMatch(/messages 2, conversations 1, .*account 1/);
    expect(await report.locator('[data-testid=erasure-sample]').textContent()).toMatch(/no longer opens: data key \d+ does not exist/);
    expect(await report.locator('[data-testid=erasure-keys]').textContent()).toMatch(/Data keys destroyed: \d+.*; 0 of them left, 0 row\(s\) still naming them/);
    await expect.poll(() => admin.locator('[data-testid=erasure-report-row]').allTextContents()).toEqual([expect.stringMatching(/Erasure.*success/)]);
    await expect.poll(() => admin.locator('[data-testid=user-row]').allTextContents()).not.toEqual(expect.arrayContaining([expect.stringContaining(person.email)]));
    await screenshot(admin, 'erasure-report');

    expect(await query(`SELECT id FROM users WHERE email = $1`, [person.email])).toEqual([]);
    expect(await query(`SELECT id FROM data_keys WHERE owner_user_id IS NOT NULL AND owner_user_id NOT IN (SELECT id FROM users)`)).toEqual([]);
    expect(await query(`SELECT id FROM audit_log WHERE detail::text LIKE $1`, [`%${secret}%`])).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
