import { createHash } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, signIn, startEnclave, type RunningEnclave } from './harness';

let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('datasets');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

/** About 2 MB of ShareGPT rows of varied length, so the histogram has several buckets. */
function sharegptFile(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++) {
    const story = 'Once upon a time there was a little cat who liked to play. '.repeat(1 + (i % 9));
    lines.push(JSON.stringify({ conversations: [{ from: 'human', value: `Tell me story ${i}.` }, { from: 'gpt', value: `${story}The end of story ${i}.` }] }));
  }
  return Buffer.from(lines.join('\n') + '\n');
}

describe('datasets page', () => {
  it('uploads a file with a live progress bar, then shows its stats, split, histogram and preview', async () => {
    await page.goto(`${enclave.url}/datasets`);
    await page.waitForSelector('[data-testid=dataset-upload]');
    const file = sharegptFile();
    await page.setInputFiles('[data-testid=dataset-file]', { name: 'cat-stories.jsonl', mimeType: 'application/x-ndjson', buffer: file });
    await page.fill('[data-testid=dataset-heldout]', '0.2');
    const tokenizer = await page.locator('[data-testid=dataset-tokenizer] option', { hasText: 'stories260K' }).first().getAttribute('value');
    await page.selectOption('[data-testid=dataset-tokenizer]', tokenizer!);

    // A slow uplink (about 1 MB/s) so the bar is seen moving, as it would be for a large file on a real network.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
    await page.click('[data-testid=dataset-submit]');
    const progress = page.locator('[data-testid=dataset-progress]');
    await expect.poll(async () => Number(await progress.getAttribute('data-value')), { timeout: 20_000 }).toBeGreaterThan(10);
    const midway = Number(await progress.getAttribute('data-value'));
    await screenshot(page, 'datasets-uploading');
    await page.waitForSelector('[data-testid=dataset-uploaded]', { timeout: 60_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    expect(midway).toBeLessThan(100);
    expect(await page.textContent('[data-testid=dataset-uploaded]')).toContain('6000 rows');
    await page.locator('[data-testid=dataset-row][data-name=cat-stories]').waitFor();
    await screenshot(page, 'datasets-list');

    await page.click('[data-testid=dataset-uploaded-link]');
    await page.waitForSelector('[data-testid=dataset-detail]');
    expect(await page.textContent('[data-testid=stat-rows]')).toBe('6,000');
    const train = Number((await page.textContent('[data-testid=stat-train]'))!.replace(/,/g, ''));
    const heldOut = Number((await page.textContent('[data-testid=stat-heldout]'))!.replace(/,/g, ''));
    expect(train + heldOut).toBe(6000);
    expect(heldOut).toBeGreaterThan(1000);
    expect(heldOut).toBeLessThan(1400);
    expect(await page.textContent('[data-testid=dataset-tokenizer]')).toContain('stories260K');
    expect(await page.textContent('[data-testid=dataset-sha256]')).toBe(createHash('sha256').update(file).digest('hex'));
    expect(Number(await page.getAttribute('[data-testid=dataset-histogram]', 'data-total'))).toBe(6000);
    expect(await page.locator('[data-testid=dataset-histogram] [data-testid=histogram-bar]').count()).toBeGreaterThan(2);
    await page.locator('[data-testid=preview-row]').first().waitFor();
    expect(await page.locator('[data-testid=preview-row]').count()).toBe(10);
    expect(await page.locator('[data-testid=preview-row]').first().textContent()).toContain('Tell me story 0.');
    await screenshot(page, 'datasets-detail');
    await page.locator('[data-testid=dataset-preview]').scrollIntoViewIfNeeded();
    await screenshot(page, 'datasets-preview');
  });

  it('refuses a broken file and lists its bad lines by number, storing nothing', async () => {
    await page.goto(`${enclave.url}/datasets`);
    await page.locator('[data-testid=dataset-row]').first().waitFor();
    const before = await page.locator('[data-testid=dataset-row]').count();
    const good = JSON.stringify({ instruction: 'Name a cat.', output: 'Tom.' });
    const broken = [good, '{"instruction": "no output"}', good, 'not json', JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'x' }] }), good].join('\n');
    await page.setInputFiles('[data-testid=dataset-file]', { name: 'broken.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(broken) });
    await page.fill('[data-testid=dataset-name]', 'broken');
    await page.click('[data-testid=dataset-submit]');
    await page.waitForSelector('[data-testid=dataset-errors]');
    const lines = await page.locator('[data-testid=dataset-error-line]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-line'), e.textContent]));
    expect(lines.map(([line]) => line)).toEqual(['2', '4', '5']);
    expect(lines[0]![1]).toContain('missing "output"');
    expect(lines[1]![1]).toContain('invalid JSON');
    expect(lines[2]![1]).toContain('mixed formats');
    await screenshot(page, 'datasets-broken');
    await page.reload();
    await page.locator('[data-testid=dataset-row]').first().waitFor();
    expect(await page.locator('[data-testid=dataset-row]').count()).toBe(before);
  });

  it('reads in Chinese, and deletes a dataset after confirmation', async () => {
    await page.selectOption('[data-testid=language-switch]', 'zh-CN');
    await page.click('[data-testid=dataset-row][data-name=cat-stories] a');
    await page.waitForSelector('[data-testid=dataset-detail]');
    await page.locator('[data-testid=preview-row]').first().waitFor();
    expect(await page.textContent('[data-testid=dataset-stats] h2')).toBe('统计');
    await screenshot(page, 'datasets-detail-zh');
    await page.selectOption('[data-testid=language-switch]', 'en');
    await page.click('[data-testid=dataset-delete]');
    await page.click('[data-testid=confirm]');
    await page.waitForURL(/\/datasets$/);
    await page.waitForSelector('text=No datasets yet');
    expect(pageErrors).toEqual([]);
  });
});
