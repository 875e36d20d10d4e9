import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForModel, launchBrowser, newContext, screenshot, sendAndWait, signIn, startEnclave, type RunningEnclave } from './harness';

const SECOND_EMAIL = 'bob@example.test';
const SECOND_PASSWORD = 'bob-password-123';

let enclave: RunningEnclave;
let browser: Browser;
let admin: Page;
let adminConversationPath = '';

beforeAll(async () => {
  enclave = await startEnclave('access');
  browser = await launchBrowser();
  admin = await (await newContext(browser)).newPage();
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('accounts, roles, privacy and language', () => {
  it('shows a readable message for a wrong password', async () => {
    await admin.goto(`${enclave.url}/login`);
    await admin.fill('input[name=email]', enclave.adminEmail);
    await admin.fill('input[name=password]', 'not-the-password');
    await admin.click('button[type=submit]');
    const error = admin.locator('[data-testid=login-error]');
    await error.waitFor();
    expect(await error.textContent()).toBe('Incorrect email or password.');
    await screenshot(admin, 'login-error');
  });

  it('lets the admin create a second user from the Users page', async () => {
    await signIn(admin, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await waitForModel(admin);
    await sendAndWait(admin, 'A private note for the admin');
    adminConversationPath = new URL(admin.url()).pathname;
    expect(adminConversationPath).toMatch(/^\/c\//);

    await admin.click('[data-testid=nav-users]');
    await admin.waitForSelector('[data-testid=users-table]');
    await admin.fill('[data-testid=new-user-email]', SECOND_EMAIL);
    await admin.fill('[data-testid=new-user-password]', SECOND_PASSWORD);
    await admin.selectOption('[data-testid=new-user-role]', 'user');
    await admin.click('[data-testid=create-user]');
    await admin.locator('[data-testid=user-row]', { hasText: SECOND_EMAIL }).waitFor();
    await screenshot(admin, 'admin-users');
  });

  it('shows sign-ins and mutations on the Audit page', async () => {
    await admin.click('[data-testid=manage-audit]');
    await admin.waitForSelector('[data-testid=audit-row]');
    expect(await admin.locator('[data-testid=audit-row]').count()).toBeGreaterThan(1);
    await screenshot(admin, 'admin-audit');
  });

  it('creates an API key shown once, and revokes it', async () => {
    await admin.click('[data-testid=manage-keys]');
    await admin.waitForSelector('[data-testid=keys-table]');
    await admin.fill('[data-testid=key-name]', 'e2e key');
    await admin.click('[data-testid=create-key]');
    const key = (await admin.locator('[data-testid=new-key-value]').textContent()) ?? '';
    expect(key.length).toBeGreaterThan(20);
    const row = admin.locator('[data-testid=keys-table] tr', { hasText: 'e2e key' });
    await row.waitFor();
    // The table shows only the prefix, never the whole key.
    expect(await admin.locator('[data-testid=keys-table]').textContent()).not.toContain(key);
    await screenshot(admin, 'settings-keys');
    await row.getByRole('button').click();
    await admin.click('[data-testid=confirm]');
    await expect.poll(() => row.textContent()).toContain('Revoked');
  });

  it('gives a second user the 404 page on the first user’s conversation, and no admin pages', async () => {
    const bob = await (await newContext(browser)).newPage();
    await signIn(bob, enclave.url, SECOND_EMAIL, SECOND_PASSWORD);
    expect(await bob.locator('[data-testid=nav-users]').count()).toBe(0);
    expect(await bob.locator('[data-testid=conversation-item]').count()).toBe(0);

    const response = await bob.goto(`${enclave.url}${adminConversationPath}`);
    expect(response?.status()).toBe(404);
    await bob.waitForSelector('[data-testid=not-found]');
    expect(await bob.locator('h1').textContent()).toBe('Conversation not found');
    expect(await bob.content()).not.toContain('A private note for the admin');
    await screenshot(bob, 'not-found-second-user');

    const adminPage = await bob.goto(`${enclave.url}/admin/users`);
    expect([403, 404]).toContain(adminPage?.status());
    expect(await bob.locator('[data-testid=users-table]').count()).toBe(0);
    await bob.context().close();
  });

  it('switches to Simplified Chinese, keeps it after a reload, and translates the 404 page', async () => {
    const bob = await (await newContext(browser)).newPage();
    await signIn(bob, enclave.url, SECOND_EMAIL, SECOND_PASSWORD);
    await bob.selectOption('[data-testid=language-switch]', 'zh-CN');
    await expect.poll(() => bob.locator('[data-testid=new-chat]').textContent()).toContain('新建对话');
    expect(await bob.getAttribute('html', 'lang')).toBe('zh-CN');
    await screenshot(bob, 'chat-zh-CN');

    await bob.reload();
    await bob.waitForSelector('[data-testid=new-chat]');
    expect(await bob.locator('[data-testid=new-chat]').textContent()).toContain('新建对话');
    expect(await bob.getAttribute('html', 'lang')).toBe('zh-CN');

    await bob.goto(`${enclave.url}${adminConversationPath}`);
    await bob.waitForSelector('[data-testid=not-found]');
    expect(await bob.locator('h1').textContent()).toBe('找不到该对话');
    await screenshot(bob, 'not-found-zh-CN');
    await bob.context().close();
  });

  it('offers the language switch on the login page too', async () => {
    const visitor = await (await newContext(browser)).newPage();
    await visitor.goto(`${enclave.url}/`);
    await visitor.waitForURL(/\/login/);
    await visitor.selectOption('[data-testid=language-switch]', 'zh-CN');
    await expect.poll(() => visitor.locator('h1').textContent()).toBe('登录 Enclave');
    expect(await visitor.getAttribute('html', 'lang')).toBe('zh-CN');
    await screenshot(visitor, 'login-zh-CN');
    await visitor.context().close();
  });
});
