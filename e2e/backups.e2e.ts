import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, repoRoot, screenshot, sendAndWait, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

/**
 * Backups through the real product: a chat turn sealed by the product, `enclave backup` from the command
 * line against the running install, then a restore drill started on /admin/backups, followed to its result
 * (every table matching, the conversation decrypted, the audit chain intact), and audited.
 */
let enclave: RunningEnclave;
let browser: Browser;
let admin: Page;
const pageErrors: string[] = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2e-backups-'));
const settings = {
  ENCLAVE_MASTER_KEY: 'c0ffee'.repeat(10) + 'c0ff',
  ENCLAVE_DATA_DIR: path.join(work, 'data'),
  ENCLAVE_BACKUP_DIR: path.join(work, 'backups'),
  ENCLAVE_BACKUP_KEEP: '0',
};

beforeAll(async () => {
  enclave = await startEnclave('backups', settings);
  browser = await launchBrowser();
  admin = await (await newContext(browser)).newPage();
  admin.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
  fs.rmSync(work, { recursive: true, force: true });
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

describe('backups and restore drills in the browser', () => {
  it('a conversation, then `enclave backup` against the running install', async () => {
    await signIn(admin, enclave.url, enclave.adminEmail, enclave.adminPassword);
    await waitForModel(admin);
    await sendAndWait(admin, 'Remember the vault code 4471');
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'bin', 'enclave.mjs'), 'backup'], {
      cwd: repoRoot,
      env: { ...process.env, ...settings, DATABASE_URL: enclave.databaseUrl },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/^Backup enclave-\S+ written to /m);
  });

  it('an admin runs a drill on /admin/backups and sees it pass', async () => {
    await admin.goto(`${enclave.url}/admin/backups`);
    await expect.poll(() => admin.locator('[data-testid=backup-row]').count()).toBe(1);
    await admin.click('[data-testid=run-drill]');
    await admin.waitForSelector('[data-testid=drill-row][data-status=passed]', { timeout: 90_000 });
    const row = admin.locator('[data-testid=drill-row]').first();
    await expect.poll(() => row.textContent()).toMatch(/1 \/ 1/);
    await row.click();
    await expect.poll(() => admin.locator('[data-testid=drill-table-row]').count()).toBeGreaterThan(30);
    expect(await admin.locator('[data-testid=drill-tables] .badge-failure').count()).toBe(0);
    await screenshot(admin, 'backups-drill-passed');
    const audited = await query<{ outcome: string }>(`SELECT outcome FROM audit_log WHERE action = 'backup.drill'`);
    expect(audited).toEqual([{ outcome: 'success' }]);
    expect(pageErrors).toEqual([]);
  });
});
