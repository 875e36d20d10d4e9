import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForModel, launchBrowser, newContext, screenshot, sendAndWait, signIn, startEnclave, type RunningEnclave } from './harness';

const SECOND_EMAIL = 'bob@example.test';
// What the admin types is a one-time password: Bob replaces it at his first sign-in.
const SECOND_PASSWORD = 'tangerine-orbit-42';
const SECOND_OWN_PASSWORD = 'quiet-lantern-harbor-7';

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

  it('makes the second user change the one-time password at first sign-in, refusing a weak and a reused one', async () => {
    const bob = await (await newContext(browser)).newPage();
    await bob.goto(`${enclave.url}/login`);
    await bob.fill('input[name=email]', SECOND_EMAIL);
    await bob.fill('input[name=password]', SECOND_PASSWORD);
    await bob.click('button[type=submit]');
    await bob.waitForURL(/\/account$/);
    await bob.locator('[data-testid=must-change-password]').waitFor();
    // Every other page sends him back here until it is changed.
    await bob.goto(`${enclave.url}/settings/keys`);
    await bob.waitForURL(/\/account$/);

    const attempt = async (next: string) => {
      await bob.fill('input[name=current-password]', SECOND_PASSWORD);
      await bob.fill('input[name=new-password]', next);
      await bob.fill('input[name=repeat-password]', next);
      await bob.click('[data-testid=change-password]');
    };
    const error = bob.locator('[data-testid=password-error]');
    await attempt('password1234');
    await expect.poll(() => error.textContent()).toBe('newPassword: this password is on the list of common or leaked passwords');
    await attempt(SECOND_PASSWORD);
    await expect.poll(() => error.textContent()).toMatch(/^newPassword: must differ from your last \d+ passwords$/);
    await screenshot(bob, 'account-must-change-password');
    await attempt(SECOND_OWN_PASSWORD);
    await bob.waitForSelector('[data-testid=new-chat]');

    // His sessions: this one, marked; the admin sees the change done.
    await bob.goto(`${enclave.url}/account`);
    await bob.locator('[data-testid=session-row][data-current=true]').waitFor();
    expect(await bob.locator('[data-testid=must-change-password]').count()).toBe(0);
    await screenshot(bob, 'account-sessions');
    await bob.context().close();
  });

  it('shows sign-ins and mutations on the Audit page', async () => {
    await admin.click('[data-testid=manage-audit]');
    await admin.waitForSelector('[data-testid=audit-row]');
    expect(await admin.locator('[data-testid=audit-row]').count()).toBeGreaterThan(1);
    // The chain and the checkpoints the worker has written hold.
    await admin.click('[data-testid=audit-verify]');
    const verdict = admin.locator('[data-testid=audit-verdict]');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect(await verdict.textContent()).toMatch(/Intact: \d+ rows chained; (\d+) of \1 checkpoints match\.Latest checkpoint: /);
    await screenshot(admin, 'admin-audit');
  });

  it('names rows deleted at the end of the audit log on the Audit page', async () => {
    // As a database superuser could: switch the append-only triggers off and drop the newest rows.
    const db = new pg.Client({ connectionString: enclave.databaseUrl });
    await db.connect();
    try {
      await db.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
      await db.query('DELETE FROM audit_log WHERE id > (SELECT max(id) FROM audit_log) - 3');
      await db.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    } finally {
      await db.end();
    }
    await admin.click('[data-testid=audit-verify]');
    const verdict = admin.locator('[data-testid=audit-verdict][data-ok=false]');
    await verdict.waitFor();
    expect(await verdict.locator('[data-testid=audit-problem]').getAttribute('data-kind')).toBe('tail-deleted');
    expect(await verdict.textContent()).toMatch(/Rows were deleted at the end of the log: the checkpoint of .* saw row #\d+/);
    await screenshot(admin, 'admin-audit-tampered');
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
    await signIn(bob, enclave.url, SECOND_EMAIL, SECOND_OWN_PASSWORD);
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
    await signIn(bob, enclave.url, SECOND_EMAIL, SECOND_OWN_PASSWORD);
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

  it("runs the page's own scripts by their nonce, and no handler injected into its HTML", async () => {
    const visitor = await (await newContext(browser)).newPage();
    const response = await visitor.goto(`${enclave.url}/login`);
    const policy = response!.headers()['content-security-policy']!;
    const nonce = /script-src 'self' 'nonce-([^']+)' 'strict-dynamic'/.exec(policy)?.[1];
    expect(nonce).toBeTruthy();
    expect(policy).not.toMatch(/script-src[^;]*unsafe-inline/);
    // Every script the server rendered carries this response's nonce (one without would be blocked).
    const html = await response!.text();
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.filter((tag) => !tag.includes(`nonce="${nonce}"`))).toEqual([]);
    // And they ran: React answers the language switch.
    await visitor.selectOption('[data-testid=language-switch]', 'zh-CN');
    await expect.poll(() => visitor.getAttribute('html', 'lang')).toBe('zh-CN');
    // What injected HTML (a stored title, model output) would carry: an inline handler. It never runs.
    const injected = await visitor.evaluate(async () => {
      const w = window as unknown as { injected?: string };
      const holder = document.createElement('div');
      holder.innerHTML = '<img src="data:,x" onerror="window.injected = \'handler ran\'">';
      document.body.appendChild(holder);
      await new Promise((r) => setTimeout(r, 300));
      return w.injected ?? 'nothing ran';
    });
    expect(injected).toBe('nothing ran');
    await visitor.context().close();
  });
});
