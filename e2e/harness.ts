import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freePort } from '../server/core/net/free-port';

export const repoRoot = path.resolve(import.meta.dirname, '..');
export const screenshotDir = path.join(repoRoot, 'test-results', 'screenshots');
const PG_ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const READY = /Enclave is ready on (http:\/\/\S+)/;

export interface RunningEnclave {
  url: string;
  adminEmail: string;
  adminPassword: string;
  /** The product's own database, for tests that seed recorded data the product then shows. */
  databaseUrl: string;
  /** Everything the process printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts the real product (`node bin/enclave.mjs start`) on a free port with a fresh database of
 * its own, a Redis prefix of its own and a temporary data directory, and waits for its ready line.
 * `extraEnv` adds or overrides settings (an OIDC providers file...).
 */
export async function startEnclave(label: string, extraEnv: Record<string, string> = {}): Promise<RunningEnclave> {
  const suffix = randomBytes(4).toString('hex');
  const dbName = `enclave_e2e_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${suffix}`;
  await adminQuery(`CREATE DATABASE "${dbName}"`);
  const dbUrl = new URL(PG_ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `enclave-e2e-${label}-`));
  const port = await freePort();
  const adminEmail = 'admin@example.test';
  const adminPassword = `e2e-${randomBytes(9).toString('base64url')}`;

  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'enclave.mjs'), 'start'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_PREFIX: `enclave-e2e-${label}-${suffix}`,
      ENCLAVE_DATA_DIR: dataDir,
      ENCLAVE_MODELS_DIR: path.resolve(repoRoot, 'models'),
      ENCLAVE_ADMIN_EMAIL: adminEmail,
      ENCLAVE_ADMIN_PASSWORD: adminPassword,
      ENCLAVE_SECURE_COOKIES: 'true',
      // The webhook receivers and load-test doubles the tests start listen on loopback, refused by default.
      ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1',
      // stories260K's titles are story fragments: the browser tests find conversations by their first message.
      ENCLAVE_CHAT_TITLES: 'first-message',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let output = '';
  const logFile = path.join(repoRoot, 'test-results', `enclave-${label}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.createWriteStream(logFile);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  const cleanup = async () => {
    await stopChild(child, exited);
    log.end();
    await adminQuery(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Enclave did not report ready within 6 minutes:\n${output.slice(-4000)}`)), 360_000);
      const onData = () => {
        const match = READY.exec(output);
        if (match) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve(match[1]!.replace(/\/$/, ''));
        }
      };
      child.stdout!.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`Enclave exited (code ${code}) before it was ready:\n${output.slice(-4000)}`));
      });
    });
    return { url, adminEmail, adminPassword, databaseUrl: dbUrl.toString(), output: () => output, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** SIGTERM, then wait for the ordered shutdown; SIGKILL only if it hangs (and the test fails on that). */
async function stopChild(child: ChildProcess, exited: Promise<number | null>) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
    throw new Error('Enclave did not stop within 30 s of SIGTERM');
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh browser profile (cookies, storage) at the desktop size a person would use. */
export async function newContext(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  return browser.newContext({ viewport, locale: 'en-US' });
}

export async function signIn(page: Page, baseUrl: string, email: string, password: string) {
  await page.goto(`${baseUrl}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=new-chat]');
}

/** First sign-in of a user an admin created: the one-time password is replaced by `newPassword` on /account, then the chat opens. */
export async function signInFirstTime(page: Page, baseUrl: string, email: string, oneTimePassword: string, newPassword: string) {
  await page.goto(`${baseUrl}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', oneTimePassword);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=must-change-password]');
  await page.fill('input[name=current-password]', oneTimePassword);
  await page.fill('input[name=new-password]', newPassword);
  await page.fill('input[name=repeat-password]', newPassword);
  await page.click('[data-testid=change-password]');
  await page.waitForSelector('[data-testid=new-chat]');
}

export async function screenshot(page: Page, name: string) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

/** Waits until the model picker has chosen the test model, i.e. its engine reports ready. */
export async function waitForModel(page: Page, model = 'stories260K') {
  await page.waitForFunction((name) => (document.querySelector('[data-testid=model-picker]') as HTMLSelectElement | null)?.value === name, model, {
    timeout: 120_000,
  });
}

/** Ids of the assistant replies on screen now, to tell a new reply from an old one. */
export async function assistantIds(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid=message-assistant]', (els) => els.map((e) => e.getAttribute('data-message-id') ?? ''));
}

/** Waits until an assistant reply not in `before` has been saved (server id) and finished streaming. */
export async function waitForNewReply(page: Page, before: string[]): Promise<string> {
  const handle = await page.waitForFunction(
    (known) => {
      const replies = [...document.querySelectorAll('[data-testid=message-assistant]')];
      const fresh = replies.find((e) => {
        const id = e.getAttribute('data-message-id') ?? '';
        return !known.includes(id) && !id.startsWith('local-') && e.getAttribute('data-streaming') === 'false';
      });
      return fresh?.getAttribute('data-message-id') ?? false;
    },
    before,
    { timeout: 60_000 },
  );
  return (await handle.jsonValue()) as string;
}

/** Sends one message with the composer (Enter) and waits until its reply has finished; returns the reply's id. */
export async function sendAndWait(page: Page, text: string): Promise<string> {
  const before = await assistantIds(page);
  await page.fill('[data-testid=composer-input]', text);
  await page.press('[data-testid=composer-input]', 'Enter');
  return waitForNewReply(page, before);
}
