import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, signIn, startEnclave, waitForModel, type RunningEnclave } from './harness';

// The product deploys stories260K from the models dir (llama.cpp on this CPU); the load test drives it
// through the product's own gateway with an internal key, started from the UI.
let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('loadtests');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
  await waitForModel(page);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('load tests', () => {
  it('runs a small load test from the UI and shows its histograms, percentiles and throughput', async () => {
    await page.goto(`${enclave.url}/loadtests`);
    await page.click('[data-testid=new-loadtest]');
    await page.waitForSelector('[data-testid=loadtest-form]');
    await page.fill('[data-testid=lt-name]', 'stories smoke');
    // The list loads after the form shows: wait for the deployment itself, not for any option.
    const storiesOption = () => page.$eval('[data-testid=lt-deployment]', (el) => [...(el as HTMLSelectElement).options].find((o) => o.text.startsWith('stories260K '))?.value ?? '');
    await expect.poll(storiesOption, { timeout: 30_000 }).not.toBe('');
    const stories = await storiesOption();
    await page.selectOption('[data-testid=lt-deployment]', stories);
    await page.fill('[data-testid=lt-concurrency]', '2');
    await page.fill('[data-testid=lt-requests]', '8');
    await page.fill('[data-testid=lt-input-tokens]', '8');
    await page.fill('[data-testid=lt-output-tokens]', '12');
    await page.fill('[data-testid=lt-slo-ttft]', '5000');
    await screenshot(page, 'loadtests-form');
    await page.click('[data-testid=lt-submit]');
    await page.waitForURL(/\/loadtests\/[0-9a-f-]{36}$/);
    expect(await page.textContent('[data-testid=loadtest-title]')).toBe('stories smoke');

    // Live progress while it runs (a small run may already be done when the page first loads).
    const live = await page
      .waitForSelector('[data-testid=loadtest-progress]', { timeout: 10_000 })
      .then(() => true)
      .catch(() => false);
    if (live) await screenshot(page, 'loadtests-running');

    await page.waitForSelector('[data-testid=loadtest-status][data-status=succeeded]', { timeout: 120_000 });
    const ttft = page.locator('[data-testid=loadtest-histogram-ttft]');
    await ttft.waitFor();
    expect(Number(await ttft.getAttribute('data-total'))).toBe(8);
    expect(await ttft.locator('[data-testid=histogram-bar]').count()).toBeGreaterThan(0);
    expect(Number(await page.getAttribute('[data-testid=loadtest-histogram-itl]', 'data-total'))).toBeGreaterThan(0);
    const table = await page.textContent('[data-testid=loadtest-percentiles]');
    expect(table).toMatch(/TTFT[\s\S]*ms/);
    expect(await page.textContent('[data-testid=loadtest-stats]')).toContain('/s');
    await screenshot(page, 'loadtests-result-top');
    await page.locator('[data-testid=loadtest-histogram-e2e]').scrollIntoViewIfNeeded();
    await screenshot(page, 'loadtests-result');

    // The CSV export is a download of every sample.
    const csv = await page.evaluate(async (href) => (await fetch(href)).text(), (await page.getAttribute('[data-testid=lt-export-csv]', 'href'))!);
    expect(csv.trim().split('\n')).toHaveLength(9);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('compares two runs with overlaid histograms', async () => {
    await page.goto(`${enclave.url}/loadtests`);
    await page.click('[data-testid=new-loadtest]');
    await page.fill('[data-testid=lt-name]', 'stories rate');
    await page.selectOption('[data-testid=lt-mode]', 'rate');
    await page.fill('[data-testid=lt-rate]', '4');
    await page.fill('[data-testid=lt-requests]', '8');
    await page.fill('[data-testid=lt-input-tokens]', '8');
    await page.fill('[data-testid=lt-output-tokens]', '12');
    await page.click('[data-testid=lt-submit]');
    await page.waitForURL(/\/loadtests\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.textContent('[data-testid=loadtest-title]')).toBe('stories rate');
    await page.waitForSelector('[data-testid=loadtest-status][data-status=succeeded]', { timeout: 120_000 });
    await page.waitForSelector('[data-testid=loadtest-histogram-ttft]');
    await page.goto(`${enclave.url}/loadtests`);
    await expect.poll(() => page.locator('[data-testid=loadtest-row]').count()).toBe(2);
    await page.locator('[data-testid=lt-pick]').nth(0).check();
    await page.locator('[data-testid=lt-pick]').nth(1).check();
    await screenshot(page, 'loadtests-list');
    await page.click('[data-testid=lt-compare]');
    await page.waitForURL(/\/loadtests\/compare\?ids=/);
    await page.waitForSelector('[data-testid=loadtest-compare-table]');
    expect(await page.locator('[data-testid=loadtest-compare-table] tbody tr').count()).toBe(2);
    const ttft = page.locator('[data-testid=loadtest-histogram-ttft]');
    expect(Number(await ttft.getAttribute('data-total'))).toBe(16);
    await screenshot(page, 'loadtests-compare');
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
