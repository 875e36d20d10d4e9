import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../server/core/net/free-port';
import { startOidcProvider, type TestOidcProvider } from '../server/testing/oidc-provider';
import { launchBrowser, newContext, screenshot, startEnclave, type RunningEnclave } from './harness';

/**
 * Single sign-on through the real browser: the real product, a real OpenID provider (oidc-provider on
 * loopback) and its own login form. The role comes from the group claim; a tampered ID token and a
 * disabled account are sent back to the login page with their sentence.
 */
let enclave: RunningEnclave;
let idp: TestOidcProvider;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2e-oidc-'));
  const providersFile = path.join(dir, 'providers.json');
  // The provider needs Enclave's callback URL and Enclave the provider's issuer: the provider's port is
  // chosen first, and Enclave reads the file at its first sign-in, after both are up.
  const port = await freePort();
  const clientSecret = randomBytes(24).toString('base64url');
  fs.writeFileSync(
    providersFile,
    JSON.stringify([
      {
        id: 'corp',
        name: 'Corp SSO',
        issuer: `http://127.0.0.1:${port}`,
        clientId: 'enclave',
        clientSecret,
        scopes: 'openid email profile groups',
        roleRules: [
          { value: 'ml-admins', role: 'admin' },
          { value: 'ml-engineers', role: 'engineer' },
          { value: 'staff', role: 'user' },
        ],
      },
    ]),
  );
  enclave = await startEnclave('oidc', { ENCLAVE_OIDC_PROVIDERS_FILE: providersFile });
  idp = await startOidcProvider({
    port,
    clientSecret,
    redirectUris: [`${enclave.url}/api/auth/oidc/corp/callback`],
    accounts: {
      eve: { email: 'eve@example.test', name: 'Eve Engineer', groups: ['ml-engineers'] },
      tess: { email: 'tess@example.test', name: 'Tess', groups: ['staff'] },
      dora: { email: 'dora@example.test', name: 'Dora', groups: ['staff'] },
    },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await idp?.stop();
  await enclave?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** From Enclave's login page through the provider's own login form; resolves where the browser lands. */
async function signInWithProvider(page: Page, login: string) {
  await page.goto(`${enclave.url}/login`);
  await page.click('[data-testid=sso-corp]');
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'whatever the provider asks');
  await page.click('button[type=submit]');
  await page.waitForURL((url) => url.origin === enclave.url);
}

async function freshPage() {
  return (await newContext(browser)).newPage();
}

describe('single sign-on through an OpenID provider', () => {
  it('shows "Sign in with Corp SSO" next to the password form', async () => {
    const page = await freshPage();
    await page.goto(`${enclave.url}/login`);
    const button = page.locator('[data-testid=sso-corp]');
    await button.waitFor();
    expect(await button.textContent()).toBe('Sign in with Corp SSO');
    await expect.poll(() => page.locator('input[name=password]').count()).toBe(1);
    await screenshot(page, 'login-sso');
  });

  it('signs in on the provider’s own page and lands in Enclave with the role from the group claim', async () => {
    const page = await freshPage();
    const began = Date.now();
    await signInWithProvider(page, 'eve');
    await page.waitForSelector('[data-testid=new-chat]');
    console.log(`browser OIDC sign-in, login page click to chat page: ${Date.now() - began} ms (includes typing on the provider's form)`);
    const me = await page.evaluate(async () => (await (await fetch('/api/trpc/auth.me')).json()) as { result: { data: { json: { email: string; role: string } } } });
    expect(me.result.data.json).toMatchObject({ email: 'eve@example.test', role: 'engineer' });
    // An engineer's pages: the jobs page is in the menu, the admin's users page is not.
    await page.goto(`${enclave.url}/account`);
    await page.locator('[data-testid=manage-jobs]').waitFor();
    expect(await page.locator('[data-testid=manage-users]').count()).toBe(0);
    await screenshot(page, 'sso-engineer-signed-in');
  });

  it('refuses a tampered ID token and says so on the login page', async () => {
    const page = await freshPage();
    idp.tamper = 'signature';
    try {
      await signInWithProvider(page, 'tess');
    } finally {
      idp.tamper = null;
    }
    await page.waitForURL(/\/login\?error=token-invalid$/);
    const error = page.locator('[data-testid=login-error]');
    await error.waitFor();
    expect(await error.textContent()).toBe('The sign-in provider’s answer could not be verified (invalid token), so you were not signed in.');
    await screenshot(page, 'sso-tampered-token');
  });

  it('refuses a disabled account', async () => {
    const first = await freshPage();
    await signInWithProvider(first, 'dora');
    await first.waitForSelector('[data-testid=new-chat]');
    const db = new pg.Client({ connectionString: enclave.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE users SET disabled = true WHERE email = 'dora@example.test'`);
    } finally {
      await db.end();
    }
    const page = await freshPage();
    await signInWithProvider(page, 'dora');
    await page.waitForURL(/\/login\?error=disabled$/);
    const error = page.locator('[data-testid=login-error]');
    await error.waitFor();
    expect(await error.textContent()).toBe('Your Enclave account is disabled. Ask your administrator.');
  });
});
