import fs from 'node:fs';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, signIn, startEnclave, type RunningEnclave } from './harness';

/**
 * The audit page as an auditor uses it, in the real product: a failed and a good sign-in are on record;
 * filters narrow the trail; the filtered rows export as CSV (itself audited); the web's access log is one
 * JSON line per request with the route pattern and never the password; /latency draws the failure-rate view.
 */
let enclave: RunningEnclave;
let browser: Browser;
let admin: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('audit');
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

describe('the audit trail for an auditor', () => {
  it('filters sign-ins, names the actor, and exports what the filters select', async () => {
    await admin.goto(`${enclave.url}/login`);
    await admin.fill('input[name=email]', enclave.adminEmail);
    await admin.fill('input[name=password]', 'not-the-password-1');
    await admin.click('button[type=submit]');
    await admin.locator('[data-testid=login-error]').waitFor();
    await signIn(admin, enclave.url, enclave.adminEmail, enclave.adminPassword);

    await admin.goto(`${enclave.url}/admin/audit`);
    await admin.waitForSelector('[data-testid=audit-row]');
    await admin.fill('[data-testid=audit-filter-action]', 'auth.');
    await admin.click('[data-testid=audit-filter-apply]');
    await expect.poll(async () => [...new Set(await admin.locator('[data-testid=audit-row] code').allTextContents())]).toEqual(['auth.signIn']);
    await admin.selectOption('[data-testid=audit-filter-outcome]', 'failure');
    await admin.click('[data-testid=audit-filter-apply]');
    await expect.poll(() => admin.locator('[data-testid=audit-row]').count()).toBe(1);
    await screenshot(admin, 'audit-filtered');

    const [download] = await Promise.all([admin.waitForEvent('download'), admin.click('[data-testid=audit-export-csv]')]);
    const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('id,at,actor_user_id,actor,action,target,target_name,outcome,client_address,detail');
    expect(csv).toHaveLength(2);
    expect(csv[1]).toContain(',auth.signIn,');
    expect(csv[1]).toContain(',failure,');
    const exports = await query<{ detail: { rows?: number; action?: string; outcome?: string } }>(`SELECT detail FROM audit_log WHERE action = 'audit.export' AND detail ? 'rows'`);
    expect(exports.map((r) => r.detail)).toEqual([expect.objectContaining({ rows: 1, action: 'auth.', outcome: 'failure' })]);
    expect(pageErrors).toEqual([]);
  });

  it('writes one JSON access-log line per web request, with route patterns and no secret', async () => {
    await admin.goto(`${enclave.url}/latency`);
    await admin.waitForSelector('[data-testid=service-quality]');
    await screenshot(admin, 'latency-quality');
    const lines = enclave
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"msg":"http"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.some((l) => l.route === '/admin/audit' && l.status === 200 && typeof l.requestId === 'string' && typeof l.ms === 'number')).toBe(true);
    expect(lines.some((l) => l.route === '/api/audit/export' && typeof l.actor === 'string' && l.actor.startsWith('user:'))).toBe(true);
    expect(lines.some((l) => typeof l.actor === 'string' && /^user:[0-9a-f-]{36}$/.test(l.actor))).toBe(true);
    expect(enclave.output()).not.toContain(enclave.adminPassword);
    expect(enclave.output()).not.toContain('not-the-password-1');
    expect(lines.every((l) => !String(l.route).includes('?'))).toBe(true);
  });
});
